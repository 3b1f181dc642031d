"""Energy accounting from readings: anchors, rejects, gaps, days, the month's figure and step.

Golden cases built from readings by hand; the generated month through the simulator is in
test_energy_month.py.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "firmware"))

import energy  # noqa: E402
import energystore  # noqa: E402
import osloclock  # noqa: E402

H = 3600


def wall(text):
    return osloclock.wall_seconds(text)


def at(text):
    """s2k of a local time with its offset, e.g. '2026-03-02T10:00:00+01:00'."""
    offset = int(text[19:22]) * H
    return osloclock.wall_seconds(text) - offset


class Meter:
    """Feeds an Energy as a meter would: power every `step_s`, list 3 at each hour."""

    def __init__(self, acc, meter_id="M1", import_wh=10_000_000):
        self.acc = acc
        self.meter_id = meter_id
        self.import_wh = import_wh
        self.closed = []
        acc.on_period = lambda p, wh, est: self.closed.append((p, wh[0], est))

    def list3(self, clock, t=None, registers=None):
        reading = {
            "meter_id": self.meter_id,
            "meter_datetime": clock,
            "active_power_import_total": self.import_wh if registers is None else registers,
            "active_power_export_total": 0,
            "reactive_power_import_total": 0,
            "reactive_power_export_total": 0,
        }
        self.acc.feed(reading, t)

    def run_hour(self, t0, watts, step_s=10):
        """Power `watts` for one hour from s2k `t0`; the register follows exactly."""
        for k in range(0, H, step_s):
            self.acc.feed({"active_power_import": watts}, t0 + k)
        self.import_wh += watts  # one hour at `watts` W

    def hours(self, first, wh_list, step_s=10):
        """Anchored hours from local `first` (with offset), each of the given Wh."""
        t = at(first)
        for wh in wh_list:
            self.list3(osloclock.iso(t), t)
            self.run_hour(t, wh, step_s)
            t += H
        self.list3(osloclock.iso(t), t)
        return t


def test_hours_between_anchors_get_the_exact_register_difference():
    m = Meter(energy.Energy())
    m.hours("2026-02-02T10:00:00+01:00", [1200, 3400, 0, 5])
    assert [(wh, est) for _, wh, est in m.closed] == [
        (1200, False), (3400, False), (0, False), (5, False)
    ]
    assert osloclock.iso(m.closed[0][0] * H) == "2026-02-02T10:00:00+01:00"


def test_a_repeated_list3_is_counted_stale_and_not_used():
    acc = energy.Energy()
    m = Meter(acc)
    t = at("2026-02-02T10:00:00+01:00")
    m.list3(osloclock.iso(t), t)
    m.run_hour(t, 1000)
    m.list3(osloclock.iso(t + H), t + H)
    m.run_hour(t + H, 2000)
    registers_at_11 = m.import_wh - 2000
    m.list3(osloclock.iso(t + H), t + 2 * H, registers=registers_at_11)  # the Aidon repeat
    m.run_hour(t + 2 * H, 500)
    m.list3(osloclock.iso(t + 3 * H), t + 3 * H)
    assert acc.stale == 1
    assert [(wh, est) for _, wh, est in m.closed] == [(1000, False), (2000, True), (500, True)]


def test_registers_that_go_backwards_are_rejected_and_counted():
    acc = energy.Energy()
    m = Meter(acc)
    t = m.hours("2026-02-02T10:00:00+01:00", [1000])
    m.list3(osloclock.iso(t + H), t + H, registers=m.import_wh - 10)
    assert acc.backwards == 1
    m.run_hour(t, 700)
    m.run_hour(t + H, 800)
    m.list3(osloclock.iso(t + 2 * H), t + 2 * H)
    assert [wh for _, wh, _ in m.closed] == [1000, 700, 800]
    assert sum(wh for _, wh, _ in m.closed[1:]) == 1500


def test_a_gap_is_split_exactly_by_integrated_power_and_the_rest_evenly():
    acc = energy.Energy()
    m = Meter(acc)
    t = at("2026-02-02T10:00:00+01:00")
    m.list3(osloclock.iso(t), t)
    m.run_hour(t, 2000)  # list 3 of 11:00 lost, power data for 10:00
    acc.feed({"active_power_import": 0}, t + H)  # unplugged at 11:00
    m.import_wh += 3 * 1001  # 11:00-14:00 unplugged: 3003 Wh, no data
    m.run_hour(t + 4 * H, 500)  # 14:00 with data, list 3 of 15:00 lost
    acc.feed({"active_power_import": 0}, t + 5 * H)
    m.list3(osloclock.iso(t + 5 * H), t + 5 * H)
    assert [(wh, est) for _, wh, est in m.closed] == [
        (2000, True), (1001, True), (1001, True), (1001, True), (500, True)
    ]
    assert acc.estimated == 5


def test_a_gap_whose_data_overshoots_is_scaled_down_to_sum_exactly():
    acc = energy.Energy()
    m = Meter(acc)
    t = at("2026-02-02T10:00:00+01:00")
    m.list3(osloclock.iso(t), t)
    m.run_hour(t, 1000)
    m.run_hour(t + H, 2000)
    acc.feed({"active_power_import": 0}, t + 2 * H)
    m.import_wh -= 301  # the meter counted a little less than the power said
    m.list3(osloclock.iso(t + 2 * H), t + 2 * H)
    pieces = [wh for _, wh, _ in m.closed]
    assert sum(pieces) == 2699
    assert pieces == [900, 1799]  # 1000 and 2000 scaled by 2699/3000


def _month(acc, days_wh):
    """One anchored hour per given (day, hour, Wh) in February 2026, the rest 100 Wh."""
    m = Meter(acc)
    peaks = {(d, h): wh for d, h, wh in days_wh}
    t = at("2026-02-01T00:00:00+01:00")
    m.list3(osloclock.iso(t), t)
    for day in range(1, 6):
        for hour in range(24):
            m.run_hour(t, peaks.get((day, hour), 100), step_s=600)
            t += H
            m.list3(osloclock.iso(t), t)
    return m


def test_the_step_boundary_belongs_to_the_step_above():
    acc = energy.Energy()
    _month(acc, [(1, 18, 5000), (2, 18, 5000), (3, 18, 5000)])
    s = acc.capacity.summary()
    assert s["capacity_w"] == 5000 and s["step"] == (5, 10)
    acc = energy.Energy()
    _month(acc, [(1, 18, 5000), (2, 18, 5000), (3, 18, 4999)])
    assert acc.capacity.summary()["step"] == (2, 5)


def test_the_three_largest_hours_on_one_day_count_once():
    acc = energy.Energy()
    _month(acc, [(2, 17, 9000), (2, 18, 8000), (2, 19, 7000), (4, 8, 3000), (5, 8, 1500)])
    s = acc.capacity.summary()
    assert [(d, wh) for d, wh, _ in s["top"]] == [(2, 9000), (4, 3000), (5, 1500)]
    assert s["capacity_w"] == 4500 and s["step"] == (2, 5)
    acc = energy.Energy({"method": "MND_MAX"})
    _month(acc, [(2, 17, 9000), (2, 18, 8000), (4, 8, 3000)])
    s = acc.capacity.summary()
    assert s["capacity_w"] == 9000 and s["step"] == (5, 10)


def test_a_23_hour_and_a_25_hour_day():
    for first, last, hours in (
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25),
        ("2027-03-28T00:00:00+01:00", "2027-03-29T00:00:00+02:00", 23),
        ("2027-10-31T00:00:00+02:00", "2027-11-01T00:00:00+01:00", 25),
    ):
        acc = energy.Energy()
        m = Meter(acc)
        t = at(first)
        clocks = []
        while t < at(last):
            # The meter clock: wall time, with Aidon's deviation 0 all year.
            clocks.append(osloclock.iso(t)[:19] + "+00:00")
            m.list3(clocks[-1], t)
            m.run_hour(t, 1000 + len(clocks))
            t += H
        m.list3(osloclock.iso(t)[:19] + "+00:00", t)
        assert len(m.closed) == hours and acc.stale == 0
        assert not any(est for _, _, est in m.closed)
        assert [wh for _, wh, _ in m.closed] == [1001 + k for k in range(hours)]
        (day,) = acc.capacity.summary()["days"]
        assert day[1] == 1000 + hours and osloclock.iso(day[2] * H)[11:13] == "23"
        if hours == 25:
            assert clocks.count(clocks[2]) == 2  # 02:00 twice, a new hour each time


def test_a_repeat_of_the_second_0200_in_october_is_stale():
    acc = energy.Energy()
    m = Meter(acc)
    t = at("2026-10-25T01:00:00+02:00")
    for _ in range(3):  # 01:00 CEST, 02:00 CEST, 02:00 CET
        m.list3(osloclock.iso(t)[:19], t)
        m.run_hour(t, 800)
        t += H
    m.list3("2026-10-25T02:00:00", t, registers=m.import_wh - 800)  # repeat at 03:00 CET
    m.run_hour(t, 900)
    m.list3("2026-10-25T04:00:00", t + H)
    assert acc.stale == 1
    assert [(wh, est) for _, wh, est in m.closed] == [
        (800, False), (800, False), (800, True), (900, True)
    ]


def test_a_meter_replaced_mid_month_starts_a_new_series_and_keeps_the_month():
    acc = energy.Energy()
    m = Meter(acc)
    t = m.hours("2026-02-10T10:00:00+01:00", [3000, 1000])  # old meter: 10:00-12:00
    m.run_hour(t, 1500)  # 12:00 measured, then the power is cut for the swap
    acc.feed({"active_power_import": 0}, t + H)
    new = Meter(acc, meter_id="M2", import_wh=12)
    new.closed = m.closed
    acc.on_period = lambda p, wh, est: new.closed.append((p, wh[0], est))
    new.hours("2026-02-10T15:00:00+01:00", [500, 4000])  # new meter from 15:00
    assert acc.backwards == 0 and acc.meter_changes == 1
    assert [(wh, est) for _, wh, est in m.closed] == [
        (3000, False), (1000, False),
        (1500, True), (0, True), (0, True),  # 12:00-15:00: integrated power only
        (500, False), (4000, False),
    ]
    assert [p - m.closed[0][0] for p, _, _ in m.closed] == list(range(7))
    assert [(d, wh) for d, wh, _ in acc.capacity.summary()["top"]] == [(10, 4000)]


def test_now_gives_the_running_hour_projection_and_headroom():
    acc = energy.Energy()
    m = _month(acc, [(1, 18, 4000), (2, 18, 4000), (3, 18, 3000)])
    t = at("2026-02-06T00:00:00+01:00")
    for k in range(0, 1800, 10):
        acc.feed({"active_power_import": 6000}, t + k)
    now = acc.now(t + 1800)
    assert now["wh"] == 3000  # 30 min at 6 kW, the last reading's power held until now
    assert now["projected_wh"] == now["wh"] + 3000
    assert now["capacity_w"] == 3667 and now["step"] == (2, 5)
    # 5 kW needs 15000 Wh over three days: 4000 + 4000 + 7000, so this hour may reach 6999.
    assert now["headroom_wh"] == 6999 - now["wh"]


def test_windows_count_only_the_hours_they_name():
    cfg = {"windows": [{"months": [2], "weekdays": [0, 1, 2, 3, 4], "hours": [7, 8, 9]}]}
    acc = energy.Energy(cfg)
    _month(acc, [(1, 18, 9000), (2, 8, 2500), (3, 8, 2000), (4, 9, 1500)])  # 1 Feb: Sunday
    top = acc.capacity.summary()["top"]
    assert [(d, wh) for d, wh, _ in top] == [(2, 2500), (3, 2000), (4, 1500)]


def test_a_quarter_hour_resolution_is_only_a_setting():
    acc = energy.Energy({"resolution_min": 15})
    m = Meter(acc)
    m.hours("2026-02-02T10:00:00+01:00", [4000, 800], step_s=5)
    pieces = [wh for _, wh, _ in m.closed]
    assert len(pieces) == 8 and sum(pieces[:4]) == 4000 and sum(pieces[4:]) == 800
    assert pieces[:4] == [1000] * 4 and pieces[4:] == [200] * 4
    s = acc.capacity.summary()
    assert s["capacity_w"] == 4000  # 1000 Wh in 15 min is 4 kW


@pytest.mark.parametrize(
    "cfg",
    [
        {"method": "MAX"},
        {"days": 0},
        {"ladder_kw": [0, 5, 2]},
        {"ladder_kw": "0,2"},
        {"resolution_min": 7},
        {"windows": [{"hours": [24]}]},
    ],
)
def test_bad_settings_say_what_to_fix(cfg):
    with pytest.raises(ValueError, match="energy"):
        energy.Energy(cfg)


def test_state_round_trips_through_dump_and_load():
    acc = energy.Energy()
    m = _month(acc, [(2, 18, 4000)])
    acc.feed({"active_power_import": 1000}, at("2026-02-06T00:10:00+01:00"))
    copy = energy.Energy()
    energystore.restore(copy, energystore.dump(acc))
    assert energystore.dump(copy) == energystore.dump(acc)
    assert copy.capacity.summary() == acc.capacity.summary()
    assert len(m.closed) == 120


def test_registers_reset_to_zero_start_a_new_series_after_three_list3s():
    acc = energy.Energy()
    m = Meter(acc)
    t = m.hours("2026-02-02T10:00:00+01:00", [1000])  # anchors at 10:00 and 11:00
    m.import_wh = 50  # the meter was reset during 11:00, same id
    for k in range(4):
        m.run_hour(t + k * H, 700)
        m.list3(osloclock.iso(t + (k + 1) * H), t + (k + 1) * H)
    assert acc.backwards == 2 and acc.jumps == 1  # 12:00 and 13:00 rejected, 14:00 restarts
    assert [(wh, est) for _, wh, est in m.closed] == [
        (1000, False), (700, True), (700, True), (698, True), (700, False)
    ]  # integrated power alone across the reset: 13:00's last 10 s were not yet integrated


def test_a_register_jump_or_a_clock_years_ahead_starts_a_new_series():
    acc = energy.Energy()
    m = Meter(acc)
    t = m.hours("2026-02-02T10:00:00+01:00", [1000])
    m.import_wh += 5_000_000_000  # 5 GWh in an hour
    m.list3(osloclock.iso(t + H), t + H)
    assert acc.jumps == 1 and len(m.closed) == 2  # 11:00 with its integrated power only
    m.list3("2031-02-02T12:00:00", t + 2 * H)  # a clock five years ahead
    assert acc.jumps == 2 and len(m.closed) == 2  # nothing closed for five years


@pytest.mark.parametrize("seed", range(12))
def test_random_faults_never_count_twice_and_gaps_sum_exactly(seed):
    """Seeded (deterministic) days of random load and faults, a reboot through dump/load."""
    rng = __import__("random").Random(seed)
    closed = {}

    def on_period(p, wh, est):
        assert p not in closed, "an hour closed twice"
        closed[p] = (wh[0], est)

    acc = energy.Energy(on_period=on_period)
    t0 = at("2026-10-23T00:00:00+02:00")
    hours = 96
    register = 7_000_000
    truth = {}
    sent = set()
    repeats = 0
    silent_until = -1
    reboot_at = rng.randrange(10, hours - 10) * H + rng.randrange(H)
    last_anchor = None
    for s in range(0, hours * H + 1, 30):
        t = t0 + s
        if s % H == 0:
            truth[t // H] = register
        if s == reboot_at - reboot_at % 30:
            state = energystore.dump(acc)
            acc = energy.Energy(on_period=on_period)
            energystore.restore(acc, state)
        if s > silent_until and rng.random() < 0.0005:
            silent_until = s + rng.randrange(600, 10 * H)
        watts = rng.choice((300, 800, 2500, 6000)) if s % 600 == 0 else watts
        if s <= silent_until:
            register += watts * 30 // 3600
            continue
        acc.feed({"active_power_import": watts}, t)
        register += watts * 30 // 3600
        if s % H == 0:
            reading = {
                "meter_id": "M", "meter_datetime": osloclock.iso(t)[:19],
                "active_power_import_total": truth[t // H], "active_power_export_total": 0,
            }
            if last_anchor is not None and rng.random() < 0.05:  # the Aidon repeat
                reading["meter_datetime"] = osloclock.iso(last_anchor)[:19]
                reading["active_power_import_total"] = truth[last_anchor // H]
                repeats += 1
            elif rng.random() < 0.05:  # lost
                continue
            else:
                sent.add(t // H)
                last_anchor = t
            acc.feed(reading, t)
    assert acc.stale == repeats and acc.backwards == 0
    first, last = min(sent), max(sent)
    assert sorted(closed) == list(range(first, last))
    start = first
    for p in range(first, last):
        wh, est = closed[p]
        assert wh >= 0
        assert est is not (p in sent and p + 1 in sent)
        if p + 1 in sent:
            assert sum(closed[q][0] for q in range(start, p + 1)) == truth[p + 1] - truth[start]
            start = p + 1


def test_readings_with_junk_values_are_counted_and_never_raise():
    acc = energy.Energy()
    rng = __import__("random").Random(4)
    junk = [None, "x", -5, 1e30, float("nan"), [], {}, 3.5, 10**40, "2026-02-02T10:00:00"]
    keys = list(energy.KEYS_POWER) + list(energy.KEYS_TOTAL) + ["meter_datetime", "meter_id"]
    t = at("2026-02-02T10:00:00+01:00")
    for k in range(3000):
        reading = {key: rng.choice(junk) for key in rng.sample(keys, rng.randrange(1, 6))}
        acc.feed(reading, t + k * 7)
        acc.now(t + k * 7)
    assert acc.bad > 0
    acc.capacity.summary()
