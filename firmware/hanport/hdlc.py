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
push.expire, which the reader calls); when it is given up (a new push starts, a part is out of
order or empty, a whole APDU or a bad frame breaks in, it does not fit, it times out)
`abandoned` counts it and on_reject(reason, False) says why.
"""

from array import array

from .compat import const, ticks_ms

_FLAG = const(0x7E)
_GBT = const(0xE0)  # General Block Transfer APDU tag
_MIN_FRAME = const(7)  # format(2) + dest + src + control + FCS(2)
_MBUS_START = const(0x68)  # EN 13757-2 long frame: 68 L L 68
_P1_START = const(0x2F)  # "/": a P1 telegram's header line
_HEADER_MAX = const(14)  # flag + format(2) + dest(4) + src(4) + control + HCS(2)
PUSH_TIMEOUT_MS = const(5000)  # parts of one push arrive back to back; meters send every 2-10 s

# Reasons a frame is rejected (the index of its counter's name in REJECT_COUNTERS).
BAD_HCS = const(0)
BAD_FCS = const(1)
OVERSIZED = const(2)
TRUNCATED = const(3)
BAD_FORMAT = const(4)

# Every counter of the Framer, in the order as_dict gives them, and those of rejected frames by
# reason. (No heap for the strings: in MicroPython each is the attribute name's interned string.)
COUNTERS = (
    "frames_ok", "hcs_errors", "fcs_errors", "oversized", "truncated", "bad_format",
    "undecodable", "push_frames", "abandoned", "skipped_bytes",
)
REJECT_COUNTERS = COUNTERS[1:6]  # BAD_HCS ... BAD_FORMAT

_HUNT = const(0)
_FORMAT = const(1)
_LENGTH = const(2)
_BODY = const(3)


# CRC-16/X.25 for HDLC header and frame check sequences (HCS, FCS).
#
# IEC 62056-46 uses the PPP FCS-16: reflected polynomial 0x1021 (0x8408), init 0xFFFF, final
# xor 0xFFFF, sent least significant byte first. It is computed four bits at a time from a
# 16-entry table (two lookups per byte): 32 bytes of heap, where the byte-wise 256-entry table
# took 512 (a CRC covers one frame every 2-10 s, so the second lookup costs nothing that matters).
_CRC_TABLE = array("H", bytes(32))  # the CRC of each 4-bit value
for _i in range(16):
    _crc = _i
    for _ in range(4):
        _crc = (_crc >> 1) ^ 0x8408 if _crc & 1 else _crc >> 1
    _CRC_TABLE[_i] = _crc
del _i, _crc, _


def crc16(buf, start, end):
    """CRC-16/X.25 of buf[start:end] (any indexable of ints), without slicing."""
    table = _CRC_TABLE
    crc = 0xFFFF
    for i in range(start, end):
        crc ^= buf[i]
        crc = (crc >> 4) ^ table[crc & 0x0F]
        crc = (crc >> 4) ^ table[crc & 0x0F]
    return crc ^ 0xFFFF


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

    It holds the reader's counters too (it is the Reader's `stats`; the M-Bus and P1 framers
    count here as well): rejected frames by reason (hcs_errors ... bad_format), junk in
    skipped_bytes, parts of a push held in push_frames, pushes given up in abandoned, and,
    counted by the reader, frames_ok and undecodable. as_dict() gives them all."""

    def __init__(self, on_info, on_reject, buffer_size=2048, clock=ticks_ms):
        # buffer_size: the frame buffer's size, or the buffer itself when the caller made it
        # early (the app does, before the boot's other allocations can fragment the heap).
        buf = bytearray(buffer_size) if isinstance(buffer_size, int) else buffer_size
        if len(buf) < 64:
            raise ValueError("buffer_size must be at least 64 bytes")
        self._buf = buf
        self._on_info = on_info
        self._on_reject = on_reject
        self._clock = clock
        self.frames_ok = 0  # frames that gave a reading (the reader counts them)
        self.hcs_errors = 0
        self.fcs_errors = 0
        self.oversized = 0
        self.truncated = 0
        self.bad_format = 0
        self.undecodable = 0  # good frames of no use (the reader counts them)
        self.push_frames = 0  # good frames held as a part of a push (not its last part)
        self.abandoned = 0  # pushes given up before their last part
        self.skipped_bytes = 0
        self._state = _HUNT
        self._base = 0  # where the current frame's flag is; a pending push's parts before it
        # (so a push is pending exactly while _base > 0)
        self._n = 0  # bytes held, base included (the reader's pending_bytes)
        self._mark = 0  # next position to act at in _BODY: header check, then end
        self._need = 0  # position just past the closing flag
        self._next_block = 0  # General Block Transfer: the block number expected next
        self._push_ms = 0  # when the pending push's last part arrived
        self.watch = False  # stop at an M-Bus or P1 start byte between frames (see feed)
        self.watch_also = -1  # and at this byte (the reader's DB, when it has a key)

    def as_dict(self):
        """Every counter by name, in the order of COUNTERS."""
        out = {}
        for name in COUNTERS:
            out[name] = getattr(self, name)
        return out

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
                        # A good frame in buf[base:n]: deliver its APDU. The parts of a push
                        # (HDLC segments, GBT blocks) are joined by `push`, loaded on first need.
                        state = _FORMAT
                        self._state = state
                        info = info_start(buf, base + 1, n - 1)
                        info_end = n - 3
                        self._push_ms = self._clock()
                        apdu = info + 3 if _opens_apdu(buf, info, info_end) else info
                        if base or buf[base + 1] & 0x08 or (apdu < info_end and buf[apdu] == _GBT):
                            from . import push

                            n = push.frame_done(self, base, info, info_end)
                        else:
                            self._on_info(buf, info, info_end)
                            buf[0] = _FLAG
                            n = 1
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
                    self.skipped_bytes += 1
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
                    self.skipped_bytes += 1
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

                        push.abandon(self, push.TOO_LARGE)
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
            name = REJECT_COUNTERS[reason]
            setattr(self, name, getattr(self, name) + 1)
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

            push.abandon(self, push.BROKEN)
        origin = self._base
        buf = self._buf
        k = base + 1
        while k < n and buf[k] != _FLAG:
            k += 1
        self.skipped_bytes += k - base
        for j in range(k, n):
            buf[origin + j - k] = buf[j]
        return origin + n - k


def _opens_apdu(buf, start, end):
    """True when the information field starts with the LLC header E6 E7 00."""
    return end - start >= 3 and buf[start] == 0xE6 and buf[start + 1] == 0xE7 and not buf[start + 2]
