"""Health: the watchdog, uptime and per-task error counts.

The hardware watchdog is fed from the health task only while every watched task keeps passing:
the meter reader beats, and app.guarded() records each pass of every long-lived task. A stuck
reader, a task that died or stopped coming round, or a scheduler blocked for too long, resets
the dongle; a slow broker does not, because a failed MQTT pass still passes. The watchdog comes
in as an argument (None = disabled).
"""

from compat import const, ticks_diff, ticks_ms

_STALL_MS = const(30000)  # the reader may miss beats this long before the watchdog is starved


class Uptime:
    """Milliseconds since start that keep counting past the ticks wrap.

    ticks_diff() is only right within 2**29 ms (6.2 days), so uptime measured as one
    ticks_diff from boot turns negative after a week. This adds up the differences between
    reads instead; something must read it more often than every 6.2 days (the health task
    does, every second).
    """

    def __init__(self, clock=ticks_ms):
        self._clock = clock
        self._last = clock()
        self._ms = 0

    def ms(self):
        now = self._clock()
        self._ms += ticks_diff(now, self._last)
        self._last = now
        return self._ms


class Health:
    def __init__(self, wdt=None, clock=ticks_ms, stall_ms=_STALL_MS):
        self.wdt = wdt
        self._clock = clock
        self.stall_ms = stall_ms
        self.uptime = Uptime(clock)
        self.feeds = 0
        self.starved = 0
        self.unreported = 0  # failures whose report itself failed (no memory to format it)
        self.stalled = None  # name of the task that made the last step starve the watchdog
        self.task_errors = {}
        self._passed = {}  # task name -> ticks of its last pass
        self._limits = {}  # task name -> longest gap between passes, ms
        self.watch("meter", 0)

    def watch(self, task, period_ms):
        """Starve the watchdog if `task` (which runs every period_ms) stops passing."""
        self._limits[task] = self.stall_ms + period_ms
        self._passed[task] = self._clock()

    def passed(self, task):
        """A pass of `task` ended; must not allocate (called even when memory ran out)."""
        if task in self._passed:
            self._passed[task] = self._clock()

    def beat(self):
        """Called by the meter reader after each pass."""
        self._passed["meter"] = self._clock()

    def step(self):
        """Feed the watchdog if every watched task has passed recently enough."""
        self.uptime.ms()  # keeps the uptime count across the ticks wrap
        now = self._clock()
        late = None
        for task in self._limits:
            if ticks_diff(now, self._passed[task]) >= self._limits[task]:
                late = task
                break
        self.stalled = late
        if late is None:
            if self.wdt is not None:
                self.wdt.feed()
            self.feeds += 1
        else:
            self.starved += 1

    def count_error(self, task):
        self.task_errors[task] = self.task_errors.get(task, 0) + 1

    def uptime_ms(self):
        return self.uptime.ms()

    def uptime_s(self):
        return self.uptime.ms() // 1000
