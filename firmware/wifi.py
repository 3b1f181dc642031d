"""Keeps the station-mode Wi-Fi link up: join, notice a drop, rejoin with back-off.

`network.WLAN.connect()` returns at once on the device; this module polls `isconnected()` from
its own task and gives up on a join after a timeout, so nothing here blocks the loop. The WLAN
object comes in as an argument (the host twin on a PC).

Joins can be held (`hold(True)`, by setup mode while a phone is on the dongle's access point):
the ESP32 has one radio, and a station scanning for a lost network hops channels and drops the
phones from the access point. Held, no join starts, and a join under way (or the driver's own
reconnecting after a drop) is stopped; a link that is up stays up.
"""

import log
from backoff import Backoff
from compat import const, ticks_add, ticks_diff, ticks_ms

_JOIN_TIMEOUT_MS = const(20000)


class WiFi:
    def __init__(self, wlan, ssid, password="", hostname="", clock=ticks_ms, backoff=None):
        self.wlan = wlan
        self.ssid = ssid
        self.password = password
        self.hostname = hostname
        self._clock = clock
        self.backoff = backoff or Backoff(2000, 60000)
        self.up = False
        self.joins = 0
        self.drops = 0
        self.failures = 0
        self._joining_since = None
        self._next_try = None
        self._told_no_ssid = False
        self.held = False
        self._stopped = False  # held, and the driver told to stop joining

    def step(self):
        """One pass of the keeper's state machine."""
        now = self._clock()
        if self.wlan.isconnected():
            if not self.up:
                self.up = True
                self._joining_since = None
                self.backoff.reset()
                log.info("wifi", "connected to {} as {}", self.ssid, self.wlan.ifconfig()[0])
            return
        if self.up:
            self.up = False
            self.drops += 1
            log.warning("wifi", "link to {} lost; rejoining", self.ssid)
        if self.held:
            if not self._stopped:
                self._stopped = True
                self._joining_since = None
                self.wlan.disconnect()  # also ends the driver's own reconnecting
            return
        if not self.ssid:
            if not self._told_no_ssid:
                self._told_no_ssid = True
                log.error("wifi", "wifi.ssid is not set; run `make config WIFI_SSID=...`")
            return
        if self._joining_since is not None:
            if ticks_diff(now, self._joining_since) < _JOIN_TIMEOUT_MS:
                return
            self._joining_since = None
            self.failures += 1
            delay = self.backoff.fail()
            self._next_try = ticks_add(now, delay)
            log.warning(
                "wifi",
                "could not join {} (status {}); retry in {} s",
                self.ssid,
                self.wlan.status(),
                delay // 1000,
            )
            self.wlan.disconnect()
            return
        if self._next_try is not None and ticks_diff(now, self._next_try) < 0:
            return
        self._join(now)

    def hold(self, held):
        """Hold joins (True) or let them go on (False); released, the next join starts at once."""
        if held == self.held:
            return
        self.held = held
        self._stopped = False
        if held:
            log.info("wifi", "joins to {} held while a phone uses the access point", self.ssid)
        else:
            self._next_try = None

    def _join(self, now):
        self.wlan.active(True)
        if self.hostname:
            try:
                self.wlan.config(hostname=self.hostname)
            except (ValueError, OSError):  # older firmware has no hostname setting
                pass
        # After a drop the ESP32 driver is already reconnecting by itself, and a second
        # connect() then raises "Wifi Internal Error": stop it first, and count a refusal as a
        # failed join with back-off rather than an error every pass.
        self.wlan.disconnect()
        self.joins += 1
        try:
            self.wlan.connect(self.ssid, self.password)
        except OSError as exc:
            self.failures += 1
            delay = self.backoff.fail()
            self._next_try = ticks_add(now, delay)
            log.warning("wifi", "join {} refused ({!r}); retry in {} s", self.ssid, exc, delay // 1000)
            return
        self._joining_since = now

    def rssi(self):
        """Signal strength in dBm, or None when not connected."""
        if not self.up:
            return None
        try:
            return self.wlan.status("rssi")
        except (ValueError, OSError):
            return None
