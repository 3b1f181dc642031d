"""The meter and the dongle in Prometheus text format (version 0.0.4), one line at a time.

Why: Prometheus, VictoriaMetrics and Grafana Agent scrape `GET /metrics` without any glue. Each
family gets its `# HELP` and `# TYPE` lines once, then its samples; per-phase values of one
quantity share a family with a `phase` label. Energy counters are Prometheus counters (they only
grow); everything the meter measures now is a gauge. `lines()` is a generator, so the HTTP side
writes the answer in pieces and no page-sized string is ever built. Units are the reading's
(W, var, A, V, Wh, varh), named in the metric name.
"""

from sensors import PHASES, rows

_LABELS = ("", '{phase="l1"}', '{phase="l2"}', '{phase="l3"}')
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
    for row in rows():
        key, name, kind, text = row[0], row[4], row[5], row[6]
        header = False
        for i in range(4):
            value = values.get(key + PHASES[i])
            if not isinstance(value, (int, float)):
                continue
            if not header:
                header = True
                yield _family(name, kind, text)
            yield "{}{} {}\n".format(name, _LABELS[i], _number(value))
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
