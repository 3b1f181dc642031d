"""The line-setting search for `uart.baud` "auto": which of uartsrc.LINES the meter sends on.

Why its own module: a dongle whose line is known (set by hand, or found before and saved)
never loads it; app.py imports it only while a search runs and drops it once the line is found.

The only proof of a right setting is a frame whose checksum verifies (any format: HDLC, M-Bus,
P1), since the ESP32's UART reports no parity or framing errors: the reader's `frames_ok` and
`push_frames` (parts of a push, each verified). Two such frames in a row settle it. Meters send
in bursts (one frame, then a pause of a second or more), so a setting is judged per burst:

  1. After switching, wait until the line has been quiet (850 ms at 2400 baud, 440 ms at 9600,
     310 ms at 115200; see _quiet_ms): a burst cut by the
     switch says nothing. Bytes in that wait that are only a few (a NUL or two) while the line
     was quiet mean the UART sees the line held low, a break: the RX inversion is wrong, and
     every setting with that inversion is skipped for this round.
  2. The next burst is a whole frame. Over without a verified frame: the setting is wrong, try
     the next (one good frame before it: a damaged frame, stay once more). Two good: found.
  3. No byte at all for _DWELL_MS (longer than the 10 s the slowest meters pause): next.

So a wrong setting costs one burst period C of the meter (2-2.5 s in Norway, 1-10 s for P1),
a wrong inversion about two quiet times once, the right one 2 C; the first setting up to 2 C
when the dongle starts as a frame comes: at most 7 C + 3 s in all
(README, host_tests/test_linefind.py).
"""

import json
import os

from compat import const, ticks_diff
from uartsrc import LINE_NAMES, LINES

# No byte this long: a burst (frame) is over. The ESP32's UART driver hands bytes on in chunks
# of 120 (its FIFO threshold) during a burst, 0.55 s apart at 2400 baud: the quiet must be longer
# than a chunk at the baud being tried: 300 ms + 120 characters of 11 bits.
_QUIET_BASE_MS = const(300)
_CHUNK_BITS_MS = const(1320000)  # 120 x 11 bits x 1000 ms
_DWELL_MS = const(12000)  # no byte at all this long on one setting: the next
_BREAK_BYTES = const(2)  # at most this many bytes right after a switch in a quiet line: a break
_GOOD = const(2)  # verified frames in a row that settle it


class LineFinder:
    """Steps through LINES with `setter` (uartsrc.LineSetter); `found` is the index once known.

    `step(now, bytes_in, good)` each meter pass: bytes_in counts the bytes read, good the
    verified frames; it returns True once, when the line is found."""

    def __init__(self, setter, now, bytes_in, good, start=0):
        self._setter = setter
        self.found = None
        self.rounds = 1
        self._tried = 0  # bit i: LINES[i] tried in this round
        self._held_low = 0  # 1: RX as wired sees the line held low (a break), 2: inverted does
        self._enter(start, now, bytes_in, good, True)

    def status(self):
        """What the status says while searching."""
        names = [LINE_NAMES[i] for i in range(len(LINES)) if self._tried >> i & 1]
        text = "searching: tried " + ", ".join(names)
        if self._held_low:  # the other settings with that inversion are not tried
            text += " ({}: line held low)".format(
                "inverted" if self._held_low & 2 else "not inverted"
            )
        if self.rounds > 1:
            text += " (round {})".format(self.rounds)
        return text + ", no frames yet"

    def _enter(self, index, now, bytes_in, good, quiet):
        if index != self._setter.index:
            self._setter.set(index)
        self.index = index
        self._quiet_ms = _QUIET_BASE_MS + _CHUNK_BITS_MS // LINES[index][0]
        self._tried |= 1 << index
        self._since = now
        self._bytes = bytes_in
        self._byte_ms = now
        self._early = 0  # bytes before the line was first quiet
        self._quiet_switch = quiet  # switched while the line was quiet
        self._armed = False
        self._burst = False
        self._burst_good = good
        self._good = good
        self._in_row = 0

    def _next(self, now, bytes_in, good, quiet):
        index = self.index
        left = len(LINES)
        while left:  # a while, not a range(): switching allocates nothing either
            left -= 1
            index += 1
            if index == len(LINES):
                index = 0
                self.rounds += 1
                self._tried = 0
                self._held_low = 0  # judged again each round, in case a glitch misled it
            if not self._held_low & _inversion_bit(index):
                break
        self._enter(index, now, bytes_in, good, quiet)

    def step(self, now, bytes_in, good):
        if good != self._good:
            self._in_row += good - self._good
            self._good = good
            if self._in_row >= _GOOD:
                self.found = self.index
                return True
        if bytes_in != self._bytes:
            if self._armed:
                self._burst = True
            else:
                self._early += bytes_in - self._bytes
            self._bytes = bytes_in
            self._byte_ms = now
            return False
        quiet_ms = ticks_diff(now, self._byte_ms)
        if not self._armed:
            if quiet_ms >= self._quiet_ms:
                if self._quiet_switch and 0 < self._early <= _BREAK_BYTES:
                    self._held_low |= _inversion_bit(self.index)
                    self._next(now, bytes_in, good, True)
                    return False
                self._armed = True
                self._burst_good = good
            elif ticks_diff(now, self._since) >= _DWELL_MS:
                self._next(now, bytes_in, good, False)  # never quiet: a stream of garbage
            return False
        if self._burst:
            if quiet_ms >= self._quiet_ms:
                self._burst = False
                if good == self._burst_good:
                    if self._in_row:
                        self._in_row = 0  # a damaged frame after a good one: once more
                    else:
                        self._next(now, bytes_in, good, True)
                        return False
                self._burst_good = good
            return False
        if quiet_ms >= _DWELL_MS:
            self._next(now, bytes_in, good, True)
        return False


def _inversion_bit(index):
    return 2 if LINES[index][2] else 1


def save(path, name):
    """Write uart.found = `name` into the settings file at `path`, atomically (a temporary file,
    then a rename, as config.save does), changing nothing else.

    Done here rather than through config.update: that module is dropped after boot, and loading
    it back with its defaults and checks takes more heap than a 96 KB board has to spare then.
    `name` is one of LINE_NAMES, so the file stays valid; a file that is not a settings object
    is left as it is (ValueError), as is one that cannot be read (OSError)."""
    with open(path) as f:
        cfg = json.load(f)
    uart = cfg.get("uart") if isinstance(cfg, dict) else None
    if not isinstance(uart, dict) or name not in LINE_NAMES:
        raise ValueError("not a settings file: " + path)
    uart["found"] = name
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f)
    try:
        os.rename(tmp, path)
    except OSError:  # FAT cannot rename over an existing file
        os.remove(path)
        os.rename(tmp, path)
