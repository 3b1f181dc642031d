"""Memory and speed figures of the energy accounting, for `make bench` (printed, never asserted).

Why: the accounting lives on the dongle next to everything else in a 96 KB heap, so we want to
see what a change costs. One run makes three simulated days (Aidon, with the change back to
winter time, a lost list 3 and an hour and a half without frames) and feeds them through
tools/energy_probe.py: the RAM the accounting holds and the bytes one reading allocates (list 1,
list 2, list 3; a list 3 that closes a gap splits it and allocates the most), in the MicroPython
WebAssembly VM and, when built, in the 32-bit unix MicroPython with a 96 KB heap; and readings/s
under CPython and in the VM. host_tests/test_energy_vm.py asserts the budgets.

Usage: python tools/bench_energy.py [--json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tools" / "energy_probe.py"


def micropython32():
    """The 32-bit unix MicroPython, found as host_tests/mpunix.py finds it, or None."""
    for path in (
        os.environ.get("MICROPYTHON32", ""),
        str(ROOT / "build" / "micropython32" / "micropython"),
        "/tmp/mp/micropython32/micropython",
    ):
        if path and os.access(path, os.X_OK):
            return path
    return None


RECORDING = [
    "--start", "2026-10-24T00:00:00+02:00", "--duration", "259210", "--slow", "24",
    "--seed", "3", "--drop-list3", "2026-10-25T02:00:00+02:00",
    "--drop-list3", "2026-10-26T18:00:00+01:00",
    "--silence", "2026-10-25T10:30:00+01:00/2026-10-25T12:00:00+01:00",
]


def probe(cmd):
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900, cwd=ROOT)
    return out.stdout, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object for machines")
    args = parser.parse_args(argv)
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        frames = os.path.join(tmp, "frames.txt")
        subprocess.run(
            [sys.executable, str(ROOT / "tools" / "simulate.py"), "--speed", "0",
             "--frames", frames, *RECORDING],
            check=True, stdout=subprocess.DEVNULL, timeout=600,
        )
        with open(frames) as f:
            readings = sum(1 for _ in f)
        figures["readings"] = readings
        node_vm = ["node", str(ROOT / "tools" / "mpvm.mjs"), "--data", frames, str(PROBE)]
        out, _ = probe(node_vm + ["memory", frames])
        figures["micropython_vm"] = json.loads(out)
        mp32 = micropython32()
        if mp32 is not None:
            out, _ = probe([mp32, "-X", "heapsize=96k", str(PROBE), "memory", frames])
            figures["micropython32_96k"] = json.loads(out)
        _, seconds = probe([sys.executable, str(PROBE), "run", frames])
        figures["cpython_readings_per_s"] = round(readings / seconds)
        _, seconds = probe(node_vm + ["run", frames])
        figures["vm_readings_per_s"] = round(readings / seconds)
    if args.json:
        print(json.dumps(figures))
        return 0
    print("energy accounting over {} readings (3 days, Aidon, faults):".format(readings))
    for name in ("micropython_vm", "micropython32_96k"):
        m = figures.get(name)
        if m is None:
            print("  {:18s} not built (set MICROPYTHON32)".format(name))
            continue
        print(
            "  {:18s} holds {} B; allocates per reading: list 1 {} B, list 2 {} B, list 3 up to "
            "{} B; heap after 10 / all readings {} / {} B".format(
                name, m["held"], m["alloc"]["1"], m["alloc"]["2"], m["alloc"]["3"],
                *m["heap_after"],
            )
        )
        print(
            "  {:18s} now() allocates {} B, summary() {} B, snapshot() {} B".format(
                "", m["views"]["now"], m["views"]["summary"], m["views"]["snapshot"]
            )
        )
    print(
        "  readings/s (decode + account, process start included): CPython {}, VM {}".format(
            figures["cpython_readings_per_s"], figures["vm_readings_per_s"]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
