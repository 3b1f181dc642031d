"""The month's capacity figure from closed periods: daily maxima, methods, ladder, headroom."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "firmware"))

import capacity  # noqa: E402
import energy  # noqa: E402
import osloclock  # noqa: E402

H = 3600


def period(text, period_s=H):
    """Period of a local time with its offset, e.g. '2026-02-02T18:00:00+01:00'."""
    return (osloclock.wall_seconds(text) - int(text[19:22]) * H) // period_s


def month_of(maxima, cfg=None, period_s=H):
    """A Capacity fed one period per (local time, Wh), plus 100 Wh at 03:00 of days 1-5."""
    months = []
    cap = capacity.Capacity(energy.settings(cfg), period_s, months.append)
    added = [
        (period("2026-02-{:02d}T03:00:00+01:00".format(d), period_s), 100) for d in range(1, 6)
    ]
    added += [(period(t, period_s), wh) for t, wh in maxima]
    for p, wh in sorted(added):
        cap.add(p, wh)
    return cap, months


def test_exactly_5_kw_is_the_5_to_10_step():
    cap, _ = month_of([("2026-02-0{}T18:00:00+01:00".format(d), 5000) for d in (1, 2, 3)])
    assert cap.summary()["capacity_w"] == 5000 and cap.summary()["step"] == (5, 10)
    almost = [("2026-02-0{}T18:00:00+01:00".format(d), 5000 - (d == 3)) for d in (1, 2, 3)]
    cap, _ = month_of(almost)
    assert cap.summary()["capacity_w"] == 5000 and cap.summary()["step"] == (2, 5)  # 4999.67 W


def test_the_largest_hours_on_one_day_count_once():
    cap, _ = month_of([
        ("2026-02-02T17:00:00+01:00", 9000),
        ("2026-02-02T18:00:00+01:00", 8000),
        ("2026-02-04T08:00:00+01:00", 3000),
    ])
    assert [(d, wh) for d, wh, _ in cap.top()] == [(2, 9000), (4, 3000), (1, 100)]
    assert cap.figure() == (4033, 1)  # step 1: 2-5 kW


def test_mnd_max_takes_the_largest_hour_and_the_top_step_is_open():
    cap, _ = month_of([("2026-02-02T17:00:00+01:00", 250_000)], {"method": "MND_MAX"})
    s = cap.summary()
    assert s["capacity_w"] == 250_000 and s["step"] == (200, None)
    assert cap.at(period("2026-02-06T10:00:00+01:00"), 0)[2] is None  # no step above


def test_a_quarter_hour_of_1_kwh_is_4_kw():
    cap, _ = month_of([("2026-02-02T17:15:00+01:00", 1000)], {"days": 1}, period_s=900)
    assert cap.figure() == (4000, 1)


def test_a_new_month_reports_the_old_one_and_starts_afresh():
    cap, months = month_of([("2026-03-01T00:00:00+01:00", 700)])
    (february,) = months
    assert february["month"] == (2026, 2) and len(february["days"]) == 5
    assert cap.summary()["month"] == (2026, 3) and cap.top() == [
        (1, 700, period("2026-03-01T00:00:00+01:00"))
    ]
    cap.add(period("2026-02-27T00:00:00+01:00"), 9999)  # late February: not this month
    assert cap.top()[0][1] == 700


def test_the_headroom_is_what_this_hour_may_reach_below_the_next_step():
    peaks = ((1, 4000), (2, 4000), (3, 3000))
    cap, _ = month_of([("2026-02-0{}T18:00:00+01:00".format(d), wh) for d, wh in peaks])
    p = period("2026-02-06T10:00:00+01:00")
    assert cap.at(p, 1000) == (3667, 1, 6999 - 1000)  # 4000 + 4000 + 7000 reaches 5 kW
    assert cap.at(p, 8000) == (3667, 1, 0)
    assert cap.at(p, None) == (3667, 1, None)
    p = period("2026-02-03T20:00:00+01:00")  # a day already in the top: its own 3000 is replaced
    assert cap.at(p, 0)[2] == 6999


@pytest.mark.parametrize("when, counts", [
    ("2026-02-02T07:00:00+01:00", True),   # Monday 07:00
    ("2026-02-02T19:00:00+01:00", False),  # Monday evening
    ("2026-02-01T07:00:00+01:00", False),  # Sunday
    ("2026-04-06T07:00:00+02:00", False),  # April
])
def test_windows_choose_the_hours_that_count(when, counts):
    cfg = {"windows": [{"months": [11, 12, 1, 2, 3], "weekdays": [0, 1, 2, 3, 4],
                        "hours": list(range(7, 19))}]}
    cap = capacity.Capacity(energy.settings(cfg), H)
    cap.add(period(when), 1234)
    assert (cap.top() != []) is counts


def test_equal_maxima_take_the_earliest_days_and_day_31_counts():
    cap = capacity.Capacity(energy.settings(), H)
    for day in (31, 1, 30, 29):
        cap.add(period("2026-03-{:02d}T12:00:00+01:00".format(day)), 2000)
    assert [d for d, _, _ in cap.top()] == [1, 29, 30]
    cap.add(period("2026-03-31T13:00:00+02:00"), 2001)
    assert [d for d, _, _ in cap.top()] == [31, 1, 29]
    assert [d for d, _, _ in cap.top(skip=30)] == [1, 29, 30]
