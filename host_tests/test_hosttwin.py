"""The `machine` and `network` twins behave the same in the real MicroPython and in CPython: one
script drives them in both. UART from a file (never overruns) and from TCP (bytes beyond rxbuf
waiting at a drain are dropped and counted), the WLAN link dropped from outside through the
HANPORT_WLAN_DOWN file, late watchdog feeds counted, and reset() ending the process with its own
exit status. In the 32-bit build the UART's receive ring is C memory, not MicroPython heap, as on
the chip."""

import socket
import subprocess
import sys

import pytest
import run_mp
from mphost import interpreter

SCRIPT = r"""
import os, sys, time
import machine, network

def sleep_ms(ms):
    time.sleep(ms / 1000)

u = machine.UART(2, rxbuf=8, source="file:" + sys.argv[1])
b = bytearray(5)
print("file", u.any(), u.readinto(b), bytes(b), u.read(), u.read(), u.read(), u.overruns)
t = machine.UART(2, rxbuf=16, source="tcp://127.0.0.1:" + sys.argv[2])
deadline = time.time() + 10
while t.any() < 16 and time.time() < deadline:
    sleep_ms(20)
sleep_ms(300)
print("tcp", t.any(), len(t.read()), t.overruns + t.any() + 16)
w = network.WLAN(network.STA_IF)
w.active(True)
w.connect("home", "pw")
up = w.isconnected()
open(sys.argv[3], "w").close()
down = w.isconnected()
os.remove(sys.argv[3])
print("wlan", up, down, w.isconnected())
d = machine.WDT(timeout=50)
d.feed()
sleep_ms(120)
d.feed()
print("wdt", d.feeds, d.missed, len(machine.unique_id()))
try:  # CPython-only twins must not shadow MicroPython's own modules
    import cryptolib
    crypto = getattr(cryptolib, "__file__", "builtin")
except ImportError:
    crypto = "missing"
try:
    import umqtt.simple
    mqtt = umqtt.simple.__file__
except ImportError:
    mqtt = "missing"
print("shadow", crypto, mqtt)
import gc
if hasattr(gc, "mem_alloc"):  # MicroPython
    gc.collect()
    before = gc.mem_alloc()
    big = machine.UART(1, rxbuf=4096, source="none")
    gc.collect()
    print("ring", gc.mem_alloc() - before)
machine.reset()
print("not reached")
"""


def run(argv, env, tmp_path):
    data = tmp_path / "bytes.bin"
    data.write_bytes(b"hello world bytes")
    server = socket.create_server(("127.0.0.1", 0))
    (tmp_path / "twin_check.py").write_text(SCRIPT)
    proc = subprocess.Popen(
        argv + [str(tmp_path / "twin_check.py"), str(data), str(server.getsockname()[1]),
                str(tmp_path / "down")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    conn, _ = server.accept()
    conn.sendall(bytes(100))  # 100 bytes at once into a 16-byte receive buffer
    out, err = proc.communicate(timeout=60)
    conn.close()
    server.close()
    return proc.returncode, out.splitlines(), err


@pytest.mark.parametrize("where", ["micropython", "cpython"])
def test_twins_behave_alike_in_both_interpreters(where, tmp_path):
    interp = interpreter() if where == "micropython" else None
    env = run_mp.environment(str(tmp_path), None, "none", str(tmp_path / "down"), interp)
    if where == "micropython":
        argv = [interp.path]
    else:
        argv = [sys.executable]
        env["PYTHONPATH"] = run_mp.TWIN
    code, lines, err = run(argv, env, tmp_path)
    assert code == 86, (lines, err)  # machine.RESET_EXIT
    # A file waits for the reader: 8 bytes buffered at a time, all read, no overrun.
    assert lines[0] == "file 8 5 b'hello' b' world b' b'ytes' None 0", lines
    # 100 bytes at once into 16 bytes of buffer: 84 dropped and counted, 16 read.
    assert lines[1] == "tcp 16 16 100", (lines, err)
    assert lines[2] == "wlan True False True", lines
    assert lines[3] == "wdt 2 1 6", lines
    if where == "micropython":
        # No folder of CPython-only twins on the path: cryptolib is built in (PyPI build) or in
        # the 32-bit build's frozen ROM, with the real umqtt.simple beside it as on the board
        # (a frozen module's __file__ is relative).
        assert lines[4] in ("shadow builtin missing", "shadow cryptolib.py umqtt/simple.py"), lines
        # The 4 KB ring is C memory in the 32-bit build, as the chip's UART driver keeps it
        # outside MicroPython's heap; the UART object itself stays small.
        ring = int(lines[5].split()[1])
        if interp.bits == 32:
            assert ring < 1024, lines
        else:
            assert ring >= 4096, lines
    assert "WDT would have reset the chip" in err and "machine.reset()" in err
    assert "not reached" not in lines


def test_a_staged_script_finds_its_modules_as_the_board_does(tmp_path):
    # The board runs main.py with "" first on sys.path, so app.py is "app.mpy"; each module's
    # __file__ is a qstr that stays in the heap, so a long absolute path would cost heap the
    # board never spends (about 3 KB for the dongle's modules in a pytest folder).
    interp = interpreter()
    (tmp_path / "probe.py").write_text("import sys, mod\nprint(repr(sys.path[0]), mod.__file__)\n")
    (tmp_path / "mod.py").write_text("x = 1\n")
    env = run_mp.environment(str(tmp_path), None, "none", None, interp)
    out = subprocess.run(
        run_mp.command(interp, "64k", "probe.py"), cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=60,
    )
    assert out.stdout.split() == ["''", "mod.py"], (out.stdout, out.stderr)
