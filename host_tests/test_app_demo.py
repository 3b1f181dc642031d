"""`make demo`: the simulator and the firmware run together; the first line says which interpreter
and which umqtt.simple run. In the real MicroPython (when at hand) the firmware logs each reading
or publishes to a broker through the real umqtt.simple; with RUNTIME=cpython it runs in CPython
and prints what it would send."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def demo(*args, timeout=90):
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "demo.py"), "--speed", "20", "--http-port", "0"]
        + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("meter", ["aidon", "kamstrup"])
def test_demo_in_cpython_prints_live_readings_and_discovery(meter):
    result = demo("--meter", meter, "--duration", "2.5", "--runtime", "cpython")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("demo: firmware in CPython"), result.stdout
    states = [
        line.split(" ", 2)
        for line in result.stdout.splitlines()
        if line.startswith("publish ") and "/state " in line
    ]
    assert states, result.stdout
    reading = json.loads(states[-1][2])
    assert reading["meter_manufacturer"] == meter.capitalize()
    assert "/config (retained)" in result.stdout
    assert "Traceback" not in result.stderr


def test_demo_in_micropython_logs_readings():
    from mphost import interpreter

    interpreter()  # skips, saying why, without one
    result = demo("--meter", "kaifa", "--duration", "4", "--runtime", "micropython")
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("demo: firmware in MicroPython") and "no umqtt.simple" in first
    assert "I meter: {" in result.stdout and "'Kaifa'" in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_demo_in_micropython_publishes_with_the_real_umqtt(mqtt_broker, mqtt_subscriber):
    from mphost import interpreter, need_umqtt

    interpreter()
    need_umqtt("1.8.0")
    sub = mqtt_subscriber(mqtt_broker, "hanport/+/state")
    where = "{}:{}".format(mqtt_broker.host, mqtt_broker.port)
    result = demo("--meter", "aidon", "--duration", "4", "--mqtt", where)
    assert result.returncode == 0, result.stdout + result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("demo: firmware in MicroPython") and "umqtt.simple 1.8.0" in first
    states = sub.wait_for(1, timeout=10)
    assert json.loads(states[-1].payload)["meter_manufacturer"] == "Aidon"
    assert "Traceback" not in result.stdout + result.stderr


def test_demo_shows_the_energy_message_from_the_first_list3():
    result = demo("--meter", "aidon", "--duration", "4", "--runtime", "cpython")
    assert result.returncode == 0, result.stderr
    energy = [
        json.loads(line.split(" ", 3)[3])
        for line in result.stdout.splitlines()
        if line.startswith("publish ") and "/energy (retained) " in line
    ]
    assert energy, result.stdout
    assert energy[-1]["clock"] == "meter" and energy[-1]["hour_start"][13:19] == ":00:00"
    assert "/energy_capacity/config (retained)" in result.stdout
