"""What the energy accounting shows: JSON-ready views for MQTT, the HTTP API and the page.

Why a module of its own: the accounting (`energy`) runs on every reading and stays small; these
views build strings and dicts, and only the sinks that publish them import this module. Values
are kWh and kW as numbers, times local ISO strings with their offset (`osloclock.iso`).
"""

import osloclock


def _kwh(wh):
    return None if wh is None else wh / 1000


def snapshot(acc, s2k, ms=0):
    """This hour (kWh so far, projected, headroom), today's kWh, the month (figure, step, top
    days), the last closed hour and the counters of `acc` at `s2k` (+ `ms`)."""
    now = acc.now(s2k, ms)
    period_s = acc.period_s
    wall = osloclock.local(s2k)
    midnight_p = osloclock.instants(wall - wall % 86400)[0] // period_s
    today_wh = 0
    n = acc.ring_n
    for k in range(acc.r_len):
        i = (acc.r_head - 1 - k) % n
        if acc.r_p[i] < midnight_p:
            break
        today_wh += acc.r_wh[4 * i]
    last = None
    if acc.r_len:
        i = (acc.r_head - 1) % n
        last = (acc.r_p[i], acc.r_wh[4 * i], acc.r_wh[4 * i + 1], acc.r_flags[i] & 1)
    cap = acc.capacity
    summary = cap.summary() if cap.month else None
    month = None
    if summary is not None:
        year, mon = summary["month"]
        first = osloclock.days_from_civil(year, mon, 1)
        month = {
            "month": "{:04d}-{:02d}".format(year, mon),
            "method": cap.method,
            "capacity_kw": summary["capacity_w"] / 1000,
            "step": list(summary["step"]),
            "top": [
                {"date": osloclock.date_iso(first + d - 1), "kwh": wh / 1000}
                for d, wh, _ in summary["top"]
            ],
        }
    hour_wh = now["wh"]
    return {
        "hour": {
            "start": osloclock.iso(now["start"] * period_s),
            "kwh": None if hour_wh is None else hour_wh / 1000,
            "projected_kwh": _kwh(now["projected_wh"]),
            "headroom_kwh": _kwh(now["headroom_wh"]),
        },
        "today_kwh": (today_wh + (hour_wh or 0)) / 1000,
        "month": month,
        "last_hour": None
        if last is None
        else {
            "start": osloclock.iso(last[0] * period_s),
            "kwh": last[1] / 1000,
            "export_kwh": last[2] / 1000,
            "estimated": last[3] == 1,
        },
        "counters": acc.counters(),
    }
