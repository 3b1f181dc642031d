"""The JSON-ready views of the energy accounting (what MQTT, the API and the page show)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "firmware"))

import energy  # noqa: E402
import energyview  # noqa: E402
from test_energy import _month, at  # noqa: E402


def test_the_snapshot_has_this_hour_today_the_month_and_the_last_hour():
    acc = energy.Energy()
    _month(acc, [(1, 18, 4000), (2, 18, 4000), (3, 18, 3000)])
    t = at("2026-02-06T00:00:00+01:00")
    for k in range(0, 1800, 10):
        acc.feed({"active_power_import": 6000}, t + k)
    snap = energyview.snapshot(acc, t + 1800)
    assert snap["hour"] == {
        "start": "2026-02-06T00:00:00+01:00",
        "kwh": 3.0,
        "projected_kwh": 6.0,
        "headroom_kwh": 3.999,
    }
    assert snap["today_kwh"] == 3.0
    assert snap["month"] == {
        "month": "2026-02",
        "method": "TRE_DØGNMAX_MND",
        "capacity_kw": 3.667,
        "step": [2, 5],
        "top": [
            {"date": "2026-02-01", "kwh": 4.0},
            {"date": "2026-02-02", "kwh": 4.0},
            {"date": "2026-02-03", "kwh": 3.0},
        ],
    }
    assert snap["last_hour"] == {
        "start": "2026-02-05T23:00:00+01:00", "kwh": 0.1, "export_kwh": 0.0, "estimated": False
    }
    assert snap["counters"]["stale"] == 0
    fresh = energyview.snapshot(energy.Energy(), t)
    assert fresh["hour"]["kwh"] is None and fresh["month"] is None and fresh["last_hour"] is None
