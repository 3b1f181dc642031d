"""`make demo` without MQTT=: the simulator and the app run together and print what they'd send."""

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("meter", ["aidon", "kamstrup"])
def test_demo_prints_live_readings_and_discovery(meter):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "demo.py"),
            "--meter",
            meter,
            "--speed",
            "20",
            "--duration",
            "2.5",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
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
