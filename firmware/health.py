"""Health: the watchdog, uptime and per-task error counts.

The hardware watchdog is fed from the health task only while the meter reader task keeps
beating, so a stuck reader (or a scheduler blocked for too long) resets the dongle, while a slow
broker does not. The watchdog comes in as an argument (None = disabled).
"""

from compat import const, mem_free, ticks_diff, ticks_ms

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
        self.heartbeat = clock()
        self.feeds = 0
        self.starved = 0
        self.task_errors = {}

    def beat(self):
        """Called by the meter reader after each pass."""
        self.heartbeat = self._clock()

    def step(self):
        """Feed the watchdog if the reader is alive."""
        self.uptime.ms()  # keeps the uptime count across the ticks wrap
        if ticks_diff(self._clock(), self.heartbeat) < self.stall_ms:
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

    def snapshot(self):
        return {
            "uptime_s": self.uptime_s(),
            "mem_free": mem_free(),
            "task_errors": sum(self.task_errors.values()),
        }
