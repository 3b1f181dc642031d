"""tools/bench_latency.py runs end to end and reports its figures (speed is not asserted)."""

import json
import subprocess
import sys

import pytest

import brokers
import corpus


def test_latency_bench_reports_every_frame():
    if brokers.find_tool("mosquitto") is None:
        pytest.skip("mosquitto not installed: run `make debs`")
    result = subprocess.run(
        [sys.executable, str(corpus.ROOT / "tools" / "bench_latency.py"), "--frames", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["frames"] == 3
    assert 0 < figures["min_ms"] <= figures["median_ms"] <= figures["max_ms"]
