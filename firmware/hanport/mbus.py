"""M-Bus long frames (EN 13757-2) carrying DLMS: check each telegram, join a push's segments.

    68 | L | L | 68 | C | A | CI | STSAP | DTSAP | data ... | CS | 16
    L: bytes from C to the last data byte;  CS: their sum mod 256
    CI 0x00-0x1F: reserved for DLMS (EN 13757-3); the meters set bit 4 (0x10) on the last
    segment and number the segments in bits 0-3, from 0

Austrian Kaifa MA309 and Sagemcom T210-D meters push one (usually ciphered) APDU as two or
more telegrams. The data of each is joined at the front of the reader's one frame buffer (the
HDLC framer's, idle while a telegram is read), and the whole APDU goes to the same DLMS layer
as an HDLC information field. Counting follows the reader's accounting rule and uses the HDLC
framer's counters: a bad checksum is an FCS error, a held segment a push frame, a push given up
an abandoned one. This module is imported only when a 68 byte is first seen between frames.
"""

from .compat import const, ticks_diff
from . import hdlc

_START = const(0x68)
_STOP = const(0x16)
_LAST_SEGMENT = const(0x10)
_DLMS_CI_MASK = const(0xE0)  # CI values 0x00-0x1F carry DLMS
_HEADER = const(9)  # 68 L L 68 C A CI STSAP DTSAP


class Framer:
    """Reads one telegram at a time from where the HDLC framer stopped at its 68 byte."""

    def __init__(self, framer, on_apdu, on_reject, clock):
        self._hdlc = framer  # its buffer and counters are shared
        self._buf = framer._buf
        self._on_apdu = on_apdu
        self._on_reject = on_reject
        self._clock = clock
        self.active = False  # inside a telegram: feed() wants the next bytes
        self._base = 0  # bytes of the pending push joined at the front of the buffer
        self._at = 0  # where the next telegram byte goes
        self._need = 0  # where the telegram ends (past its stop byte)
        self._next = 0  # the segment number due next
        self._push_ms = 0
        self.replay = bytearray(2)  # after a false start: bytes to scan again as HDLC
        self.replayed = 0

    def push_pending(self):
        return self._base > 0

    def held(self):
        """Bytes of the telegram in progress."""
        return self._at - self._base if self.active else 0

    def begin(self):
        self.active = True
        self._at = self._base
        self._need = self._base + 4

    def feed(self, src, i, end):
        """Consume src[i:end] into the telegram; returns where it stopped (end, or the byte
        that shows this was no telegram, left for the HDLC framer)."""
        buf = self._buf
        base = self._base
        at = self._at
        need = self._need
        while i < end:
            b = src[i]
            k = at - base
            if k < 4:
                if (k == 0 and b != _START) or (k == 1 and b < 3) or (k == 2 and b != buf[at - 1]):
                    return self._false_start(at, i)
                if k == 3:
                    if b != _START:
                        return self._false_start(at, i)
                    need = base + buf[base + 1] + 6
                    if need > len(buf):
                        # Only with a push pending (L is at most 255): give it up, start afresh.
                        self._abandon("push too large for the frame buffer")
                        for j in range(3):
                            buf[j] = buf[base + j]
                        at -= base
                        need -= base
                        base = 0
                    self._need = need
            buf[at] = b
            at += 1
            i += 1
            if at == need:
                self.active = False
                self._telegram(base, need)
                return i
        self._at = at
        return i

    def expire(self):
        """Give up a push whose next segment is more than hdlc.PUSH_TIMEOUT_MS late."""
        if self._base and not self.active:
            if ticks_diff(self._clock(), self._push_ms) > hdlc.PUSH_TIMEOUT_MS:
                self._abandon("M-Bus push timed out: no next segment")

    def abandon(self, reason):
        """Give up the pending push (the reader calls this when another format breaks in)."""
        self._abandon(reason)

    def _false_start(self, at, i):
        """Not a telegram after all: the bytes after the 68 (at most L, L) go back to the
        HDLC framer through `replay`, since one of them may be the flag of a frame."""
        self.active = False
        self._hdlc.skipped_bytes += 1
        base = self._base
        replay = self.replay
        for j in range(base + 1, at):
            replay[j - base - 1] = self._buf[j]
        self.replayed = at - base - 1
        return i

    def _abandon(self, reason):
        if self._base:
            self._base = 0
            self._hdlc.abandoned += 1
            self._on_reject(reason, False)
        self._next = 0

    def _telegram(self, start, end):
        """A whole telegram in buf[start:end]: check it, then join or deliver its data."""
        buf = self._buf
        size = buf[start + 1]
        total = 0
        for j in range(start + 4, start + 4 + size):
            total += buf[j]
        if total & 0xFF != buf[end - 2]:
            self._hdlc.fcs_errors += 1
            return
        if buf[end - 1] != _STOP:
            self._hdlc.bad_format += 1
            return
        ci = buf[start + 6]
        if ci & _DLMS_CI_MASK or size < _HEADER - 4:
            self._on_reject("M-Bus telegram with CI 0x{:02x} carries no DLMS".format(ci), True)
            return
        number = ci & 0x0F
        base = self._base
        if number == 0:
            if base:
                self._abandon("a new push began before the last one ended")
                base = 0
        elif not base or number != self._next:
            if base:
                self._abandon(
                    "M-Bus segment {} arrived where {} was due".format(number, self._next)
                )
            self._on_reject("M-Bus segment {} without the ones before it".format(number), True)
            return
        data = start + _HEADER
        for j in range(data, end - 2):
            buf[base + j - data] = buf[j]
        base += end - 2 - data
        if ci & _LAST_SEGMENT:
            self._base = 0
            self._next = 0
            self._on_apdu(buf, 0, base)
            return
        self._base = base
        self._next = (number + 1) & 0x0F
        self._push_ms = self._clock()
        self._hdlc.push_frames += 1
