"""Health: uptime that keeps counting past the ticks wrap, and the watchdog feed."""

import sys

import corpus

sys.path.insert(0, str(corpus.ROOT / "tools" / "hosttwin"))

from compat import ticks_add  # noqa: E402
from health import Health, Uptime  # noqa: E402
from web.state import State  # noqa: E402

DAY_MS = 24 * 3600 * 1000


def test_uptime_counts_past_the_six_day_ticks_wrap():
    clock = [ticks_add(0, -1000)]  # start just before a wrap
    uptime = Uptime(lambda: clock[0])
    for _ in range(20 * 24):  # twenty days, read once an hour
        clock[0] = ticks_add(clock[0], 3600 * 1000)
        uptime.ms()
    assert uptime.ms() == 20 * DAY_MS


def test_health_and_state_report_weeks_of_uptime_and_list_ages():
    clock = [0]
    health = Health(None, lambda: clock[0])
    store = State(lambda: clock[0], health.uptime_ms)
    store.update({"meter_id": "1", "active_power_import": 5})
    for _ in range(9 * 24 * 60):  # nine days, the health task passing once a minute
        clock[0] = ticks_add(clock[0], 60000)
        health.step()
    assert health.uptime_s() == 9 * 24 * 3600
    lists = store.lists()
    assert lists["2"]["age_ms"] == 9 * DAY_MS
    assert store.snapshot()["uptime_ms"] == 9 * DAY_MS
