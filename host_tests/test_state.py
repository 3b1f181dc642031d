"""The current-state store: the latest value of every key across lists, arrival times, bound."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT / "firmware") not in sys.path:
    sys.path.insert(0, str(ROOT / "firmware"))

from web import state  # noqa: E402

LIST1 = {"active_power_import": 1234}
LIST2 = {
    "meter_id": "7359992890941742",
    "active_power_import": 1510,
    "current_l1": 2.5,
    "voltage_l1": 230.1,
}
LIST3 = dict(LIST2, meter_datetime="2022-10-15T20:00:00", active_power_import_total=12345670)


def make():
    clock = [1000]
    return state.State(lambda: clock[0]), clock


def test_list1_updates_power_and_keeps_what_list2_and_3_said():
    s, clock = make()
    assert s.update(LIST3) == 3
    clock[0] += 10000
    assert s.update(LIST2) == 2
    clock[0] += 2500
    assert s.update(LIST1) == 1
    assert s.values == dict(LIST3, active_power_import=1234)


def test_each_list_records_when_it_came_and_the_meter_clock():
    s, clock = make()
    s.update(LIST3)
    clock[0] += 10000
    s.update(LIST2)
    clock[0] += 2500
    s.update(LIST1)
    clock[0] += 500
    lists = s.lists()
    assert lists["3"] == {"count": 1, "uptime_ms": 0, "age_ms": 13000,
                          "meter_datetime": "2022-10-15T20:00:00"}
    assert lists["2"]["uptime_ms"] == 10000 and lists["2"]["meter_datetime"] is None
    assert lists["1"]["age_ms"] == 500
    snap = s.snapshot()
    assert snap["readings"] == 3 and snap["uptime_ms"] == 13000


def test_nothing_seen_yet_gives_an_empty_state():
    s, _ = make()
    assert s.snapshot() == {"reading": {}, "lists": {}, "readings": 0, "uptime_ms": 0}


def test_keys_beyond_the_bound_are_dropped_and_counted():
    s, _ = make()
    s.update({"k{}".format(i): i for i in range(state.MAX_KEYS + 5)})
    assert len(s.values) == state.MAX_KEYS and s.dropped_keys == 5
    s.update({"k0": -1, "extra": 1})  # known keys still update
    assert s.values["k0"] == -1 and "extra" not in s.values and s.dropped_keys == 6
