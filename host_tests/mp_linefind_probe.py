"""MicroPython script: the heap the line-setting search costs, with the firmware as .mpy.

Prints one JSON line: `module` (linefind's code, kept after a collection), `finder` (a
LineFinder), `steps` (allocated by 10,000 passes), `status` (one status text), `dropped` (what
is left once the search is over and the module dropped, as app.py does).
"""

import gc
import json
import sys

import uartsrc  # noqa: F401  loaded by the app before any search


class Setter:
    def __init__(self):
        self.index = 0

    def set(self, index):
        self.index = index


def used():
    gc.collect()
    return gc.mem_alloc()


base = used()
import linefind  # noqa: E402

module = used() - base
finder = linefind.LineFinder(Setter(), 0, 0, 0)


def run(finder, passes):
    """Passes of 10 ms with a burst of garbage every 2.5 s (locals only: no global grows)."""
    now = 0
    bytes_in = 0
    i = 0
    while i < passes:
        i += 1
        now += 10
        if i % 250 < 20:
            bytes_in += 3
        finder.step(now, bytes_in, 0)


steps = 0
with_finder = used()
run(finder, 10000)
steps = gc.mem_alloc() - with_finder
gc.collect()
before = gc.mem_alloc()
text = finder.status()
status = gc.mem_alloc() - before
del finder, text
sys.modules.pop("linefind")
del linefind
dropped = used() - base
print(json.dumps({"module": module, "finder": with_finder - base - module, "steps": steps,
                  "status": status, "dropped": dropped}))
