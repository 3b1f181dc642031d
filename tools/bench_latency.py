#!/usr/bin/env python3
"""Latency from the last byte of a meter frame to its state message at a real broker.

Why: the dongle must publish promptly however its tasks are scheduled. This measures the
whole path on a PC: a TCP "meter port" -> the unchanged application (tools/run_host.py, its
own process) -> mosquitto on 127.0.0.1 -> a subscriber in this process. Each frame is sent
whole but its last byte, then the last byte alone, and the clock starts when that byte is
written. Prints min / median / p95 / max in ms (`--json` for machines). Needs mosquitto.
"""

import argparse
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(HERE, "hosttwin"), os.path.join(ROOT, "host_tests")]

import hanencode  # noqa: E402
from brokers import Broker  # noqa: E402
from umqtt.simple import MQTTClient  # noqa: E402

LIST2 = {
    "list_ver_id": "AIDON_V0001",
    "meter_id": "7359992890941742",
    "meter_type": "6534",
    "active_power_import": 1000,
    "active_power_export": 0,
    "reactive_power_import": 0,
    "reactive_power_export": 0,
    "current_l1": 4.2,
    "voltage_l1": 231.0,
}


def subscriber(broker, arrivals):
    """A thread that puts (arrival time, payload) of every state message on `arrivals`."""
    client = MQTTClient("latency-bench", broker.host, broker.port, keepalive=60)
    client.set_callback(lambda topic, msg: arrivals.put((time.perf_counter(), msg)))
    client.connect()
    client.subscribe(b"hanport/+/state")

    def loop():
        try:
            while True:
                client.wait_msg()
        except OSError:
            pass

    threading.Thread(target=loop, daemon=True).start()
    return client


def wait_power(arrivals, power, timeout=10.0):
    deadline = time.perf_counter() + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError("no state message with active_power_import=%d" % power)
        when, msg = arrivals.get(timeout=left)
        if json.loads(msg).get("active_power_import") == power:
            return when


def measure(frames, workdir):
    broker = Broker(workdir).start()
    meter_port = socket.socket()
    meter_port.bind(("127.0.0.1", 0))
    meter_port.listen(1)
    app = subprocess.Popen(
        [
            sys.executable,
            os.path.join(HERE, "run_host.py"),
            "--uart",
            "tcp://127.0.0.1:%d" % meter_port.getsockname()[1],
            "--mqtt",
            "%s:%d" % (broker.host, broker.port),
            "--diagnostics",
            "0",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        arrivals = queue.Queue()
        client = subscriber(broker, arrivals)
        conn, _ = meter_port.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(hanencode.build_frame("Aidon", LIST2))  # the meter id: MQTT connects
        wait_power(arrivals, LIST2["active_power_import"], timeout=20.0)
        latencies = []
        for i in range(frames):
            power = 2000 + i
            frame = hanencode.build_frame("Aidon", {"active_power_import": power})
            conn.sendall(frame[:-1])
            time.sleep(0.05)
            start = time.perf_counter()
            conn.sendall(frame[-1:])
            latencies.append((wait_power(arrivals, power) - start) * 1000)
            time.sleep(0.02)
        client.disconnect()
        conn.close()
        return latencies
    finally:
        app.terminate()
        app.wait(timeout=10)
        broker.stop()
        meter_port.close()


def summary(latencies):
    ordered = sorted(latencies)
    return {
        "frames": len(ordered),
        "min_ms": round(ordered[0], 2),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        result = summary(measure(args.frames, workdir))
    if args.json:
        print(json.dumps(result))
    else:
        print(
            "frame -> broker latency over {frames} frames: min {min_ms} ms, median {median_ms} "
            "ms, p95 {p95_ms} ms, max {max_ms} ms (target: under 20 ms)".format(**result)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
