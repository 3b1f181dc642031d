"""The Wi-Fi keeper's joining (wifi.py): notice a drop, join, time out, back off.

wifi.WiFi.step() imports this while the link is down and drops it once the link is up, so none
of this code is in the heap while the dongle is online.
"""

import log
from compat import const, ticks_add, ticks_diff

_JOIN_TIMEOUT_MS = const(20000)


def step(wifi, now):
    """WiFi.step() while wifi.wlan is not connected."""
    if wifi.up:
        wifi.up = False
        wifi.drops += 1
        log.warning("wifi", "link to {} lost; rejoining", wifi.ssid)
    if wifi.held:
        if not wifi._stopped:
            wifi._stopped = True
            wifi._joining_since = None
            wifi.wlan.disconnect()  # also ends the driver's own reconnecting
        return
    if not wifi.ssid:
        if not wifi._told_no_ssid:
            wifi._told_no_ssid = True
            log.error("wifi", "wifi.ssid is not set; run `make config WIFI_SSID=...`")
        return
    if wifi._joining_since is not None:
        if ticks_diff(now, wifi._joining_since) < _JOIN_TIMEOUT_MS:
            return
        wifi._joining_since = None
        wifi.failures += 1
        delay = wifi.backoff.fail()
        wifi._next_try = ticks_add(now, delay)
        log.warning(
            "wifi",
            "could not join {} (status {}); retry in {} s",
            wifi.ssid,
            wifi.wlan.status(),
            delay // 1000,
        )
        wifi.wlan.disconnect()
        return
    if wifi._next_try is not None and ticks_diff(now, wifi._next_try) < 0:
        return
    _join(wifi, now)


def _join(wifi, now):
    wifi.wlan.active(True)
    if wifi.hostname:
        try:
            wifi.wlan.config(hostname=wifi.hostname)
        except (ValueError, OSError):  # older firmware has no hostname setting
            pass
    # After a drop the ESP32 driver is already reconnecting by itself, and a second
    # connect() then raises "Wifi Internal Error": stop it first, and count a refusal as a
    # failed join with back-off rather than an error every pass.
    wifi.wlan.disconnect()
    wifi.joins += 1
    try:
        wifi.wlan.connect(wifi.ssid, wifi.password)
    except OSError as exc:
        wifi.failures += 1
        delay = wifi.backoff.fail()
        wifi._next_try = ticks_add(now, delay)
        log.warning("wifi", "join {} refused ({!r}); retry in {} s", wifi.ssid, exc, delay // 1000)
        return
    wifi._joining_since = now
