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


class Nasty(Exception):
    def __repr__(self):
        raise MemoryError  # what formatting the failure report does on a full heap


def test_a_task_whose_failure_report_fails_keeps_running():
    import asyncio

    import app

    health = Health()
    calls = []

    def step():
        calls.append(1)
        raise Nasty()

    async def main():
        task = asyncio.create_task(app.guarded("x", step, 1, health))
        for _ in range(2000):  # up to 20 s; each failed pass pauses 1 s
            if len(calls) >= 3 or task.done():
                break
            await asyncio.sleep(0.01)
        done = task.done()
        task.cancel()
        return done

    assert asyncio.run(main()) is False and len(calls) >= 3
    assert health.unreported >= 2


def test_a_task_whose_failure_report_fails_keeps_running_in_micropython():
    import mpunix

    result = mpunix.run("mp_guarded_probe.py", heap="1m")  # app.py compiled from source
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["calls", "3"], result.stdout + result.stderr


class CountingWDT:
    feeds = 0

    def feed(self):
        self.feeds += 1


def test_a_task_that_stops_passing_starves_the_watchdog():
    clock = [0]
    wdt = CountingWDT()
    health = Health(wdt, lambda: clock[0], stall_ms=5000)
    health.watch("mqtt", 20)
    for second in range(20):
        health.beat()  # the meter reader keeps going
        if second < 10:
            health.passed("mqtt")  # the MQTT task dies after 10 s
        health.step()
        clock[0] += 1000
    assert wdt.feeds == 15 and health.starved == 5 and health.stalled == "mqtt"
    health.passed("mqtt")
    health.step()
    assert wdt.feeds == 16 and health.stalled is None


def test_a_task_is_watched_once_guarded_runs_it():
    import asyncio

    import app

    clock = [0]
    health = Health(None, lambda: clock[0], stall_ms=5000)

    async def main():
        task = asyncio.create_task(app.guarded("wifi", lambda: None, 1, health))
        await asyncio.sleep(0)  # let it start and pass once
        task.cancel()  # a task that is gone no longer passes

    asyncio.run(main())
    health.beat()
    clock[0] = 6000
    health.beat()
    health.step()
    assert health.stalled == "wifi" and health.starved == 1
