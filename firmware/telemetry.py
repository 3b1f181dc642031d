"""What the dongle knows about itself, gathered in one place.

The MQTT diagnostics message, GET /api/v1/status and GET /metrics all render these, so a counter
added here shows up in all three:
  counters  numbers that only grow (frames, rejects, reconnects, drops, HTTP refusals, ...)
  gauges    numbers for now (uptime, free heap, Wi-Fi signal, connected or not)
and `notes`, short texts that say what to do (wrong line settings, a stalled task, an update
rolled back), which the diagnostics and the status carry but metrics, being numbers, do not;
the diagnostics and the status also carry the firmware version.
Each fact is read from the part that owns it; nothing here keeps state of its own.
"""

from compat import mem_free
from jsonout import Merged
from version import VERSION


def counters(app):
    """The counters, one small dict per owner, written as one (jsonout.Merged)."""
    own = {
        "bytes_in": app.source.bytes_in,
        "uart_buffer_full": app.source.rx_full,
        "reading_errors": app.reading_errors,
        "line_searches": app.line_searches,
        "line_save_errors": app.line_save_errors,
        "meter_readings": app.meter.readings,
        "meter_changes": app.meter.changes,
        "task_errors": sum(app.health.task_errors.values()),
        "unreported_errors": app.health.unreported,
        "watchdog_starved": app.health.starved,
        "wifi_drops": app.wifi.drops,
        "wifi_failures": app.wifi.failures,
    }
    parts = [app.reader.stats.as_dict(), own]
    pub = app.publisher
    if pub is not None:
        out = {
            "published": pub.published,
            "superseded": pub.superseded,
            "mqtt_lost": pub.lost,  # QoS 0 readings in a session that died unconfirmed
            "mqtt_resent": pub.resent,  # energy totals sent again for Home Assistant
            "mqtt_connects": pub.connects,
            "mqtt_failures": pub.failures,
            "mqtt_oversized_messages": pub.oversized_messages,
        }
        if pub.discovery is not None:
            out["discovery_overflows"] = pub.discovery.overflows
        parts.append(out)
    for owner in (app.energy, app.web):
        if owner is not None:
            out = {}
            owner.add_counters(out)
            parts.append(out)
    return Merged(*parts)


def gauges(app):
    pub = app.publisher
    out = {
        "uptime_s": app.health.uptime_s(),
        "mem_free": mem_free(),
        "wifi_rssi": app.wifi.rssi(),
        "wifi_connected": 1 if app.wifi.up else 0,
        "mqtt_connected": 1 if pub is not None and pub.connected else 0,
    }
    if app.web is not None:
        app.web.add_gauges(out)
    return out


def notes(app):
    return {
        "line_hint": app.line_hint,
        "uart_line": app.line_status(),
        "stalled_task": app.health.stalled,
        "update": app.update_note,  # on trial, confirmed, or rolled back and why (trial.py)
    }


def diagnostics(app):
    """The flat object of the MQTT diagnostics message."""
    return Merged(*counters(app).parts, gauges(app), notes(app), {"firmware": VERSION})


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
