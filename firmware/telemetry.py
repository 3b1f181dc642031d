"""What the dongle knows about itself, gathered in one place.

The MQTT diagnostics message, GET /api/v1/status and GET /metrics all render these two dicts,
so a counter added here shows up in all three:
  counters  numbers that only grow (frames, rejects, reconnects, drops, HTTP refusals, ...)
  gauges    numbers for now (uptime, free heap, Wi-Fi signal, connected or not)
and `notes`, short texts that say what to do (wrong line settings, a stalled task, an update
rolled back), which the diagnostics and the status carry but metrics, being numbers, do not;
the diagnostics and the status also carry the firmware version.
Each fact is read from the part that owns it; nothing here keeps state of its own.
"""

from compat import mem_free
from version import VERSION


def counters(app):
    out = app.reader.stats.as_dict()
    out["bytes_in"] = app.source.bytes_in
    out["uart_buffer_full"] = app.source.rx_full
    out["reading_errors"] = app.reading_errors
    out["line_searches"] = app.line_searches
    out["line_save_errors"] = app.line_save_errors
    out["meter_readings"] = app.meter.readings
    out["meter_changes"] = app.meter.changes
    out["task_errors"] = sum(app.health.task_errors.values())
    out["unreported_errors"] = app.health.unreported
    out["watchdog_starved"] = app.health.starved
    out["wifi_drops"] = app.wifi.drops
    out["wifi_failures"] = app.wifi.failures
    pub = app.publisher
    if pub is not None:
        out["published"] = pub.published
        out["superseded"] = pub.superseded
        out["mqtt_lost"] = pub.lost  # QoS 0 readings in a session that died unconfirmed
        out["mqtt_resent"] = pub.resent  # energy totals sent again for Home Assistant
        out["mqtt_connects"] = pub.connects
        out["mqtt_failures"] = pub.failures
        out["mqtt_oversized_messages"] = pub.oversized_messages
        if pub.discovery is not None:
            out["discovery_overflows"] = pub.discovery.overflows
    if app.energy is not None:
        app.energy.add_counters(out)
    if app.web is not None:
        app.web.add_counters(out)
    return out


def gauges(app, out=None):
    """The gauges, added to `out` when given (no second dict for the diagnostics)."""
    pub = app.publisher
    if out is None:
        out = {}
    out["uptime_s"] = app.health.uptime_s()
    out["mem_free"] = mem_free()
    out["wifi_rssi"] = app.wifi.rssi()
    out["wifi_connected"] = 1 if app.wifi.up else 0
    out["mqtt_connected"] = 1 if pub is not None and pub.connected else 0
    if app.web is not None:
        app.web.add_gauges(out)
    return out


def notes(app, out=None):
    """The notes, added to `out` when given."""
    if out is None:
        out = {}
    out["line_hint"] = app.line_hint
    out["uart_line"] = app.line_status()
    out["stalled_task"] = app.health.stalled
    out["update"] = app.update_note  # on trial, confirmed, or rolled back and why (trial.py)
    return out


def diagnostics(app):
    """The flat dict of the MQTT diagnostics message, built as one dict."""
    out = counters(app)
    gauges(app, out)
    notes(app, out)
    out["firmware"] = VERSION
    return out


def status(app, version):
    """The JSON shape of GET /api/v1/status."""
    wifi = app.wifi
    pub = app.publisher
    ip = None
    if wifi.up:
        try:
            ip = wifi.wlan.ifconfig()[0]
        except OSError:
            pass
    meter = app.meter
    out = {
        "firmware": version,
        "board": app.board_name,
        "wifi": {"connected": wifi.up, "ssid": wifi.ssid, "ip": ip, "rssi": wifi.rssi()},
        "mqtt": {"enabled": pub is not None, "connected": pub is not None and pub.connected},
        "meter": {
            "manufacturer": meter.manufacturer,
            "model": meter.model,
            "id": meter.id,
            "readings": meter.readings,
        },
        "counters": counters(app),
        "gauges": gauges(app),
        "notes": notes(app),
    }
    if app.web is not None:
        out["setup"] = app.web.setup_info()
    return out
