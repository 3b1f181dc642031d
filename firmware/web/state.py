"""The meter's current state: the latest value of every key seen, and when each list last came.

Why: a list 1 reading carries only active power, while identity, currents and voltages come with
list 2 every 10 s and the energy counters with list 3 once an hour. The HTTP API and the web page
want all of them at once, so this keeps the newest value per key (a reading only overwrites the
keys it carries) plus, per list, the uptime (ms) it arrived at and the meter's clock if it gave
one. The publisher keeps its own slots; this store is only read by the web side.

Bound: the parser's vocabulary has about 40 keys; at most `MAX_KEYS` are kept, and a reading's
new keys beyond that are dropped and counted in `dropped_keys`.
"""

from compat import const, ticks_ms
from health import Uptime
from meter import LIST_FULL, LIST_POWER, LIST_TOTALS, list_of

MAX_KEYS = const(64)
LISTS = (LIST_POWER, LIST_FULL, LIST_TOTALS)


class State:
    def __init__(self, clock=ticks_ms, uptime_ms=None):
        # Uptime from the health task's counter, which survives the ticks wrap (health.py).
        self.uptime_ms = uptime_ms or Uptime(clock).ms
        self.values = {}
        self.readings = 0
        self.dropped_keys = 0
        self.list_ms = [None, None, None]  # type: list  # uptime (ms) when list 1, 2, 3 last came
        self.list_meter_time = [None, None, None]  # the meter's clock on that reading, if any
        self.list_counts = [0, 0, 0]

    def update(self, reading):
        """Take the keys of one reading; return which list (1, 2, 3) it was."""
        values = self.values
        for key, value in reading.items():
            if key not in values and len(values) >= MAX_KEYS:
                self.dropped_keys += 1
                continue
            values[key] = value
        which = list_of(reading)
        index = which - 1
        self.list_ms[index] = self.uptime_ms()
        self.list_meter_time[index] = reading.get("meter_datetime")
        self.list_counts[index] += 1
        self.readings += 1
        return which

    def lists(self):
        """{"1": {...}, ...} for each list seen: count, uptime_ms, age_ms, meter_datetime."""
        now = self.uptime_ms()
        out = {}
        for which in LISTS:
            index = which - 1
            at = self.list_ms[index]
            if at is None:
                continue
            out[str(which)] = {
                "count": self.list_counts[index],
                "uptime_ms": at,
                "age_ms": now - at,
                "meter_datetime": self.list_meter_time[index],
            }
        return out

    def snapshot(self):
        """The JSON shape of GET /api/v1/reading."""
        return {
            "reading": self.values,
            "lists": self.lists(),
            "readings": self.readings,
            "uptime_ms": self.uptime_ms(),
        }
