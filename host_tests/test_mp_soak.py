"""The memory budget: the whole dongle for 10 simulated minutes in a fixed MicroPython heap.

The unchanged firmware runs in the 32-bit interpreter with `-X heapsize=HEAP_*` (no heap growth,
as on an ESP32 without PSRAM): parser, MQTT with discovery to a real mosquitto through the real
umqtt.simple, and (first variant) HTTP with the live page and the API polled every second; the
setup portal stays closed. The simulator runs at SPEED from just before an hour, so the hourly
list 3 is in. It fails on any MemoryError or traceback, any HTTP request not answered 200, and
any frame the simulator sent that was neither published (seen at mosquitto) nor counted as
superseded in the diagnostics.

The heaps are the smallest that run clean today plus a margin against fragmentation luck,
except HTTP's, which is the board's figure the dongle must meet. Measured (32-bit build with the
board's ROM frozen in, the UART's receive ring in C memory and the modules found as on the board,
see tools/run_mp.py; 2026-12-01): the dongle as it ships (energy mode off) with HTTP passes at
96k (92k fails: MemoryErrors in the first MQTT announcement and in /api/v1/status); without
HTTP 80k passes, 76k fails at boot; with the energy mode on (its API polled too) 120k passes,
116k fails. The aim beyond is 80k, energy included. For measuring, HANPORT_SOAK_HEAP,
HANPORT_SOAK_HEAP_NO_HTTP and HANPORT_SOAK_HEAP_ENERGY override the constants.
"""

import http.client
import json
import os
import time
from datetime import datetime

import pytest
from mphost import MpDongle, device_config, interpreter, need_umqtt

HEAP_HTTP = os.environ.get("HANPORT_SOAK_HEAP", "96k")
HEAP_NO_HTTP = os.environ.get("HANPORT_SOAK_HEAP_NO_HTTP", "84k")
HEAP_ENERGY = os.environ.get("HANPORT_SOAK_HEAP_ENERGY", "128k")  # with HTTP
UMQTT = "1.8.0"
MINUTES = 10
SPEED = 10  # 10 meter minutes in about a minute
START = "2024-03-01T12:55:30"  # list 3 at 13:00:10
POLLED = ("/", "/api/v1/reading", "/api/v1/status")


def poll_http(d, failures, energy):
    for path in POLLED + (("/api/v1/energy",) if energy else ()):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status != 200:
                failures.append("{} -> {}".format(path, resp.status))
        except (OSError, http.client.HTTPException) as exc:  # e.g. a body cut short
            failures.append("{} -> {!r}".format(path, exc))


@pytest.mark.parametrize(
    "http, energy", [(True, False), (False, False), (True, True)], ids=["http", "no-http", "energy"]
)
def test_ten_minutes_in_a_fixed_heap(http, energy, tmp_path, mqtt_broker, mqtt_subscriber):
    need_umqtt(UMQTT)
    if interpreter().bits != 32:
        pytest.skip("the heap budget holds for the 32-bit build (../shared/micropython) only")
    heap = HEAP_ENERGY if energy else HEAP_HTTP if http else HEAP_NO_HTTP
    sub = mqtt_subscriber(mqtt_broker, "hanport/+/state", "hanport/+/diagnostics")
    cfg = device_config(mqtt_broker, http=http, client_id="soak", diagnostics_s=5, energy=energy)
    d = MpDongle(
        tmp_path,
        cfg,
        "aidon",
        speed=SPEED,
        start=START,
        umqtt=UMQTT,
        heap=heap,
        sim_args=("--duration", str(MINUTES * 60)),
    )
    failures = []
    try:
        deadline = time.monotonic() + MINUTES * 60 / SPEED + 60
        while d.sim.poll() is None:
            assert time.monotonic() < deadline, "the simulator did not finish"
            assert d.app.poll() is None, "MicroPython ended:\n" + d.output
            if http:
                poll_http(d, failures, energy)
            time.sleep(1)
        sent = d.sent()
        span = datetime.fromisoformat(sent[-1]["t"]) - datetime.fromisoformat(sent[0]["t"])
        assert span.total_seconds() >= MINUTES * 60 - 15
        assert 3 in {s["list"] for s in sent}

        seen = {}

        def settled():
            diags = [json.loads(m.payload) for m in sub.messages if "/diagnostics" in m.topic]
            states = [m for m in sub.messages if m.topic.endswith("/state")]
            seen.update(states=len(states), last=diags[-1] if diags else None)
            if not diags or diags[-1]["frames_ok"] < len(sent):
                return None
            return diags[-1] if diags[-1]["published"] == len(states) else None

        try:
            last = d.wait_for(settled, timeout=30, what="every frame read and accounted for")
        except AssertionError as exc:
            raise AssertionError(
                "{}: {} sent, {} states at the broker, last diagnostics {}; failures {}; "
                "output:\n{}".format(exc, len(sent), seen["states"], seen["last"], failures,
                                     d.output[-3000:])
            ) from None
        out = d.output
        assert "MemoryError" not in out and "Traceback" not in out, out
        assert failures == [], (failures, out[-3000:])
        assert last["frames_ok"] == len(sent), last
        # Every frame sent is at the broker or counted as superseded.
        assert last["published"] + last["superseded"] == len(sent), last
        print(
            "soak {}: heap {}, {} frames, {} published, {} superseded, mem_free {}".format(
                "http" if http else "no-http",
                heap,
                len(sent),
                last["published"],
                last["superseded"],
                last.get("mem_free"),
            )
        )
    finally:
        d.stop()
