"""`make bench` keeps working: a short tools/bench.py run gives every figure (none asserted).

Speed is printed, never checked (machines differ); this only guards the tool against rot.
"""

import json
import subprocess
import sys
from pathlib import Path

import corpus

ROOT = Path(__file__).resolve().parent.parent
corpus.require()


def test_bench_reports_speed_and_memory_for_every_meter_and_list():
    result = subprocess.run(
        [sys.executable, "tools/bench.py", "--json", "--seconds", "0.05", "--leak-frames", "200"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    for run in ("ours_cpython", "amshan_cpython", "ours_micropython_vm"):
        assert figures[run]["fed"] > 0
        assert figures[run]["decoded"] == figures[run]["fed"], run
        assert figures[run]["frames_per_s"] > 0
    assert figures["ours_vs_amshan"] > 0
    groups = {(m["meter"], m["list"]) for m in figures["memory_per_meter_list"]}
    assert {("aidon", "1"), ("kaifa", "3"), ("kamstrup", "2")} <= groups
    assert all(m["alloc_per_frame_max"] > 0 for m in figures["memory_per_meter_list"])
    assert figures["heap_in_use"]["n"] == 200
