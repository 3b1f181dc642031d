"""httpd.py's request path inside the MicroPython VM gives the same answers as on CPython.

host_tests/vm_httpd.py drives the server with fake streams (the VM has no sockets) and prints
each request's status, bytes written and memory; this runs it on both interpreters, compares
the answers and prints the memory figures (reported in README.md, never asserted).
"""

import json
import os
import subprocess
import sys

import mpvm

SCRIPT = mpvm.ROOT / "host_tests" / "vm_httpd.py"
EXPECTED = {"reading": 200, "metrics": 200, "missing": 404, "garbage": 400, "oversized": 431}


def result_of(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_request_path_answers_the_same_on_micropython_and_cpython():
    vm = result_of(mpvm.run(SCRIPT, paths=[mpvm.FIRMWARE], timeout=120))
    env = dict(os.environ, PYTHONPATH=str(mpvm.FIRMWARE))
    cpython = result_of(
        subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env)
    )
    for name, status in EXPECTED.items():
        assert vm["requests"][name]["status"] == status, name
        assert cpython["requests"][name]["status"] == status, name
    # Same bytes on the wire, but for float formatting (MicroPython prints fewer digits).
    for name in ("missing", "garbage", "oversized"):
        assert vm["requests"][name]["bytes_out"] == cpython["requests"][name]["bytes_out"]
    assert vm["counters"] == cpython["counters"]
    print("\nhttpd memory: server with slots {} B (MicroPython), {} B (CPython)".format(
        vm["server_alloc"], cpython["server_alloc"]))
    for name in EXPECTED:
        print("  {:<9} MicroPython allocates {:>6} B; CPython peak {:>6} B; {} B out".format(
            name, vm["requests"][name]["alloc"], cpython["requests"][name]["alloc"],
            vm["requests"][name]["bytes_out"]))
