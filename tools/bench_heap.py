#!/usr/bin/env python3
"""Heap figures of the firmware in the real MicroPython (32-bit build where possible).

Why: the dongle must fit a plain ESP32's heap, and only the real interpreter says what the code
costs there. The firmware is staged as on the board (tools/run_mp.py) and a probe script runs in
the interpreter with a roomy fixed heap, printing:
  - the live heap (gc.mem_alloc() after gc.collect()) after importing each module group in
    turn (the delta is what the group adds beyond earlier groups), and after importing all;
  - the live heap after app.build();
  - the live heap peak (sampled each second after a collect) and the live heap after 10
    simulated minutes (simulator at 10x from just before an hour, so list 3 is in; a real
    mosquitto with discovery; the page and the API polled every second);
  - the largest free block at each point, from micropython.mem_info()'s "max free sz".
Printed, never asserted (`--json` for machines). The UART twin's receive buffer is C memory in the
32-bit build (not in these figures), as the board's UART driver keeps it outside the heap.
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "firmware"), os.path.join(ROOT, "host_tests")]

import config  # noqa: E402
import run_mp  # noqa: E402

# Module groups, measured in this order as import deltas. Update the names when modules move
# (a name that does not import is reported and skipped). A group's figure includes whatever
# it imports that no earlier group did, so shared helpers come first.
GROUPS = (
    ("common", ("compat", "log", "jsonout", "backoff", "meter", "health", "sensors", "telemetry")),
    ("parser", ("hanport", "uartsrc")),
    ("MQTT", ("publisher", "discovery", "mqttclient", "timedsock", "umqtt.simple")),
    ("portal", ("web.portal", "web.setupmode", "web.dnsd")),  # setupmode, dnsd: setup mode only
    ("HTTP", ("web.httpd", "web.routes", "web.state", "web.metrics")),  # metrics: first scrape
    ("admin", ("web.admin", "web.authguard", "web.settings")),  # per request, then dropped
    ("energy", ("osloclock", "capacity", "energy", "energystore", "energyview", "energymode")),
    ("boot", ("config", "board", "hw", "gpio", "failsafe", "builder")),  # build() drops most
    ("app", ("wifi", "led", "app")),
)
HEAP = "256k"  # roomy, so the figures are what the code uses, not what a small heap allows
MINUTES = 10
SPEED = 10
START = "2024-03-01T12:55:30"

MARK = r"""
import gc, sys, micropython

def mark(label):
    gc.collect()
    print("@@live", label, gc.mem_alloc())
    print("@@meminfo", label)
    micropython.mem_info()

"""
# As the board boots: main.py's imports and build() only, nothing imported beforehand.
FRESH = MARK + r"""
mark("fresh_start")
import app
mark("fresh_imported")
the_app = app.build()
mark("fresh_built")
"""
PROBE = MARK + r"""
BLOCK = 32 if sys.maxsize > 2**32 else 16
mark("start")
for group, names in GROUPS:
    for name in names:
        try:
            __import__(name)
        except ImportError as exc:
            print("@@absent", name, repr(exc))
    mark("group:" + group)
mark("imported")
import app, asyncio, os
the_app = app.build()
mark("built")
peak = [0]

async def sampler():
    while True:
        gc.collect()
        peak[0] = max(peak[0], gc.mem_alloc())
        try:
            os.stat("stop")
            return
        except OSError:
            pass
        await asyncio.sleep_ms(1000)

async def main():
    asyncio.create_task(the_app.run())
    await sampler()

asyncio.run(main())
print("@@live peak", peak[0])
mark("after_run")
print("@@block", BLOCK)
"""


def parse(text):
    """{label: {"live": bytes, "max_free": bytes}} plus peak, from the probe's output."""
    figures = {}
    block = 16
    label = None
    absent = []
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("@@live"):
            figures.setdefault(parts[1], {})["live"] = int(parts[2])
        elif line.startswith("@@meminfo"):
            label = parts[1]
        elif line.startswith("@@block"):
            block = int(parts[1])
        elif line.startswith("@@absent"):
            absent.append(parts[1])
        elif label and "max free sz:" in line:
            figures[label]["max_free_blocks"] = int(re.search(r"max free sz: (\d+)", line)[1])
    for entry in figures.values():
        if "max_free_blocks" in entry:
            entry["max_free"] = entry.pop("max_free_blocks") * block
    return figures, absent


def poll_http(port, stop, failures):
    import socket

    deadline = time.monotonic() + 60
    while not stop.is_set() and time.monotonic() < deadline:  # until the dongle listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            stop.wait(0.2)
    while not stop.is_set():
        for path in ("/", "/api/v1/reading", "/api/v1/status"):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status != 200:
                    failures.append(resp.status)
            except OSError:
                failures.append(path)
        stop.wait(1)


def measure(interp, minutes=MINUTES, energy=True):
    from brokers import Broker
    from simproc import start_simulator
    from webhost import free_port

    work = tempfile.mkdtemp(prefix="bench-heap-")
    broker = Broker(os.path.join(work, "broker")).start()
    cfg = config.defaults()
    cfg["wifi"]["ssid"] = "host-twin"
    cfg["log"]["level"] = "warning"
    cfg["mqtt"].update(host=broker.host, port=broker.port, client_id="bench-heap")
    cfg["energy"]["ntp_host"] = ""  # no query leaves the machine
    cfg["energy"]["enabled"] = energy
    cfg["http"]["port"] = free_port()
    stage = run_mp.stage(os.path.join(run_mp.BUILD, "mprun", "bench-heap"), cfg)
    groups = [[g, list(names)] for g, names in GROUPS]
    with open(os.path.join(stage, "bench_probe.py"), "w") as f:
        f.write("GROUPS = {!r}\n".format(groups) + PROBE)
    with open(os.path.join(stage, "bench_fresh.py"), "w") as f:
        f.write(FRESH)
    env = run_mp.environment(stage, run_mp.UMQTT_DEFAULT, "none", interp=interp)
    fresh = subprocess.run(
        run_mp.command(interp, HEAP, "bench_fresh.py"),
        cwd=stage, env=env, capture_output=True, text=True, timeout=120,
    )
    sim, where = start_simulator(
        "aidon", os.path.join(work, "sim.jsonl"), START, SPEED, "--duration", str(minutes * 60)
    )
    env = run_mp.environment(stage, run_mp.UMQTT_DEFAULT, "tcp://" + where, interp=interp)
    out_path = os.path.join(work, "probe.out")
    stop = threading.Event()
    failures = []
    with open(out_path, "w") as out:
        probe = subprocess.Popen(
            run_mp.command(interp, HEAP, "bench_probe.py"),
            cwd=stage,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        poller = threading.Thread(target=poll_http, args=(cfg["http"]["port"], stop, failures))
        poller.start()
        try:
            sim.wait(minutes * 60 / SPEED + 120)
            time.sleep(2)
            open(os.path.join(stage, "stop"), "w").close()
            probe.wait(60)
        finally:
            stop.set()
            poller.join()
            for proc in (probe, sim):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            sim.stdout.close()
            broker.stop()
    with open(out_path) as f:
        text = fresh.stdout + f.read()
    figures, absent = parse(text)
    if "after_run" not in figures:
        raise SystemExit("bench_heap: the probe did not finish:\n" + text[-3000:])
    return figures, absent, failures, "MemoryError" in text


def report(interp, figures, absent, failures, memory_error, minutes=MINUTES):
    kb = lambda n: "{:.1f} KB".format(n / 1024)  # noqa: E731
    print("heap in {} (-X heapsize={}; figures are live bytes after gc.collect())".format(
        interp, HEAP))
    before = figures["start"]["live"]
    for group, names in GROUPS:
        entry = figures["group:" + group]
        print("  import {:7} +{:>9}  ({})".format(group, kb(entry["live"] - before),
                                                 " ".join(names)))
        before = entry["live"]
    rows = (
        ("booted as main.py does it:", {}),
        ("  after import app", figures["fresh_imported"]),
        ("  after app.build()", figures["fresh_built"]),
        ("with every group imported first:", {}),
        ("  after importing everything", figures["imported"]),
        ("  after app.build()", figures["built"]),
        ("peak while running", figures["peak"]),
        ("after {:g} simulated minutes".format(minutes), figures["after_run"]),
    )
    for what, entry in rows:
        if not entry:
            print("  " + what)
            continue
        line = "  {:30} {:>9}".format(what, kb(entry["live"]))
        if "max_free" in entry:
            line += "   largest free block {}".format(kb(entry["max_free"]))
        print(line)
    if absent:
        print("  (not importable, skipped: {})".format(", ".join(absent)))
    if failures or memory_error:
        print("  problems: {} HTTP failures, MemoryError: {}".format(len(failures), memory_error))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--minutes", type=float, default=MINUTES)
    parser.add_argument("--energy", choices=("on", "off"), default="on",
                        help="the energy mode (energy.enabled), for its cost in the figures")
    args = parser.parse_args(argv)
    interp, why = run_mp.interpreter()
    if interp is None or run_mp.umqtt_dir(run_mp.UMQTT_DEFAULT) is None:
        print("bench_heap: skipped: " + (why or "no umqtt.simple at hand in " + run_mp.SHARED))
        return 0
    figures, absent, failures, memory_error = measure(interp, args.minutes, args.energy == "on")
    if args.json:
        print(json.dumps({"interpreter": str(interp), "heap": HEAP, "figures": figures,
                          "absent": absent, "http_failures": len(failures),
                          "memory_error": memory_error}))
    else:
        report(interp, figures, absent, failures, memory_error, args.minutes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
