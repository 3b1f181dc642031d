"""Host twin of MicroPython's `network` module: a station WLAN that "connects" at once.

Why: the Wi-Fi keeper in the firmware drives `network.WLAN`, which a PC lacks. The PC is already
on a network, so this twin only keeps the state machine honest: `connect()` makes `isconnected()`
true, `disconnect()` makes it false. Runs in MicroPython (unix port) and CPython alike.

The link can be dropped, to exercise the reconnect path: in the same process with
`WLAN.link_up = False`; from outside it (a test driving the interpreter) by creating the file
named by the environment variable `HANPORT_WLAN_DOWN` - the link is down while that file exists.
A test's DNS (and mDNS) responder on 127.0.0.1 is named by its port in `HANPORT_DNS_PORT`.
"""

import os

_DOWN_FILE = os.getenv("HANPORT_WLAN_DOWN")
_DNS_PORT = os.getenv("HANPORT_DNS_PORT")


def _link():
    if not WLAN.link_up:
        return False
    if _DOWN_FILE:
        try:
            os.stat(_DOWN_FILE)
            return False
        except OSError:
            pass
    return True

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_WRONG_PASSWORD = 202
STAT_NO_AP_FOUND = 201


class WLAN:
    link_up = True  # class-wide switch for tests: False takes the access point away
    _connected = False  # joined or joining: up whenever the link is there, as on the chip
    # The DNS server (ifconfig()[3]) answers on this port of 127.0.0.1, for tests that run a
    # responder there (and its mDNS too); None: there is none, names go to getaddrinfo.
    dns_port = int(_DNS_PORT) if _DNS_PORT else None
    mdns = ("127.0.0.1", dns_port) if dns_port else None  # not the multicast group

    def __init__(self, interface=STA_IF):
        self.interface = interface
        self.stations = []  # access point: the (mac,) of each phone joined to it
        self._active = False
        self.connects = 0
        self._config = {"mac": b"\x02\x00\x00\x00\x00\x01", "hostname": "hanport", "ssid": ""}

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        return None

    def connect(self, ssid=None, key=None, **kwargs):
        self.connects += 1
        self._config["ssid"] = ssid or ""
        WLAN._connected = self._active

    def disconnect(self):
        WLAN._connected = False

    def isconnected(self):
        return WLAN._connected and _link()

    def status(self, param=None):
        if param == "rssi":
            return -55
        if param == "stations":
            return list(self.stations)
        return STAT_GOT_IP if self.isconnected() else STAT_IDLE

    def ifconfig(self, *args):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, *args, **kwargs):
        if args:
            return self._config.get(args[0])
        self._config.update(kwargs)
        return None
