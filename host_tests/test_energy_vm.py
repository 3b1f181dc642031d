"""The energy accounting on MicroPython: the same hours as CPython, and its RAM budget.

tools/energy_probe.py is the one body every interpreter runs: CPython (the reference), the
WebAssembly VM (tools/mpvm.mjs) and, when it has been built, the 32-bit unix MicroPython
(host_tests/mpunix.py finds it) with the dongle's 96 KB heap (4-byte pointers and single floats
as on the ESP32). The recording comes from the simulator with faults, as in
test_energy_month.py.
"""

import json
import subprocess
import sys

import pytest

import mpunix
import mpvm
from test_energy_month import MARCH, OCTOBER, generate

PROBE = mpvm.ROOT / "tools" / "energy_probe.py"
HELD_BUDGET = 4096  # bytes the accounting holds (60 min resolution)
READING_BUDGET = 64  # bytes a list 1 or list 2 reading may allocate
ANCHOR_BUDGET = 8192  # bytes (short-lived) a list 3 may allocate, a gap's split included

OCTOBER_FAULTY = dict(
    OCTOBER,
    drop=["2026-10-25T02:00:00+02:00", "2026-10-26T18:00:00+01:00"],
    silence=["2026-10-25T10:30:00+01:00/2026-10-25T13:10:00+01:00"],
)


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def cpython(*args):
    out = subprocess.run(
        [sys.executable, str(PROBE), *map(str, args)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    return lines(out.stdout)


def vm(*args, data=()):
    out = mpvm.run(PROBE, *args, data=data, timeout=900)
    assert out.returncode == 0, out.stderr
    return lines(out.stdout)


def mp32(*args):
    out = subprocess.run(
        [mpunix.require(), "-X", "heapsize=96k", str(PROBE), *map(str, args)],
        check=True, capture_output=True, text=True, timeout=900,
    )
    return lines(out.stdout)


@pytest.fixture(scope="module")
def october(tmp_path_factory):
    path = tmp_path_factory.mktemp("energy_vm") / "october.txt"
    generate(OCTOBER_FAULTY, path)
    return path


@pytest.fixture(scope="module")
def march(tmp_path_factory):
    path = tmp_path_factory.mktemp("energy_vm") / "march.txt"
    generate(MARCH, path)
    return path


def test_the_vm_closes_the_same_periods_as_cpython(october):
    reference = cpython("run", october)
    assert len(reference) > 70 and any(line.get("est") for line in reference)
    assert vm("run", october, data=[october]) == reference


@pytest.fixture(scope="module")
def march_reference(march):
    reference = cpython("run", march)
    assert sum(1 for line in reference if "p" in line) == 31 * 24 - 1
    return reference


def test_the_vm_gives_cpythons_month(march, march_reference):
    assert vm("run", march, data=[march]) == march_reference


def test_the_32_bit_micropython_gives_cpythons_month(march, march_reference):
    assert mp32("run", march) == march_reference


def check_budget(figures):
    assert figures["held"] <= HELD_BUDGET, figures
    assert figures["alloc"]["1"] <= READING_BUDGET, figures
    assert figures["alloc"]["2"] <= READING_BUDGET, figures
    assert 0 < figures["alloc"]["3"] <= ANCHOR_BUDGET, figures
    after_10, after_all = figures["heap_after"]
    assert after_all <= after_10, "the heap must not grow with the readings: {}".format(figures)


def test_the_accounting_stays_within_its_ram_budget_in_the_vm(october):
    (figures,) = vm("memory", october, data=[october])
    check_budget(figures)


def test_the_accounting_stays_within_its_ram_budget_in_a_96k_heap(october):
    (figures,) = mp32("memory", october)
    check_budget(figures)


def test_bench_energy_reports_every_figure():
    out = subprocess.run(
        [sys.executable, "tools/bench_energy.py", "--json"],
        check=True, capture_output=True, text=True, timeout=900, cwd=mpvm.ROOT,
    )
    figures = json.loads(out.stdout)
    assert figures["readings"] > 4000
    check_budget(figures["micropython_vm"])
    assert figures["cpython_readings_per_s"] > 0 and figures["vm_readings_per_s"] > 0


def test_the_state_and_hour_log_work_alike_on_micropython(october, tmp_path):
    """Saver, hour log and the damaged-file paths, with no read larger than the heap allows."""
    folders = {name: tmp_path / name for name in ("cpython", "vm", "mp32")}
    for folder in folders.values():
        folder.mkdir()
    reference = cpython("store", october, folders["cpython"])
    assert reference[1] == {"load": None} and reference[2] == {"same": True}
    assert reference[3]["bad"] == 1 and "too large" in reference[4]["load"]
    vm_lines = vm("store", october, folders["vm"], data=[october, folders["vm"]])
    assert [line for line in vm_lines if "load" not in line] == [
        line for line in reference if "load" not in line
    ]
    mp_lines = mp32("store", october, folders["mp32"])
    assert [line for line in mp_lines if "load" not in line] == [
        line for line in reference if "load" not in line
    ]
    with open(folders["cpython"] / "energy.json.hours", "rb") as a:
        with open(folders["mp32"] / "energy.json.hours", "rb") as b:
            assert a.read() == b.read()
