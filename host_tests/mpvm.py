"""Run scripts in the MicroPython WebAssembly VM (tools/mpvm.mjs) from host tests.

Tests that prove firmware code on MicroPython go through here, so they all find node and the
runner the same way and fail with one clear message when `make setup` has not installed the VM.
"""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tools" / "mpvm.mjs"
FIRMWARE = ROOT / "firmware"
VM_PACKAGE = ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


def command(script, *args, paths=(), data=()):
    """The argv that runs SCRIPT with ARGS in the VM; fails the test when the VM is missing."""
    node = shutil.which("node")
    if node is None or not VM_PACKAGE.is_dir():
        pytest.fail("MicroPython VM not installed: run `make setup` (needs node and npm)")
    cmd = [node, str(RUNNER)]
    for p in paths:
        cmd += ["--path", str(p)]
    for d in data:
        cmd += ["--data", str(d)]
    return cmd + [str(script)] + [str(a) for a in args]


def run(script, *args, paths=(), data=(), stdin_text=None, timeout=300):
    """Run SCRIPT in the VM to completion; returns the CompletedProcess (text output)."""
    return subprocess.run(
        command(script, *args, paths=paths, data=data),
        input=stdin_text,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


PROBE = ROOT / "tools" / "parser_probe.py"


def write_frames(path, records):
    """A frames file for tools/parser_probe.py: one {"id", "hex"} JSON line per record."""
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps({"id": record["id"], "hex": record["hex"]}) + "\n")
    return path


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def probe(*args, data=(), vm=True):
    """Run tools/parser_probe.py in the VM (vm=True) or under this CPython; its JSON lines."""
    if vm:
        result = run(PROBE, *args, data=data)
    else:
        result = subprocess.run(
            [sys.executable, str(PROBE)] + [str(a) for a in args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=ROOT,
        )
    where = "MicroPython VM" if vm else "CPython"
    assert result.returncode == 0, "parser_probe %s failed in %s:\n%s" % (
        args[0],
        where,
        result.stderr,
    )
    return json_lines(result.stdout)


def same_values(a, b, rel=1e-9):
    """Equal JSON values, floats within REL (MicroPython may format them differently)."""
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float))
            and isinstance(b, (int, float))
            and type(a) is type(b)
            and math.isclose(a, b, rel_tol=rel, abs_tol=rel)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_values(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_values(x, y, rel) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
