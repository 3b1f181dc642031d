"""Setup mode: the dongle's own Wi-Fi access point, so a new dongle is set up from a phone.

Why: a dongle without Wi-Fi credentials (or whose network is gone) is unreachable, and the user
has no USB cable at the meter. Setup mode opens an access point named `hanport-XXXXXX` (the last
six hex digits of the chip id, so two dongles never clash) with the password `AP_PASSWORD`,
answers every DNS question with the access point's address (dnsd.py) and lets the HTTP side
redirect the phones' connectivity checks (`PROBES`) to the settings page.

While it is open and a phone is on the access point, the station's joins are held (wifi.py):
the one radio scanning for a lost network would drop the phone. With no phone on it, the station
goes on trying, so a network that comes back closes setup mode by itself.

When it opens (checked every pass):
  - "no_wifi": no network is configured;
  - "button": the setup button is held for `HOLD_MS` while running (pressed in the first seconds
    after power-on means safe mode, which leaves the REPL free; see hw.safe_mode_asked);
  - "wifi_failed": the configured network has not been joined for `GIVE_UP_MS`.
It closes again only for "wifi_failed", once the station has been up for `LINGER_MS`; the other
two last until the restart that applies the new settings. The AP object and the button come in
as arguments (hw.py, or the host twin of `network`). The DNS responder is imported only when
setup mode opens.
"""

import log
from compat import const, ticks_diff, ticks_ms

AP_PASSWORD = "hanport-setup"  # documented in README.md; WPA2 needs 8 characters or more
HOLD_MS = const(3000)
GIVE_UP_MS = const(180000)
LINGER_MS = const(60000)
_AUTH_WPA2_PSK = const(3)  # network.AUTH_WPA2_PSK on the ESP32
_OPEN_PERIOD_MS = const(50)  # DNS answers come from polling; phones retry after about 1 s
_CLOSED_PERIOD_MS = const(250)
_PHONES_MS = const(1000)  # how often the access point is asked for its stations

DNS_HOST = "0.0.0.0"  # the host launcher points these at 127.0.0.1 and a free port
DNS_PORT = 53

# Connectivity checks: Android, Apple, Windows, Firefox, and a few other Linux desktops.
PROBES = (
    "/generate_204",
    "/gen_204",
    "/hotspot-detect.html",
    "/library/test/success.html",
    "/connecttest.txt",
    "/ncsi.txt",
    "/redirect",
    "/canonical.html",
    "/success.txt",
    "/check_network_status.txt",
)


def ap_ssid(device_id):
    return "hanport-{}".format(device_id[-6:])


def _dns_socket():
    import socket  # here, not at the top: only setup mode needs it (and the test VM lacks it)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((DNS_HOST, DNS_PORT))
    sock.setblocking(False)
    return sock


class Portal:
    def __init__(self, ap, wifi, device_id, button=None, clock=ticks_ms, dns_socket=_dns_socket):
        self.ap = ap
        self.wifi = wifi
        self.button = button
        self.ssid = ap_ssid(device_id)
        self._clock = clock
        self._dns_socket = dns_socket
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
        """One pass: decide whether setup mode is due, and answer waiting DNS queries."""
        now = self._clock()
        reason = self._reason(now)
        if reason and not self.open:
            self._open(reason)
        elif self.open and self.reason == "wifi_failed" and self.wifi.up:
            if self._up_since is None:
                self._up_since = now
            elif ticks_diff(now, self._up_since) >= LINGER_MS:
                self._close()
        last = self._phones_at
        if self.open and (last is None or ticks_diff(now, last) >= _PHONES_MS):
            self._phones_at = now
            self.phones = self._stations()
            self.wifi.hold(self.phones > 0)
        if self.dns is not None:
            self.dns.poll()
            return _OPEN_PERIOD_MS
        return _CLOSED_PERIOD_MS

    def _stations(self):
        try:
            return len(self.ap.status("stations"))
        except (ValueError, OSError, TypeError):  # a port that cannot tell: never hold
            return 0

    def _reason(self, now):
        if not self.wifi.ssid:
            return "no_wifi"
        if self.button is not None and self.button.pressed():
            if self._pressed_since is None:
                self._pressed_since = now
            elif ticks_diff(now, self._pressed_since) >= HOLD_MS:
                return "button"
        else:
            self._pressed_since = None
        if self.wifi.up:
            self._last_up = now
        elif ticks_diff(now, self._last_up) >= GIVE_UP_MS:
            return "wifi_failed"
        return None

    def _open(self, reason):
        self.ap.active(True)
        self.ap.config(ssid=self.ssid, key=AP_PASSWORD, security=_AUTH_WPA2_PSK)
        self.ip, self.netmask = self.ap.ifconfig()[:2]
        self.open = True
        self.reason = reason
        self.opens += 1
        self._up_since = None
        try:
            from web.dnsd import DNSResponder  # only setup mode needs it

            self.dns = DNSResponder(self._dns_socket(), self.ip)
        except OSError as exc:  # the page still works by address without DNS
            log.error("setup", "no DNS responder: {!r}", exc)
        log.warning(
            "setup", "setup mode ({}): access point {} at http://{}/", reason, self.ssid, self.ip
        )

    def _close(self):
        if self.dns is not None:
            self.dns.close()
            self.dns = None
        self.ap.active(False)
        self.open = False
        self.phones = 0
        self._phones_at = None
        self.wifi.hold(False)
        log.info("setup", "joined {}; access point {} closed", self.wifi.ssid, self.ssid)
        self.reason = None

    def info(self):
        return {
            "setup_mode": self.open,
            "setup_reason": self.reason,
            "ap_ssid": self.ssid if self.open else None,
            "dns_answered": self.dns.answered if self.dns is not None else 0,
        }
