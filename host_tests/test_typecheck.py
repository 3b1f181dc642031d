"""firmware/ type-checks with pyright against the MicroPython ESP32 stubs.

CPython tests cannot see a call that exists in CPython but not on the device (`time.monotonic`,
an `ssl` attribute); the stubs describe the device's modules, so pyright can. Settings live in
pyrightconfig.json; this test runs the pinned pyright (package-lock.json) with the venv's stubs.
"""

import collections
import json
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYRIGHT = ROOT / "node_modules" / "pyright" / "index.js"

# Findings already reported to their owners, as (file, rule): how many are tolerated. Each is a
# known false positive of a deliberate CPython/MicroPython shim or a typing nit; a new finding of
# the same kind beyond the count fails. Remove an entry when the owner silences or fixes it.
KNOWN_FINDINGS = {
    # const/ticks fallbacks differ from the stubs' positional-only signatures; time.monotonic
    # is the CPython branch of the ticks shim (owner: app)
    ("firmware/compat.py", "reportAssignmentType"): 4,
    ("firmware/compat.py", "reportAttributeAccessIssue"): 1,
    # SSLContext.check_hostname does not exist on MicroPython; the code guards it (owner: app)
    ("firmware/mqttclient.py", "reportAttributeAccessIssue"): 1,
    # callables assigned over attributes initialised with another type (owner: app)
    ("firmware/app.py", "reportArgumentType"): 1,
    # hanport.Reader's buffer_size also takes the buffer itself, made early at boot (owner: app)
    ("firmware/builder.py", "reportArgumentType"): 1,
    # kind_of() returns None for a non-sensor key and config_payload unpacks it (owner: app)
    ("firmware/discovery.py", "reportGeneralTypeIssues"): 1,
}


def pyright(*args, cwd=ROOT):
    """Run the pinned pyright with the venv's interpreter and stubs; returns its JSON report."""
    node = shutil.which("node")
    if node is None or not PYRIGHT.is_file():
        pytest.fail("pyright not installed: run `make setup` (needs node and npm)")
    cmd = [
        node,
        str(PYRIGHT),
        "--outputjson",
        "--pythonpath",
        sys.executable,
        "--typeshedpath",
        sysconfig.get_paths()["purelib"],
        *[str(a) for a in args],
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)
    try:
        return json.loads(result.stdout)
    except ValueError:
        pytest.fail("pyright gave no report (exit %d):\n%s" % (result.returncode, result.stderr))


def errors_of(report):
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


def describe(diag):
    line = diag.get("range", {}).get("start", {}).get("line", -1) + 1
    return "%s:%d: %s [%s]" % (
        diag["file"],
        line,
        diag["message"].splitlines()[0],
        diag.get("rule"),
    )


def test_firmware_type_checks_against_micropython_stubs():
    report = pyright("--project", ROOT / "pyrightconfig.json")
    assert report["summary"]["filesAnalyzed"] > 0
    by_kind = collections.defaultdict(list)
    for diag in errors_of(report):
        key = (Path(diag["file"]).relative_to(ROOT).as_posix(), diag.get("rule"))
        by_kind[key].append(diag)
    unexpected = []
    for key, diags in sorted(by_kind.items(), key=lambda kv: str(kv[0])):
        if len(diags) > KNOWN_FINDINGS.get(key, 0):
            unexpected += [describe(d) for d in diags]
    stale = [k for k, n in KNOWN_FINDINGS.items() if len(by_kind.get(k, ())) < n]
    if stale:
        warnings.warn("type-check findings fixed, shrink KNOWN_FINDINGS: %s" % stale, stacklevel=1)
    assert not unexpected, "pyright errors in firmware/:\n" + "\n".join(unexpected)


def test_flags_cpython_only_calls_and_accepts_device_modules(tmp_path):
    # Guards the setup: with CPython's typeshed instead of the stubs, both lines would pass.
    (tmp_path / "probe.py").write_text(
        "import machine\nimport time\n\nmachine.Pin(2)\ntime.ticks_ms()\ntime.monotonic()\n"
    )
    report = pyright("probe.py", cwd=tmp_path)
    found = [(d["range"]["start"]["line"] + 1, d.get("rule")) for d in errors_of(report)]
    assert found == [(6, "reportAttributeAccessIssue")], found
