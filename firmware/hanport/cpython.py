"""CPython's stand-ins for what MicroPython has built in: `const` and the `time.ticks_*` clock.

Only CPython imports this (compat.py and hanport/compat.py fall back to it), so on the device
its code never takes heap. The ticks wrap around at 2**30 ms as MicroPython's do.
"""

import time

_PERIOD = 1 << 30


def const(value):
    return value


def ticks_ms():
    return int(time.monotonic() * 1000) & (_PERIOD - 1)


def ticks_diff(end, start):
    diff = (end - start) & (_PERIOD - 1)
    return diff - _PERIOD if diff >= _PERIOD // 2 else diff


def ticks_add(ticks, delta):
    return (ticks + delta) & (_PERIOD - 1)
