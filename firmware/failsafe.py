"""The last resort: the app stopped with an exception nothing else caught; restart after a pause.

main.py imports this before the app, so it is there even when importing the app itself fails
(a MemoryError on a full heap, a broken file). Without it a bad setting found at boot would
leave the dongle at the REPL with no watchdog and no way back but a USB cable. The pause leaves
time to press Ctrl-C on the USB console and keep the REPL.

It also holds `exists()`, which the boot's first steps share (main.py, swap.py, builder.py):
MicroPython has no os.path, and this module is in the heap before any of them runs.
"""

import os
import time

RESTART_AFTER_MS = 30000


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def restart(exc, reset=None, pause_ms=RESTART_AFTER_MS):
    try:
        print("E app: stopped: {!r}; restarting in {} s".format(exc, pause_ms // 1000))
    except Exception:  # even formatting may fail on a full heap
        pass
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(pause_ms)  # pyright: ignore[reportAttributeAccessIssue]
    else:  # CPython
        time.sleep(pause_ms / 1000)
    if reset is None:
        import machine

        reset = machine.reset
    reset()
