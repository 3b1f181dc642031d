"""Interpreter shims in one place, so every other module runs unchanged on MicroPython and CPython.

MicroPython has `const`, `time.ticks_*`, `asyncio.sleep_ms` and `gc.mem_free`; CPython has none of
them. Modules import these names from here and never test which interpreter they run on.
"""

import asyncio
import gc
import time

try:
    from micropython import const
except ImportError:

    def const(value):
        return value


try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:
    _TICKS_PERIOD = 1 << 30

    def ticks_ms():
        return int(time.monotonic() * 1000) & (_TICKS_PERIOD - 1)

    def ticks_diff(end, start):
        diff = (end - start) & (_TICKS_PERIOD - 1)
        return diff - _TICKS_PERIOD if diff >= _TICKS_PERIOD // 2 else diff

    def ticks_add(ticks, delta):
        return (ticks + delta) & (_TICKS_PERIOD - 1)


try:
    sleep_ms = asyncio.sleep_ms
except AttributeError:

    def sleep_ms(ms):
        return asyncio.sleep(ms / 1000)


def mem_free():
    """Free heap in bytes, or -1 where the interpreter cannot tell (CPython)."""
    try:
        return gc.mem_free()
    except AttributeError:
        return -1


# MicroPython's asyncio has one Stream class for both directions; CPython opens a pair.
_ONE_STREAM = not hasattr(asyncio, "StreamReaderProtocol")


async def stream_pair(sock, peer):
    """(reader, writer) for an accepted, non-blocking socket; peer is accept()'s address."""
    if _ONE_STREAM:
        stream = asyncio.StreamReader(sock, {"peername": peer})
        return stream, stream
    return await asyncio.open_connection(sock=sock)
