"""Keeps the station-mode Wi-Fi link up: join, notice a drop, rejoin with back-off.

`network.WLAN.connect()` returns at once on the device; this module polls `isconnected()` from
its own task and gives up on a join after a timeout, so nothing here blocks the loop. The WLAN
object comes in as an argument (the host twin on a PC).

Joins can be held (`hold(True)`, by setup mode while a phone is on the dongle's access point):
the ESP32 has one radio, and a station scanning for a lost network hops channels and drops the
phones from the access point. Held, no join starts, and a join under way (or the driver's own
reconnecting after a drop) is stopped; a link that is up stays up.
"""

import sys

import log
from backoff import Backoff
from compat import ticks_ms


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
        """One pass of the keeper's state machine; joining is in wifijoin.py, which is in the
        heap only while the link is down."""
        if self.wlan.isconnected():
            if not self.up:
                self.up = True
                self._joining_since = None
                self.backoff.reset()
                log.info("wifi", "connected to {} as {}", self.ssid, self.wlan.ifconfig()[0])
                sys.modules.pop("wifijoin", None)  # up: the joining code leaves the heap
            return
        import wifijoin

        wifijoin.step(self, self._clock())

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

    def rssi(self):
        """Signal strength in dBm, or None when not connected."""
        if not self.up:
            return None
        try:
            return self.wlan.status("rssi")
        except (ValueError, OSError):
            return None
