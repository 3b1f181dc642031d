"""Run scripts in the MicroPython WebAssembly VM (tools/mpvm.mjs) from host tests.

Tests that prove firmware code on MicroPython go through here, so they all find node and the
runner the same way and fail with one clear message when `make setup` has not installed the VM.
"""

import shutil
import subprocess
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
