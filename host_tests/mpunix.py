"""Run a script in the real 32-bit MicroPython unix port, with the real umqtt.simple.

Why: some faults live in MicroPython or in micropython-lib's umqtt.simple (str lengths counted in
characters, `settimeout(None)` in connect), where the CPython twins behave differently. Tests
that must see them run a small script here and skip, saying why, when the interpreter is absent.
"""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "micropython"
FIRMWARE = ROOT / "firmware"
STUBS = ROOT / "host_tests" / "mpstubs"
UMQTT_VERSIONS = ("1.4.0", "1.8.0")
_FALLBACK = pathlib.Path("/tmp/mp/micropython32/micropython")


def interpreter():
    """The 32-bit MicroPython: $MICROPYTHON32, else build.sh's output in build/, else /tmp/mp."""
    candidates = [
        os.environ.get("MICROPYTHON32", ""),
        str(ROOT / "build" / "micropython32" / "micropython"),
        str(_FALLBACK),
    ]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    return None


def umqtt_dir(version):
    return SHARED / "lib" / "umqtt-{}".format(version)


def require(version=None):
    """The interpreter's path; skips the test when it or umqtt `version` is missing."""
    path = interpreter()
    if path is None:
        pytest.skip("no 32-bit MicroPython: build it with ../shared/micropython/build.sh "
                    "build/micropython32 or set MICROPYTHON32")
    if version is not None and not umqtt_dir(version).is_dir():
        pytest.skip("umqtt.simple {} is not in {}".format(version, SHARED / "lib"))
    return path


def run(script, *args, umqtt=None, timeout=60, heap="96k"):
    """Run host_tests/`script` with firmware/ (and umqtt `umqtt`) importable; CompletedProcess.

    The firmware's hardware modules (machine, network) come from host_tests/mpstubs, which only
    lets hw.py import; a test that needs hardware does not belong here.
    """
    path = require(umqtt)
    dirs = [str(STUBS), ".frozen", str(FIRMWARE)]  # stubs before the frozen machine twin
    if umqtt is not None:
        dirs.insert(0, str(umqtt_dir(umqtt)))
    env = dict(os.environ, MICROPYPATH=":".join(dirs))
    return subprocess.run(
        [path, "-X", "heapsize=" + heap, str(ROOT / "host_tests" / script), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
