"""HDLC frame type 3 (IEC 62056-46) in a byte stream: find, check and reassemble frames.

    7E | format(2) | dest(1-4) | src(1-4) | control | HCS(2) | information | FCS(2) | 7E
    format: 1010 S LLL LLLLLLLL   S = more segments follow, L = bytes between the flags

Norwegian meters do not byte-stuff, so a frame ends where its length says, never at the
next 7E; consecutive frames may share one flag. The framer is a small state machine over
one preallocated buffer: per byte it does compares and an index write, nothing more.
When a frame fails a check, the bytes after its opening flag are scanned again, so a good
frame hidden inside a truncated one is not lost. Segments (S=1) and General Block Transfer
blocks are joined in place, at the front of the buffer, by `push` (loaded on the first part of
a push, so a meter that sends whole frames never holds its code).

Every frame whose checksums verify ends as exactly one of:
  - an APDU handed to on_info (the reader turns it into a reading or counts it undecodable);
  - a reject handed to on_reject(reason) (a block or segment that cannot be used);
  - a part of a push (HDLC segments or GBT blocks) held for the rest, counted in `push_frames`.
A push is bounded by the buffer and by time (PUSH_TIMEOUT_MS after its last part, checked by
expire()); when it is given up (a new push starts, a part is out of order or empty, a whole APDU
or a bad frame breaks in, it does not fit, it times out) `abandoned` counts it and
on_reject(reason, False) says why.
"""

from .compat import const, ticks_ms
from .crc16 import crc16

_FLAG = const(0x7E)
_GBT = const(0xE0)  # General Block Transfer APDU tag
_MIN_FRAME = const(7)  # format(2) + dest + src + control + FCS(2)
_MBUS_START = const(0x68)  # EN 13757-2 long frame: 68 L L 68
_P1_START = const(0x2F)  # "/": a P1 telegram's header line
_HEADER_MAX = const(14)  # flag + format(2) + dest(4) + src(4) + control + HCS(2)
PUSH_TIMEOUT_MS = const(5000)  # parts of one push arrive back to back; meters send every 2-10 s

# Reasons a frame is rejected (the index of the counter in Framer.errors).
BAD_HCS = const(0)
BAD_FCS = const(1)
OVERSIZED = const(2)
TRUNCATED = const(3)
BAD_FORMAT = const(4)

_HUNT = const(0)
_FORMAT = const(1)
_LENGTH = const(2)
_BODY = const(3)


def header_length(buf, start, end):
    """Offset of the HCS from the format byte at buf[start], or -1 if the addresses are bad."""
    pos = start + 2
    for _ in range(2):  # destination, then source address
        size = 0
        while True:
            if pos >= end or size == 4:
                return -1
            size += 1
            pos += 1
            if buf[pos - 1] & 1:
                break
    return pos + 1 - start  # the control byte


def check_frame(buf, start, end):
    """Check one frame in buf[start:end] (format byte to last FCS byte, flags excluded).

    Returns the error reason (BAD_HCS, BAD_FCS, BAD_FORMAT) or -1 when good.
    """
    hcs_at = header_length(buf, start, end)
    if hcs_at < 0:
        return BAD_FORMAT
    hcs_at += start
    if hcs_at + 2 < end - 2:  # a frame with an information field has an HCS
        if crc16(buf, start, hcs_at) != buf[hcs_at] | (buf[hcs_at + 1] << 8):
            return BAD_HCS
    if crc16(buf, start, end - 2) != buf[end - 2] | (buf[end - 1] << 8):
        return BAD_FCS
    return -1


def info_start(buf, start, end):
    """Start of the information field of a good frame (end - 2 when it has none)."""
    hcs_at = start + header_length(buf, start, end)
    return hcs_at + 2 if hcs_at + 2 < end - 2 else end - 2


class Framer:
    """Turns bytes into checked frames; calls on_info(buf, start, end) with each
    (reassembled) information field and on_reject(reason, is_frame) for what it gives up.
    Counts rejected frames in `errors`, junk in `skipped`, pushes given up in `abandoned`."""

    def __init__(self, on_info, buffer_size=2048, on_reject=None, clock=ticks_ms):
        # buffer_size: the frame buffer's size, or the buffer itself when the caller made it
        # early (the app does, before the boot's other allocations can fragment the heap).
        buf = bytearray(buffer_size) if isinstance(buffer_size, int) else buffer_size
        if len(buf) < 64:
            raise ValueError("buffer_size must be at least 64 bytes")
        self._buf = buf
        self._on_info = on_info
        self._on_reject = on_reject or _ignore
        self._clock = clock
        self.errors = [0, 0, 0, 0, 0]
        self.skipped = 0
        self.push_frames = 0  # good frames held as a part of a push (not its last part)
        self.abandoned = 0  # pushes given up before their last part
        self._state = _HUNT
        self._base = 0  # where the current frame's flag is; a pending push's parts before it
        self._n = 0  # bytes held, base included (the reader's pending_bytes)
        self._mark = 0  # next position to act at in _BODY: header check, then end
        self._need = 0  # position just past the closing flag
        self._next_block = 0  # General Block Transfer: the block number expected next
        self._push_ms = 0  # when the pending push's last part arrived
        self.watch = False  # stop at an M-Bus or P1 start byte between frames (see feed)
        self.watch_also = -1  # and at this byte (the reader's DB, when it has a key)

    def push_pending(self):
        """True while parts of a push wait for the rest."""
        return self._base > 0

    def expire(self):
        """Give up a push whose next part is more than PUSH_TIMEOUT_MS late. Acts only between
        frames (a frame in progress is checked at the next call)."""
        if self._base:
            from . import push  # loaded already: a push is pending

            push.expire(self)

    def feed(self, src, i=0, end=-1):
        """Consume src[i:end] (bytes, bytearray or memoryview, any size; end -1: all of it).
        Returns where it stopped: end, or, with `watch` set, the index of a byte that may open
        an M-Bus telegram (68), a P1 telegram (/) or `watch_also` between frames, left for the
        reader."""
        if end < 0:
            end = len(src)
        buf = self._buf
        size = len(buf)
        state = self._state
        n = self._n
        mark = self._mark
        watch = self.watch and src is not buf
        also = self.watch_also
        while i < end:
            b = src[i]
            i += 1
            if state == _BODY:
                buf[n] = b
                n += 1
                if n != mark:
                    continue
                base = self._base
                if mark != self._need:
                    # Header complete: a bad HCS or address rejects the frame early.
                    mark = self._need
                    self._mark = mark
                    at = header_length(buf, base + 1, n)
                    if at < 0 or (
                        base + at + 3 < mark - 3
                        and crc16(buf, base + 1, base + 1 + at)
                        != buf[base + 1 + at] | (buf[base + 2 + at] << 8)
                    ):
                        reason = BAD_FORMAT if at < 0 else BAD_HCS
                    else:
                        continue
                elif b != _FLAG:
                    reason = TRUNCATED
                else:
                    reason = check_frame(buf, base + 1, n - 1)
                    if reason < 0:
                        state = _FORMAT
                        self._state = state
                        n = self._frame_done(base, n)
                        self._n = n
                        continue
            elif state == _HUNT:
                if b == _FLAG:
                    buf[self._base] = b
                    n = self._base + 1
                    state = _FORMAT
                elif (
                    watch and (b == _MBUS_START or b == _P1_START or b == also) and not self._base
                ):
                    i -= 1
                    break
                else:
                    self.skipped += 1
                continue
            elif state == _FORMAT:
                if b == _FLAG:
                    continue  # flags between frames
                if b & 0xF0 != 0xA0:
                    # Noise between frames; a half-joined APDU waits for its next part.
                    n = self._base
                    state = _HUNT
                    if watch and (b == _MBUS_START or b == _P1_START or b == also) and not n:
                        i -= 1
                        break
                    self.skipped += 1
                    continue
                buf[n] = b
                n += 1
                state = _LENGTH
                continue
            else:  # _LENGTH
                buf[n] = b
                n += 1
                base = self._base
                length = ((buf[base + 1] & 0x07) << 8) | b
                need = base + length + 2
                if length < _MIN_FRAME:
                    reason = BAD_FORMAT
                elif need > size:
                    if base and length + 2 <= size:
                        # It fits once the pending push is given up: move it to the front.
                        from . import push

                        push.abandon(self, "push too large for the frame buffer")
                        buf[0] = _FLAG
                        buf[1] = buf[base + 1]
                        buf[2] = b
                        n = 3
                        need = length + 2
                        self._need = need
                        mark = _HEADER_MAX + 1
                        if mark > need:
                            mark = need
                        self._mark = mark
                        state = _BODY
                        continue
                    reason = OVERSIZED
                else:
                    self._need = need
                    mark = base + _HEADER_MAX + 1
                    if mark > need:
                        mark = need
                    self._mark = mark
                    state = _BODY
                    continue
            # A rejected frame: count it, then scan again from the byte after its flag.
            self.errors[reason] += 1
            kept = self._resync(n)
            origin = self._base
            state = _HUNT
            n = origin
            if src is buf:
                # Rescanning in place already: put the unread tail behind the kept bytes.
                for j in range(i, end):
                    buf[kept + j - i] = buf[j]
                end = kept + end - i
                i = origin
            elif kept > origin:
                self._state = _HUNT
                self._n = origin
                self.feed(buf, origin, kept)
                state = self._state
                n = self._n
                mark = self._mark
        self._state = state
        self._n = n
        self._mark = mark
        return i

    def _resync(self, n):
        """Drop the rejected frame; move what follows its opening flag, from the next flag
        on, to where the frame began. Returns the end of the bytes kept there.

        HDLC segments joined so far are given up too (a lost segment cannot be told); GBT
        blocks are kept, since their numbers show whether the next one follows on."""
        base = self._base
        if base and not self._next_block:
            from . import push

            push.abandon(self, "HDLC segments broken by a bad frame")
        origin = self._base
        buf = self._buf
        k = base + 1
        while k < n and buf[k] != _FLAG:
            k += 1
        self.skipped += k - base
        for j in range(k, n):
            buf[origin + j - k] = buf[j]
        return origin + n - k

    def _frame_done(self, base, n):
        """A good frame in buf[base:n] (both flags): deliver its APDU; returns the new n. The
        parts of a push (HDLC segments, GBT blocks) are joined by `push`, loaded on first need."""
        buf = self._buf
        start = info_start(buf, base + 1, n - 1)
        end = n - 3
        self._push_ms = self._clock()
        pos = start + 3 if _opens_apdu(buf, start, end) else start
        if base or buf[base + 1] & 0x08 or (pos < end and buf[pos] == _GBT):
            from . import push

            return push.frame_done(self, base, start, end)
        self._on_info(buf, start, end)
        buf[0] = _FLAG
        return 1


def _ignore(reason, is_frame):
    pass


def _opens_apdu(buf, start, end):
    """True when the information field starts with the LLC header E6 E7 00."""
    return end - start >= 3 and buf[start] == 0xE6 and buf[start + 1] == 0xE7 and not buf[start + 2]
