"""The energy accounting's state on flash: one small JSON file, written atomically.

Why: hours, the month's daily maxima and the last anchor must survive reboots and power cuts,
but flash wears, so `Saver` writes at most once per closed period (once an hour: 8,784 writes
in a leap year, a few kB each; littlefs spreads them over the whole partition) plus when asked
on a clean restart. The file is JSON followed by a line with its length and CRC-16, written to
a temporary file that is then renamed over the old one (as `config.save` does), so a power cut
leaves the old or the new state. A missing, truncated or corrupt file is reported and the
accounting starts fresh; it never raises.
"""

import json
import os

from hanport.crc16 import crc16

PATH = "energy.json"


def save(energy, path=PATH):
    """Write `energy`'s state atomically (temporary file + rename)."""
    text = json.dumps(energy.dump(), separators=(",", ":"))
    data = text.encode()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.write("\n{} {:04x}\n".format(len(data), crc16(data, 0, len(data))).encode())
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT cannot rename over an existing file; littlefs and POSIX can.
        os.remove(path)
        os.rename(tmp, path)


def load(energy, path=PATH):
    """Load the state into `energy`; return None, or what was wrong (then it starts fresh)."""
    raw = _read(path)
    if raw is None:
        # A power cut between remove and rename (FAT) leaves only the new state's copy.
        raw = _read(path + ".tmp")
        if raw is None or _check(raw) is not None:
            energy.reset()
            return "no energy state ({}): starting fresh".format(path)
    problem = _check(raw)
    if problem is None:
        try:
            energy.load(json.loads(raw[: raw.rfind(b"\n", 0, len(raw) - 1)]))
            return None
        except ValueError as exc:
            problem = str(exc)
    energy.reset()
    return "energy state {} {}: starting fresh".format(path, problem)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _check(raw):
    end = raw.rfind(b"\n", 0, len(raw) - 1)
    if end < 0 or not raw.endswith(b"\n"):
        return "is truncated"
    try:
        size, crc = raw[end + 1 : -1].split()
        size = int(size)
        crc = int(crc, 16)
    except ValueError:
        return "is truncated"
    if size != end or crc16(raw, 0, end) != crc:
        return "is corrupt (checksum)"
    return None


class Saver:
    """Saves after each newly closed period, at most once per period."""

    def __init__(self, energy, path=PATH):
        self.energy = energy
        self.path = path
        self.saved_p = energy.closed_p
        self.writes = 0
        self.errors = 0

    def step(self, force=False):
        """Save if a period closed since the last save (or `force`); return the problem or None."""
        if not force and self.energy.closed_p == self.saved_p:
            return None
        self.saved_p = self.energy.closed_p
        try:
            save(self.energy, self.path)
            self.writes += 1
            return None
        except OSError as exc:
            self.errors += 1
            return "energy state not saved: {}".format(exc)
