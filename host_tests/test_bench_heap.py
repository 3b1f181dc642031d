"""`make bench`'s heap figures keep working: a short tools/bench_heap.py run in the real
MicroPython gives every figure (none asserted beyond being there and plausible)."""

import json
import subprocess
import sys

import run_mp
from mphost import interpreter, need_umqtt
from webhost import ROOT


def test_bench_heap_reports_groups_build_peak_and_largest_free_block():
    interpreter()
    need_umqtt(run_mp.UMQTT_DEFAULT)
    result = subprocess.run(
        [sys.executable, "tools/bench_heap.py", "--json", "--minutes", "0.5"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = json.loads(result.stdout.splitlines()[-1])
    figures = out["figures"]
    for label in ("group:parser", "group:MQTT", "group:HTTP", "group:portal", "imported",
                  "built", "after_run"):
        assert figures[label]["live"] > 0 and figures[label]["max_free"] > 0, label
    assert figures["peak"]["live"] >= figures["built"]["live"] > figures["imported"]["live"]
    assert not out["memory_error"] and out["http_failures"] == 0
