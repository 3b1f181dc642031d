"""Interpreter shims in one place, so every other module runs unchanged on MicroPython and CPython.

MicroPython has `const`, `time.ticks_*`, `asyncio.sleep_ms` and `gc.mem_free`; CPython has none of
them. Modules import these names from here and never test which interpreter they run on.
"""

import asyncio
import gc

try:
    from time import ticks_add, ticks_diff, ticks_ms

    from micropython import const
except ImportError:  # CPython: the stand-ins, whose code then never loads on the device
    from hanport.cpython import const, ticks_add, ticks_diff, ticks_ms  # noqa: F401

try:
    sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython

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
