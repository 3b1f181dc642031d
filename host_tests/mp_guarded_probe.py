"""MicroPython script: a task whose failure report itself fails (MemoryError) keeps running.

Prints "calls N errors E": how often the failing step ran within 20 s, and what health counted.
"""

import asyncio
import time

import app
from health import Health


class Nasty(Exception):
    def __repr__(self):
        raise MemoryError  # what formatting the report does on a full heap


calls = []


def step():
    calls.append(1)
    raise Nasty()


async def main():
    health = Health()
    asyncio.create_task(app.guarded("x", step, 1, health))
    start = time.ticks_ms()
    while len(calls) < 3 and time.ticks_diff(time.ticks_ms(), start) < 20000:
        await asyncio.sleep_ms(20)
    print("calls", len(calls), "errors", health.task_errors.get("x"))


asyncio.run(main())
