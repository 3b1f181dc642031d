"""Setup mode's watch: when to open the dongle's own Wi-Fi access point (setupmode.py opens it).

Why: a dongle without Wi-Fi credentials (or whose network is gone) is unreachable, and the user
has no USB cable at the meter. Setup mode opens an access point named `hanport-XXXXXX` (the last
six hex digits of the chip id, so two dongles never clash) with the password `AP_PASSWORD`,
answers every DNS question with the access point's address (dnsd.py) and lets the HTTP side
redirect the phones' connectivity checks to the settings page.

This module is what every dongle keeps: it decides, each pass, whether setup mode is due:
  - "no_wifi": no network is configured;
  - "button": the setup button is held for `HOLD_MS` while running (pressed in the first seconds
    after power-on means safe mode, which leaves the REPL free; see hw.safe_mode_asked);
  - "wifi_failed": the configured network has not been joined for `GIVE_UP_MS`.
Opening, closing, the DNS responder, the phones on the access point and the captive redirects
are setupmode.py's, imported only while setup mode is open and dropped when it closes. The AP
object and the button come in as arguments (hw.py, or the host twin of `network`).
"""

from compat import const, ticks_diff, ticks_ms

AP_PASSWORD = "hanport-setup"  # documented in README.md; WPA2 needs 8 characters or more
HOLD_MS = const(3000)
GIVE_UP_MS = const(180000)
LINGER_MS = const(60000)
_CLOSED_PERIOD_MS = const(250)

DNS_HOST = "0.0.0.0"  # the host launcher points these at 127.0.0.1 and a free port
DNS_PORT = 53


def ap_ssid(device_id):
    return "hanport-{}".format(device_id[-6:])


class Portal:
    def __init__(self, ap, wifi, device_id, button=None, clock=ticks_ms, dns_socket=None):
        self.ap = ap
        self.wifi = wifi
        self.button = button
        self.ssid = ap_ssid(device_id)
        self._clock = clock
        self._dns_socket = dns_socket  # None: setupmode.py opens UDP port DNS_PORT
        self.dns = None
        self.open = False
        self.reason = None
        self.ip = None
        self.netmask = None  # with ip: which clients are on the access point (web/routes.py)
        self.opens = 0
        self._last_up = clock()
        self._pressed_since = None
        self._up_since = None
        self._phones_at = None
        self.phones = 0  # stations on the access point at the last look

    def step(self):
        """One pass: decide whether setup mode is due; while open, setupmode.py's pass."""
        now = self._clock()
        reason = None
        if not self.wifi.ssid:
            reason = "no_wifi"
        if self.button is not None and self.button.pressed():
            if self._pressed_since is None:
                self._pressed_since = now
            elif ticks_diff(now, self._pressed_since) >= HOLD_MS:
                reason = reason or "button"
        else:
            self._pressed_since = None
        if self.wifi.up:
            self._last_up = now
        elif ticks_diff(now, self._last_up) >= GIVE_UP_MS:
            reason = reason or "wifi_failed"
        if reason or self.open:
            from web import setupmode  # loaded while setup mode is open

            return setupmode.step(self, now, reason)
        return _CLOSED_PERIOD_MS
