"""Every firmware module compiles to ESP32 bytecode with mpy-cross (-march=xtensawin).

CPython accepts syntax the device compiler rejects (and the other way round), so a file that
imports fine in the host tests can still fail to load on the dongle. This catches it on the host.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware"
MPY_CROSS = Path(sys.executable).parent / "mpy-cross"


def firmware_sources():
    return sorted(p for p in FIRMWARE.rglob("*.py") if "__pycache__" not in p.parts)


def compile_errors(source, target):
    """mpy-cross's complaint about SOURCE, or None when it compiles to TARGET."""
    result = subprocess.run(
        [str(MPY_CROSS), "-march=xtensawin", "-o", str(target), str(source)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not target.is_file():
        return (result.stderr or result.stdout or "no output file").strip()
    return None


def test_firmware_has_python_sources():
    assert firmware_sources(), "no .py files under %s" % FIRMWARE


def test_every_firmware_module_compiles_for_xtensawin(tmp_path):
    failures = []
    for source in firmware_sources():
        target = tmp_path / (source.relative_to(FIRMWARE).as_posix().replace("/", ".") + ".mpy")
        error = compile_errors(source, target)
        if error is not None:
            failures.append("%s: %s" % (source.relative_to(ROOT), error))
    assert not failures, "mpy-cross -march=xtensawin failed for:\n" + "\n".join(failures)


def test_rejects_syntax_the_device_compiler_cannot_build(tmp_path):
    # Guards the check itself: a file mpy-cross cannot compile must be reported.
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n    pass\n")
    assert compile_errors(bad, tmp_path / "bad.mpy") is not None
