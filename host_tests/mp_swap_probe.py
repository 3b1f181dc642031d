"""Run in the real MicroPython, in a staged device folder: one step of an update's switch, with
a power cut at a chosen file operation (test_update.py kills the process where it waits).

    micropython mp_swap_probe.py commit VERSION CUT   old manifest, state "forward", then boot
    micropython mp_swap_probe.py boot 0 CUT           what main.py does first at every start
    micropython mp_swap_probe.py crash 0 CUT          the app stopped while on trial
CUT is the number of the file operation (rename, remove, mkdir, rmdir) before which the power
goes; 0 runs to the end and prints how many there were.
"""

import os
import sys
import time

import swap


class CutOS:
    """os for swap.py and web/update.py, with a power cut before operation number `at`."""

    def __init__(self, at):
        self.at = at
        self.ops = 0

    def _op(self):
        self.ops += 1
        if self.ops == self.at:
            print("CUT", self.ops)
            while True:  # the test kills the process here
                time.sleep(1)

    def rename(self, a, b):
        self._op()
        os.rename(a, b)

    def remove(self, path):
        self._op()
        os.remove(path)

    def mkdir(self, path):
        self._op()
        os.mkdir(path)

    def rmdir(self, path):
        self._op()
        os.rmdir(path)

    def stat(self, path):
        return os.stat(path)

    def listdir(self, path):
        return os.listdir(path)


def main():
    what, version, cut = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shim = CutOS(cut)
    swap.os = shim
    if what == "commit":
        from web import update

        update.os = shim
        update._write_old_manifest()
        swap.write("forward", 0, version)
        print("STATE", swap.boot())
    elif what == "boot":
        print("STATE", swap.boot())
    else:
        print("UNDONE", swap.crashed(RuntimeError("crashed in the test")))
    print("OPS", shim.ops)


main()
