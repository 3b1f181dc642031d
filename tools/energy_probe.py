"""Drive the energy accounting over a frames file and print JSON lines; runs on MicroPython too.

Why: the accounting must give the same hours on the dongle as under CPython and stay within its
RAM budget there. This is the one body both interpreters run (CPython directly; MicroPython in
the WebAssembly VM via tools/mpvm.mjs, or the 32-bit unix build); host tests and
tools/bench_energy.py compare or tabulate its output. FRAMES is the tools/energy.py input:
"<unix seconds> <hex frame>" per line.

    energy_probe.py run FRAMES      one {"p", "wh", "est"} line per closed period, then
                                    {"summary": ...} and {"counters": ...}
    energy_probe.py memory FRAMES   {"held": B, "alloc": {"1": max B, "2": ..., "3": ...},
                                    "heap_after": [B after 10 readings, B after all],
                                    "views": {"now": B, "summary": B, "snapshot": B} per call}
    energy_probe.py store FRAMES DIR  the same with a Saver and hour log in DIR, then damaged
                                    files loaded again: one line per step
"""

import gc
import json
import sys

# firmware/ first: tools/energy.py (the command) would shadow firmware/energy.py (the module).
_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _HERE + "/../firmware")

import energy  # noqa: E402
import energyview  # noqa: E402
import hanport  # noqa: E402

UNIX_2000 = 946684800
SAMPLE_EVERY = 25  # readings between two measured ones (a collection each: keep it cheap)


def frames(path):
    """(s2k, ms, reading) per good line; the Unix time is split without a float."""
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            when, hex_text = line.split(" ", 1)
            whole, _, frac = when.partition(".")
            ms = int((frac + "000")[:3])
            try:
                reading = hanport.decode_frame(bytes.fromhex(hex_text))
            except ValueError:
                continue
            yield int(whole) - UNIX_2000, ms, reading


def list_number(reading):
    if "active_power_import_total" in reading:
        return "3"
    return "2" if "meter_id" in reading else "1"


def emit(obj):
    print(json.dumps(obj))


def run(path):
    def closed(p, wh, est):
        emit({"p": p, "wh": list(wh), "est": est})

    acc = energy.Energy(on_period=closed, on_month=lambda s: emit({"month": s}))
    for s2k, ms, reading in frames(path):
        acc.feed(reading, s2k, ms)
    emit({"summary": acc.capacity.summary()})
    emit({"counters": acc.counters()})


def memory(path):
    """A generator: each yield after gc.collect() returns to a collected heap (see mpvm)."""
    gc.collect()
    yield
    base = gc.mem_alloc()
    acc = energy.Energy()
    gc.collect()
    yield
    held = gc.mem_alloc() - base
    alloc = {"1": 0, "2": 0, "3": 0}
    after = []
    n = 0
    for s2k, ms, reading in frames(path):
        n += 1
        if n % SAMPLE_EVERY and "active_power_import_total" not in reading:
            acc.feed(reading, s2k, ms)
        else:
            gc.collect()
            gc.disable()
            m0 = gc.mem_alloc()
            acc.feed(reading, s2k, ms)
            m1 = gc.mem_alloc()
            gc.enable()
            kind = list_number(reading)
            if m1 - m0 > alloc[kind]:
                alloc[kind] = m1 - m0
        reading = None
        if n == 10:
            gc.collect()
            yield
            after.append(gc.mem_alloc() - base)
    gc.collect()
    yield
    after.append(gc.mem_alloc() - base)
    views = {}
    views_of = (
        ("now", lambda: acc.now(s2k, ms)),
        ("summary", acc.capacity.summary),
        ("snapshot", lambda: energyview.snapshot(acc, s2k, ms)),
    )
    for name, view in views_of:
        gc.collect()
        gc.disable()
        m0 = gc.mem_alloc()
        view()
        views[name] = gc.mem_alloc() - m0
        gc.enable()
    emit({"held": held, "alloc": alloc, "heap_after": after, "readings": n, "views": views})


def store(path, folder):
    """Run the recording with a Saver and an hour log in `folder`, damage the files, load."""
    import energystore

    state = folder + "/energy.json"
    acc = energy.Energy()
    saver = energystore.Saver(acc, state, state + ".hours")
    acc.on_period = saver.log.append
    for s2k, ms, reading in frames(path):
        acc.feed(reading, s2k, ms)
        saver.step()
    saver.step(force=True)
    emit({"writes": saver.writes, "errors": saver.errors})
    copy = energy.Energy()
    emit({"load": energystore.load(copy, state)})
    emit({"same": energystore.dump(copy) == energystore.dump(acc)})
    with open(state + ".hours", "ab") as f:
        for _ in range(50):
            f.write(b"7" * 100)  # an overlong line
        f.write(b"\n")
    log = energystore.HourLog(state + ".hours", acc.period_s)
    emit({"hours": len(list(log.read())), "bad": log.bad, "last": log.last_p})
    with open(state, "ab") as f:
        for _ in range(20):
            f.write(b"x" * 1000)  # too large to load
    emit({"load": energystore.load(copy, state)})


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "store":
        store(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 3 or sys.argv[1] not in ("run", "memory"):
        print("usage: energy_probe.py run|memory FRAMES | store FRAMES DIR")
        sys.exit(2)
    if sys.argv[1] == "run":
        run(sys.argv[2])
        return
    steps = memory(sys.argv[2])
    try:
        import mpvm  # only in the WebAssembly VM: collections happen at its top level

        mpvm.run_at_top_level(steps)
    except ImportError:
        for _ in steps:
            pass


main()
