"""Setup mode while it is open: the access point, its DNS responder, the phones on it, and the
redirects of the phones' connectivity checks to the settings page.

Why a module of its own: a dongle on its home network never opens setup mode, so this code is
imported by portal.py only when setup mode opens and dropped (with dnsd.py) when it closes;
nothing else keeps a reference to it.

While it is open and a phone is on the access point, the station's joins are held (wifi.py):
the one radio scanning for a lost network would drop the phone. With no phone on it, the station
goes on trying, so a network that comes back closes setup mode by itself. It closes only for
"wifi_failed", once the station has been up for `LINGER_MS`; "no_wifi" and "button" last until
the restart that applies the new settings.
"""

import log
import web
from compat import const, ticks_diff
from web import portal as _portal

_AUTH_WPA2_PSK = const(3)  # network.AUTH_WPA2_PSK on the ESP32
_OPEN_PERIOD_MS = const(50)  # DNS answers come from polling; phones retry after about 1 s
_CLOSED_PERIOD_MS = const(250)
_PHONES_MS = const(1000)  # how often the access point is asked for its stations

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


def step(p, now, reason):
    """One pass of portal `p` with setup mode due (`reason`) or open; the next period in ms."""
    if reason and not p.open:
        _open(p, reason)
    elif p.open and p.reason == "wifi_failed" and p.wifi.up:
        if p._up_since is None:
            p._up_since = now
        elif ticks_diff(now, p._up_since) >= _portal.LINGER_MS:
            _close(p)
            return _CLOSED_PERIOD_MS
    last = p._phones_at
    if p.open and (last is None or ticks_diff(now, last) >= _PHONES_MS):
        p._phones_at = now
        try:
            p.phones = len(p.ap.status("stations"))
        except (ValueError, OSError, TypeError):  # a port that cannot tell: never hold
            p.phones = 0
        p.wifi.hold(p.phones > 0)
    if p.dns is not None:
        p.dns.poll()
        return _OPEN_PERIOD_MS
    return _CLOSED_PERIOD_MS


def _dns_socket():
    import socket  # only setup mode needs it (and the test VM lacks it)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((_portal.DNS_HOST, _portal.DNS_PORT))
    sock.setblocking(False)
    return sock


def _open(p, reason):
    p.ap.active(True)
    p.ap.config(ssid=p.ssid, key=_portal.AP_PASSWORD, security=_AUTH_WPA2_PSK)
    p.ip, p.netmask = p.ap.ifconfig()[:2]
    p.open = True
    p.reason = reason
    p.opens += 1
    p._up_since = None
    try:
        from web.dnsd import DNSResponder

        p.dns = DNSResponder((p._dns_socket or _dns_socket)(), p.ip)
    except OSError as exc:  # the page still works by address without DNS
        log.error("setup", "no DNS responder: {!r}", exc)
    log.warning("setup", "setup mode ({}): access point {} at http://{}/", reason, p.ssid, p.ip)


def _close(p):
    if p.dns is not None:
        p.dns.close()
        p.dns = None
    p.ap.active(False)
    p.open = False
    p.phones = 0
    p._phones_at = None
    p.wifi.hold(False)
    log.info("setup", "joined {}; access point {} closed", p.wifi.ssid, p.ssid)
    p.reason = None
    web.drop("dnsd")
    web.drop("setupmode")  # portal.py imports it again if setup mode reopens


def captive(web, req):
    """Is this a connectivity check, or a request for a name not ours?"""
    if req.path in PROBES:
        return True
    host = req.host.split(":")[0]
    if not host or host == web.hostname:
        return False
    parts = host.split(".")
    return not (len(parts) == 4 and all(x.isdigit() for x in parts))


async def redirect(web, resp):
    port = "" if web.port == 80 else ":{}".format(web.port)
    where = "http://{}{}/settings".format(web.portal.ip, port)
    await resp.send(302, "setup: {}\n".format(where), headers=(("Location", where),))
