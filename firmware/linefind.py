"""The line-setting search for `uart.baud` "auto": which of uartsrc.LINES the meter sends on.

Why its own module: a dongle whose line is known (set by hand, or found before and saved)
never loads it; app.py imports it only while a search runs and drops it once the line is found.

The only proof of a right setting is a frame whose checksum verifies (any format: HDLC, M-Bus,
P1), since the ESP32's UART reports no parity or framing errors: the reader's `frames_ok` and
`push_frames` (parts of a push, each verified). Two such frames in a row settle it. Meters send
in bursts (one frame, then a pause of a second or more, up to 10 s), so a setting is judged per
burst, and a burst that brings no good frame also says where to look next:

  1. After switching, wait until the line has been quiet (850 ms at 2400 baud, 440 ms at 9600,
     310 ms at 115200; see _quiet_ms): a burst cut by the switch says nothing. Bytes in that
     wait that are only a few (a NUL or two) while the line was quiet mean the UART sees the
     line held low, a break: the RX inversion is wrong; none means the line idles high, so the
     inversion is right (a good frame shows it too). Either way every setting with the wrong
     inversion is skipped for this round, and a wrong one is left for the same baud with the
     other inversion. A search that switched (or began) inside a burst learns it in the first
     pause, by switching to the other inversion once, before a burst is judged.
  2. The next burst is a whole frame. Over without a verified frame: the setting is wrong
     (one good frame before it: a damaged frame, stay once more). Two good: found.
  3. No byte at all for _DWELL_MS (longer than the 10 s the slowest meters pause): next.

Where next, after a burst with no good frame (uartline.py models what a UART makes of a line
at another baud; host_tests/test_linefind.py measures it on the simulator's frames):
  - Read at 2400, a faster line gives about one byte per character time the burst lasts: a
    burst of _FEW_BYTES or fewer is a 115200 line (a frame lasts a few ms there), more a
    9600 one (a 2400 line at the other parity gives more than that as well, but the search
    starts at 8N1, which reads both).
  - Read at 9600 or 115200, a slower line gives a byte for each low run of the line (NULs),
    more than a faster one does at 9600, and at a rate that gives its baud away at 115200.
    A 2400 line is ruled out for good once 2400 8N1 has seen a burst with no good frame.
  - 2400 starts at 8N1: it reads 8E1 lines right too (the parity bit lands on the stop bit; the
    ESP32 keeps bytes with a framing error), so a good frame there shows baud and inversion;
    the next burst is then read at 8E1: a good frame there settles 8E1 (two in a row), none
    means 8N1, which the next good frame settles.

So with the inversion learnt in the first pause, the first whole burst (within C, the time
between a meter's frames) tells the setting and two more settle it: 3 C + 3 s. One burst
more, 4 C + 4 s, for a 9600 line with frames of under ~60 bytes, a 115200 one with telegrams
of over ~600, and a meter whose pauses after its long bursts are shorter than a quiet time
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
# Read at 2400, a faster line gives a byte for each 2400 character time (4.6 ms) or so the burst
# lasts: up to 12 bytes is a 115200 frame of up to ~600 bytes (P1 telegrams), more a 9600 one
# of over ~60 bytes; shorter 9600 frames and longer 115200 ones cost a burst more.
_FEW_BYTES = const(12)
# Read at 115200, a slower line gives a NUL for each low run: a 2400 line 440-700 a second, a
# 9600 one 1,900-2,800 (from its first byte to its last, which the UART hands on a little after
# the burst, as the ESP32's driver does after its RX timeout: 790 and more for a short frame).
_SLOW_RATE = const(750)
# Read at 9600, a 2400 line gives a NUL or two for each character: 59 bytes or more for the
# shortest frame (37 bytes); a 115200 one about a byte for each 12 sent, fewer than that for
# telegrams of up to ~670 bytes. A count, not a rate: a short burst comes in one piece.
_FEW_BYTES_9600 = const(56)
# Indices into uartsrc.LINES (each setting as wired, then inverted: index ^ 1 flips it).
_E2400 = const(0)
_N2400 = const(2)
_N115200 = const(4)
_N9600 = const(6)


class LineFinder:
    """Steps through LINES with `setter` (uartsrc.LineSetter); `found` is the index once known.

    `step(now, bytes_in, good)` each meter pass: bytes_in counts the bytes read, good the
    verified frames; it returns True once, when the line is found. `start` is where the search
    begins; a 2400 8E1 start begins at 8N1 of the same inversion (it reads both parities)."""

    def __init__(self, setter, now, bytes_in, good, start=0):
        self._setter = setter
        self.found = None
        self.rounds = 1
        self._tried = 0  # bit i: LINES[i] tried in this round
        self._held_low = 0  # 1: RX as wired sees the line held low (a break), 2: inverted does
        self._not_e = 0  # inversion bits whose 2400 8E1 had a burst with no good frame
        if start & ~1 == _E2400:
            start += _N2400
        self._probe = False  # this setting is the other inversion, tried to learn which is right
        self._enter(start, now, bytes_in, good, True, 0)

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

    def _enter(self, index, now, bytes_in, good, quiet, in_row):
        if index != self._setter.index:
            self._setter.set(index)
        self.index = index
        self._probe = False
        self._quiet_ms = _QUIET_BASE_MS + _CHUNK_BITS_MS // LINES[index][0]
        self._tried |= 1 << index
        self._since = now
        self._bytes = bytes_in
        self._byte_ms = now
        self._early = 0  # bytes before the line was first quiet
        self._quiet_switch = quiet  # switched while the line was quiet
        self._armed = False
        self._burst = False
        self._burst_bytes = bytes_in  # bytes_in before the burst
        self._burst_ms = now  # when its first bytes were seen
        self._burst_good = good
        self._good = good
        self._in_row = in_row  # good frames in a row (one read at 8N1 carries over to 8E1)

    def _usable(self, index):
        return not (self._tried >> index & 1 or self._held_low & _inversion_bit(index))

    def _next(self, now, bytes_in, good, quiet, prefer=-1, in_row=0, back=False):
        """To `prefer` (an index) unless tried or skipped, else the next in LINES order; `back`
        (or a good frame in hand, `in_row`) returns to one tried before."""
        if prefer >= 0 and (in_row or back or self._usable(prefer)):
            self._enter(prefer, now, bytes_in, good, quiet, in_row)
            return
        index = self.index
        left = len(LINES)
        while left:  # a while, not a range(): switching allocates nothing either
            left -= 1
            index += 1
            if index == len(LINES):
                index = 0
            if self._usable(index):
                break
        if not left and not self._usable(index):  # all tried: the next round, from the first
            index = 0
            self.rounds += 1
            self._tried = 0
            self._held_low = 0  # judged again each round, in case a glitch misled it
            self._not_e = 0
        self._enter(index, now, bytes_in, good, quiet, 0)

    def _guess(self):
        """Where the line is, from the burst just over with no good frame here (see above): an
        index, or -1 when every setting it points to has been tried."""
        index = self.index
        inv = index & 1
        baud = LINES[index][0]
        count = self._bytes - self._burst_bytes
        if baud == 2400:
            if index & ~1 == _E2400 and self._usable(_N2400 | inv):
                return _N2400 | inv
            first = _N115200 if count <= _FEW_BYTES else _N9600
            second = _N115200 + _N9600 - first
        else:
            second = _N9600 if baud == 115200 else _N115200  # the other fast one
            if baud == 115200:
                ms = ticks_diff(self._byte_ms, self._burst_ms)
                slow = count * 1000 // max(ms, 10) < _SLOW_RATE
            else:
                slow = count > _FEW_BYTES_9600
            first = _N2400 if slow else second
            if first == second:
                second = _N2400
        if self._usable(first | inv):
            return first | inv
        if self._usable(second | inv):
            return second | inv
        return -1

    def _parity_open(self):
        """At 2400 8N1 with 8E1 not ruled out: a good frame may be an 8E1 line's."""
        return self.index & ~1 == _N2400 and not self._not_e & _inversion_bit(self.index)

    def step(self, now, bytes_in, good):
        if good != self._good:
            self._in_row += good - self._good
            self._good = good
            self._held_low = 3 ^ _inversion_bit(self.index)  # proof of the inversion, too
            if self._in_row >= _GOOD:
                if not self._parity_open():
                    self.found = self.index
                    return True
                if self._in_row > _GOOD + 1:  # no pause to switch in: on to 8E1 now
                    self._next(now, bytes_in, good, False, self.index - 2, self._in_row)
                    return False
        if bytes_in != self._bytes:
            if self._armed:
                if not self._burst:
                    self._burst = True
                    self._burst_bytes = self._bytes
                    self._burst_ms = now
            else:
                self._early += bytes_in - self._bytes
            self._bytes = bytes_in
            self._byte_ms = now
            return False
        quiet_ms = ticks_diff(now, self._byte_ms)
        if not self._armed:
            if quiet_ms >= self._quiet_ms:
                if self._quiet_switch and self._early <= _BREAK_BYTES:
                    bit = _inversion_bit(self.index)
                    if self._early:  # a break: this inversion is wrong
                        self._held_low |= bit
                        self._next(now, bytes_in, good, True, self.index ^ 1, self._in_row, True)
                        return False
                    if not self._held_low:  # idle high: the other inversion sees it low
                        self._held_low = 3 ^ bit
                elif not (self._held_low or self._probe):
                    # Switched in a burst (or started in one): the inversion is not known yet.
                    # Learn it now, in the pause, by the other one, before a burst is judged.
                    self._next(now, bytes_in, good, True, self.index ^ 1, self._in_row, True)
                    self._probe = True
                    return False
                self._armed = True
                self._burst_good = good
            elif ticks_diff(now, self._since) >= _DWELL_MS:  # never quiet: a stream
                if self.index & ~1 == _E2400 and self._in_row:  # of 8N1 frames read at 8E1
                    self._not_e |= _inversion_bit(self.index)
                    self._next(now, bytes_in, good, False, self.index + 2, self._in_row)
                else:  # of garbage
                    self._next(now, bytes_in, good, False)
            return False
        if self._burst:
            if quiet_ms >= self._quiet_ms:
                self._burst = False
                index = self.index
                if good == self._burst_good:
                    if index & ~1 == _E2400:
                        self._not_e |= _inversion_bit(index)
                        if self._in_row:  # a good frame at 8N1, none at 8E1: an 8N1 line
                            self._next(now, bytes_in, good, True, index + 2, self._in_row)
                            return False
                    if self._in_row:
                        self._in_row = 0  # a damaged frame after a good one: once more
                    else:
                        self._next(now, bytes_in, good, True, self._guess())
                        return False
                elif self._parity_open():  # the next burst is read at 8E1
                    self._next(now, bytes_in, good, True, index - 2, self._in_row)
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
