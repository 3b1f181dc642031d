"""The meter and the dongle in Prometheus text format (version 0.0.4), one line at a time.

Why: Prometheus, VictoriaMetrics and Grafana Agent scrape `GET /metrics` without any glue. Each
family gets its `# HELP` and `# TYPE` lines once, then its samples; per-phase values of one
quantity share a family with a `phase` label. Energy counters are Prometheus counters (they only
grow); everything the meter measures now is a gauge. `lines()` is a generator, so the HTTP side
writes the answer in pieces and no page-sized string is ever built. Units are the reading's
(W, var, A, V, Wh, varh), named in the metric name.
"""

# (reading key without _l1.._l3, metric name, type, help)
_METER = (
    ("active_power_import", "hanport_active_power_import_watts", "gauge", "Active power import"),
    ("active_power_export", "hanport_active_power_export_watts", "gauge", "Active power export"),
    ("reactive_power_import", "hanport_reactive_power_import_vars", "gauge", "Reactive import"),
    ("reactive_power_export", "hanport_reactive_power_export_vars", "gauge", "Reactive export"),
    ("current", "hanport_current_amperes", "gauge", "Current per phase"),
    ("voltage", "hanport_voltage_volts", "gauge", "Voltage per phase"),
    ("power_factor", "hanport_power_factor", "gauge", "Power factor (total and per phase)"),
    (
        "active_power_import_total",
        "hanport_active_energy_import_watthours_total",
        "counter",
        "Active energy imported (meter register)",
    ),
    (
        "active_power_export_total",
        "hanport_active_energy_export_watthours_total",
        "counter",
        "Active energy exported (meter register)",
    ),
    (
        "reactive_power_import_total",
        "hanport_reactive_energy_import_varhours_total",
        "counter",
        "Reactive energy imported (meter register)",
    ),
    (
        "reactive_power_export_total",
        "hanport_reactive_energy_export_varhours_total",
        "counter",
        "Reactive energy exported (meter register)",
    ),
)
_SAMPLES = (("", ""), ("_l1", '{phase="l1"}'), ("_l2", '{phase="l2"}'), ("_l3", '{phase="l3"}'))
# Gauges from telemetry.py whose metric name states the unit the Prometheus way.
_GAUGE_NAMES = {
    "uptime_s": "uptime_seconds",
    "mem_free": "mem_free_bytes",
    "wifi_rssi": "wifi_rssi_dbm",
}


def _number(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return "{}".format(value)


def _family(name, kind, text):
    return "# HELP {} {}\n# TYPE {} {}\n".format(name, text, name, kind)


def _label(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def lines(values, lists, counters, gauges):
    """Yield the exposition text in pieces.

    values: the meter state (State.values); lists: State.lists(); counters and gauges: the
    dicts of telemetry.py ({name: number}); None and a negative "unknown" mem_free are left
    out.
    """
    for key, name, kind, text in _METER:
        header = False
        for suffix, labels in _SAMPLES:
            value = values.get(key + suffix if suffix else key)
            if not isinstance(value, (int, float)):
                continue
            if not header:
                header = True
                yield _family(name, kind, text)
            yield "{}{} {}\n".format(name, labels, _number(value))
    if "meter_id" in values:
        yield _family("hanport_meter_info", "gauge", "The meter's identity (always 1)")
        yield 'hanport_meter_info{{manufacturer="{}",type="{}",id="{}",list="{}"}} 1\n'.format(
            _label(values.get("meter_manufacturer", "")),
            _label(values.get("meter_type", "")),
            _label(values.get("meter_id", "")),
            _label(values.get("list_ver_id", "")),
        )
    if lists:
        name = "hanport_list_age_seconds"
        yield _family(name, "gauge", "Seconds since the meter last sent each list")
        for which in sorted(lists):
            yield '{}{{list="{}"}} {}\n'.format(name, which, lists[which]["age_ms"] / 1000)
    for key in sorted(counters):
        name = "hanport_{}_total".format(key)
        yield _family(name, "counter", "Dongle counter {}".format(key))
        yield "{} {}\n".format(name, _number(counters[key]))
    for key in sorted(gauges):
        value = gauges[key]
        if value is None or (key == "mem_free" and value < 0):
            continue
        name = "hanport_{}".format(_GAUGE_NAMES.get(key, key))
        yield _family(name, "gauge", "Dongle {}".format(key.replace("_", " ")))
        yield "{} {}\n".format(name, _number(value))
