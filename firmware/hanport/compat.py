"""Small shims that let the same parser files run on MicroPython and CPython."""

import time

try:
    from micropython import const  # pyright: ignore[reportAssignmentType]
except ImportError:  # CPython

    def const(value):
        return value


try:
    ticks_ms = time.ticks_ms  # pyright: ignore
    ticks_diff = time.ticks_diff  # pyright: ignore
except AttributeError:  # CPython: the same wrap-around arithmetic on a monotonic clock
    _PERIOD = 1 << 30

    def ticks_ms():
        return int(time.monotonic() * 1000) & (_PERIOD - 1)  # pyright: ignore

    def ticks_diff(end, start):
        diff = (end - start) & (_PERIOD - 1)
        return diff - _PERIOD if diff >= _PERIOD // 2 else diff
