"""The line-setting search in the real 32-bit MicroPython interpreter: the unchanged firmware
(main.py, .mpy, fixed heap) with uart.baud "auto", reading the simulator's serial line over TCP
(`simulate.py --baud/--parity/--invert`, sampled by the UART twin at whatever the search sets).

Each of the eight settings (with a meter sending every 2.5 s, and two with one sending every
10 s) is found within the stated bound (test_linefind.worst_case_s) plus slack for a shared
machine, and saved in config.json, where the next boot starts.
Skipped, saying why, without a MicroPython interpreter (see tools/run_mp.py).
"""

import json
import re
import time

import pytest
from mphost import MpDongle, device_config
from test_linefind import worst_case_s

SLACK_S = 10  # start-up of the interpreter and a busy machine; the bound itself is the budget

# (setting, simulator arguments, the meter's cadence in seconds)
CASES = [  # fmt: skip
    ("2400 8E1", ("--baud", "2400", "--parity", "E"), 2.5),
    ("2400 8E1 inverted", ("--baud", "2400", "--parity", "E", "--invert", "--format", "mbus"),
     2.5),
    ("2400 8N1", ("--baud", "2400", "--parity", "N"), 2.5),
    ("2400 8N1 inverted", ("--baud", "2400", "--parity", "N", "--invert"), 2.5),
    ("115200 8N1", ("--baud", "115200", "--parity", "N", "--format", "p1"), 2.5),
    ("115200 8N1 inverted", ("--baud", "115200", "--parity", "N", "--invert", "--format", "p1"),
     2.5),
    ("9600 8N1", ("--baud", "9600", "--parity", "N", "--format", "p1"), 2.5),
    ("9600 8N1 inverted", ("--baud", "9600", "--parity", "N", "--invert", "--format", "mbus"),
     2.5),
]
# A meter that sends only every 10 s (a Norwegian Kamstrup): one setting that gives a good
# frame at once (2400 8N1 reads it, 8E1 is then ruled out) and one found by the first bursts.
SLOW_CASES = [  # fmt: skip
    ("2400 8N1", ("--baud", "2400", "--parity", "N"), 10.0),
    ("115200 8N1 inverted", ("--baud", "115200", "--parity", "N", "--invert", "--format", "p1"),
     10.0),
]


def start(tmp_path, sim_args, found="", meter="aidon"):
    cfg = device_config(http=False)
    cfg["uart"]["found"] = found
    return MpDongle(
        tmp_path, cfg, meter, speed=1, sim_args=sim_args, uart_scheme="line:tcp://"
    )


def wait_output(d, pattern, timeout):
    """Seconds until `pattern` (a regex) shows in the output; fails after `timeout`."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if re.search(pattern, d.output):
            return time.monotonic() - began
        assert d.app.poll() is None, "MicroPython ended:\n" + d.output
        time.sleep(0.05)
    raise AssertionError("no {!r} in the output:\n{}".format(pattern, d.output))


@pytest.mark.parametrize(
    "line, sim_args, cadence_s",
    CASES + SLOW_CASES,
    ids=[c[0] for c in CASES] + [c[0] + " every 10 s" for c in SLOW_CASES],
)
def test_search_finds_each_setting_in_micropython(tmp_path, line, sim_args, cadence_s):
    d = start(tmp_path, sim_args, meter="aidon" if cadence_s < 5 else "kamstrup")
    try:
        wait_output(d, "searching the line settings", 60)
        lock_s = wait_output(
            d, re.escape("line settings found: " + line + "\n"), worst_case_s(cadence_s) + 60
        )
        print("{}: found in {:.1f} s after the search began".format(line, lock_s))
        assert lock_s <= worst_case_s(cadence_s) + SLACK_S
        readings = d.output.count("I meter: {")
        wait_output(d, "(?s)found: .*" + "I meter: {.*" * (readings + 2), 30 + 8 * cadence_s)
        d.assert_clean()
    finally:
        d.stop()
    with open(tmp_path / "fs" / "config.json") as f:
        saved = json.load(f)
    assert saved["uart"] == dict(saved["uart"], baud="auto", found=line)


def test_the_next_boot_starts_on_the_saved_setting(tmp_path):
    d = start(tmp_path, ("--baud", "115200", "--parity", "N", "--invert", "--format", "p1"),
              found="115200 8N1 inverted")
    try:
        wait_output(d, "line 115200 8N1 inverted \\(saved\\)", 60)
        wait_output(d, "I meter: {", 30)
        assert "searching" not in d.output
        d.assert_clean()
    finally:
        d.stop()


def test_heap_cost_of_the_search_in_32_bit_micropython(tmp_path):
    """linefind as .mpy, in a 96 KB heap: its code and a LineFinder; nothing per pass."""
    import os
    import pathlib
    import subprocess

    import run_mp
    from mphost import interpreter

    interp = interpreter()
    stage = run_mp.stage(str(tmp_path / "fs"), device_config(http=False))
    probe = pathlib.Path(__file__).with_name("mp_linefind_probe.py")
    env = dict(os.environ, MICROPYPATH=":".join([".frozen", stage]))
    out = subprocess.run(
        run_mp.command(interp, "96k", str(probe)), env=env, cwd=stage, capture_output=True,
        text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    cost = json.loads(out.stdout.strip().splitlines()[-1])
    print("line search heap (32-bit MicroPython, .mpy):", cost)
    scale = 1 if interp.bits == 32 else 1.5  # the PyPI build's 8-byte words: about 1.4 times
    assert cost["module"] + cost["finder"] <= 4096 * scale
    assert cost["steps"] == 0  # a pass allocates nothing, status texts apart
    # Gone once the line is found, but for the names the .mpy interned (MicroPython never
    # frees its qstr pool): a few hundred bytes, once.
    assert cost["dropped"] <= 512 * scale
