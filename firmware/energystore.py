"""The energy accounting's state on flash: a small JSON file written atomically, an hour log.

Why: hours, the month's daily maxima and the last anchor must survive reboots and power cuts,
but flash wears, so `Saver` writes at most once per closed period (once an hour: 8,784 writes
in a leap year, a few kB each; littlefs spreads them over the whole partition) plus when asked
on a clean restart. The file is JSON followed by a line with its length and CRC-16, written to
a temporary file that is then renamed over the old one (as `config.save` does), so a power cut
leaves the old or the new state. A missing, truncated, oversized or corrupt file is reported
and the accounting starts fresh; it never raises. `HourLog` keeps the month's hours.
"""

import json
import os

import osloclock
from hanport.hdlc import crc16

PATH = "energy.json"
MAX_BYTES = 16384  # a state is about 2 KB; anything much larger is not ours
_LINE_MAX = 64  # an hour log line is about 25 bytes
_TOO_LARGE = b"?"
COUNTERS = ("stale", "backwards", "estimated", "dropped", "meter_changes", "jumps", "bad")


def dump(acc):
    """The accounting's state as plain data (what `save` writes and `restore` takes)."""
    pend = []
    for i in range(acc.pd_n):
        pend.append([acc.pd_p[i]] + list(acc.pd_j[4 * i : 4 * i + 4]) + [acc.pd_cov[i]])
    hours = []
    for p, wh, est in acc.hours():
        hours.append([p] + list(wh) + [1 if est else 0])
    days = []
    cap = acc.capacity
    for i in range(31):
        if cap.d_wh[i] >= 0:
            days.append([i + 1, cap.d_wh[i], cap.d_p[i]])
    return {
        "v": 1,
        "period_s": acc.period_s,
        "meter_id": acc.meter_id,
        "anchor": [acc.a_p, acc.a_wall] + list(acc.a_reg) if acc.a_p >= 0 else None,
        "pending": pend,
        "hours": hours,
        "month": cap.month,
        "days": days,
        "counters": acc.counters(),
    }


def restore(acc, state):
    """Take `dump` data back into `acc`; ValueError (and a fresh start) when it does not fit."""
    acc.reset()
    try:
        _restore(acc, state)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
        acc.reset()
        raise ValueError("energy state unusable: {}".format(exc))


def _restore(acc, state):
    if state.get("v") != 1 or state["period_s"] != acc.period_s:
        raise ValueError("another version or resolution")
    for p, w0, w1, w2, w3, est in state["hours"][-acc.ring_n :]:
        acc.r_p[acc.r_head] = p
        for c, v in enumerate((w0, w1, w2, w3)):
            acc.r_wh[4 * acc.r_head + c] = v
        acc.r_flags[acc.r_head] = 1 if est else 0
        acc.r_head = (acc.r_head + 1) % acc.ring_n
        acc.r_len += 1
        acc.closed_p = p
    cap = acc.capacity
    cap.month = int(state["month"])
    for mday, wh, p in state["days"]:
        cap.d_wh[mday - 1] = wh
        cap.d_p[mday - 1] = p
    for name, value in state["counters"].items():
        if name in COUNTERS:
            setattr(acc, name, int(value))
    acc.meter_id = state["meter_id"]
    anchor = state["anchor"]
    if anchor is not None:
        acc.a_p = anchor[0]
        acc.a_wall = anchor[1]
        for c in range(4):
            acc.a_reg[c] = anchor[2 + c]
        if acc.closed_p < 0:
            acc.closed_p = acc.a_p - 1
    for row in state["pending"][-acc.ring_n :]:
        i = acc.pd_n
        acc.pd_p[i] = row[0]
        for c in range(4):
            acc.pd_j[4 * i + c] = row[1 + c]
        acc.pd_cov[i] = row[5]
        acc.pd_n = i + 1


def save(energy, path=PATH):
    """Write `energy`'s state atomically (temporary file + rename)."""
    text = json.dumps(dump(energy), separators=(",", ":"))
    data = text.encode()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.write("\n{} {:04x}\n".format(len(data), crc16(data, 0, len(data))).encode())
    _replace(tmp, path)


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
            restore(energy, json.loads(raw[: raw.rfind(b"\n", 0, len(raw) - 1)]))
            return None
        except ValueError as exc:
            problem = str(exc)
    energy.reset()
    return "energy state {} {}: starting fresh".format(path, problem)


def _read(path):
    """The file's bytes, _TOO_LARGE for a file above MAX_BYTES, or None if absent."""
    try:
        if os.stat(path)[6] > MAX_BYTES:  # not read at all: it could not fit the heap
            return _TOO_LARGE
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _check(raw):
    if raw is _TOO_LARGE:
        return "is too large"
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


class HourLog:
    """The closed periods of this month and the last, one line each, appended as they close.

    The state file keeps only the last 50 hours, and RAM no more; the month's hours live here.
    Each line is `<period> <import Wh> <export Wh> <estimated> <CRC-16>` in hex, about 20
    bytes: a line torn by a power cut fails its check and is skipped (`bad` counts them at
    start), and the hours after it are appended again from the state. Lines are read 64 bytes
    at most at a time. The first period of a new month moves the file to `<path>.prev`,
    replacing the month before.
    """

    def __init__(self, path, period_s):
        self.path = path
        self.period_s = period_s
        self.last_p = -1
        self.month = 0
        self.bad = 0
        for p, _, _ in self._lines(path, True):
            self.last_p = p
            if not self.month:
                self.month = self._month(p)
        self.torn = _ends_torn(path)  # then the next line starts on a line of its own

    def _month(self, p):
        year, month, _ = osloclock.civil_from_days(osloclock.local(p * self.period_s) // 86400)
        return year * 12 + month

    def append(self, p, wh, estimated):
        """Log closed period `p` (skipped when not after `last_p`); usable as `on_period`.
        OSError when the flash write fails."""
        if p <= self.last_p:
            return
        month = self._month(p)
        if self.month and month != self.month:
            _replace(self.path, self.path + ".prev")
        text = "{:x} {:x} {:x} {:d}".format(p, wh[0], wh[1], 1 if estimated else 0).encode()
        with open(self.path, "ab") as f:
            f.write(b"\n" if self.torn else b"")
            f.write(text)
            f.write(" {:04x}\n".format(crc16(text, 0, len(text))).encode())
        self.torn = False
        self.month = month
        self.last_p = p

    def read(self):
        """(period, (import Wh, export Wh), estimated) of every good line, oldest first."""
        for path in (self.path + ".prev", self.path):
            for row in self._lines(path, False):
                yield row

    def _lines(self, path, count):
        try:
            f = open(path, "rb")
        except OSError:
            return
        with f:
            while True:
                line = f.readline(_LINE_MAX)  # bounded: a damaged file cannot fill the heap
                if not line:
                    return
                parts = line.split()
                if len(parts) == 5 and line.endswith(b"\n"):
                    text = line[: line.rfind(b" ")]
                    try:
                        if crc16(text, 0, len(text)) == int(parts[4], 16):
                            yield int(parts[0], 16), (int(parts[1], 16), int(parts[2], 16)), (
                                parts[3] == b"1"
                            )
                            continue
                    except ValueError:
                        pass
                if count:
                    self.bad += 1
                while line and not line.endswith(b"\n"):  # the rest of an overlong line
                    line = f.readline(_LINE_MAX)


def _ends_torn(path):
    try:
        with open(path, "rb") as f:
            if f.seek(0, 2) == 0:
                return False
            f.seek(-1, 2)
            return f.read(1) != b"\n"
    except OSError:
        return False


def _replace(src, dst):
    try:
        os.rename(src, dst)
    except OSError:
        # FAT cannot rename over an existing file; littlefs and POSIX can.
        os.remove(dst)
        os.rename(src, dst)


class Saver:
    """Saves after each newly closed period, at most once per period: the closed periods to
    the hour log (when given), then the state."""

    def __init__(self, energy, path=PATH, hours_path=None):
        self.energy = energy
        self.path = path
        self.log = None if hours_path is None else HourLog(hours_path, energy.period_s)
        self.saved_p = energy.closed_p
        self.writes = 0
        self.errors = 0

    def step(self, force=False):
        """Save if a period closed since the last save (or `force`); return the problem or None."""
        if not force and self.energy.closed_p == self.saved_p:
            return None
        self.saved_p = self.energy.closed_p
        try:
            if self.log is not None:  # periods the log missed (a failed write)
                for p, wh, estimated in self.energy.hours():
                    self.log.append(p, wh, estimated)
            save(self.energy, self.path)
            self.writes += 1
            return None
        except OSError as exc:
            self.errors += 1
            return "energy state not saved: {}".format(exc)
