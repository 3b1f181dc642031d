"""The parts of a push joined into one APDU: HDLC segments and General Block Transfer blocks.

Loaded by the HDLC framer (hdlc.Framer) on the first frame that is a part of a push (a
segment, S=1, or a GBT block, tag E0), or that arrives while one is pending: meters that send
every reading in one frame never load it. The functions work on the framer's buffer and state.

HDLC segmentation: each segment's information field is moved to the front of the buffer and
the next segment is collected behind it. General Block Transfer (IEC 62056-5-3 9.4.6.12):

    E0 | control (0x80 = last block) | block number(2) | acknowledged(2) | data length | data

the data of all blocks, joined the same way, is the APDU. A push is given up (counted in
`abandoned`, the reason handed to on_reject(reason, False)) when a new one starts, a part is out
of order or empty, a whole APDU or a bad frame breaks in, it does not fit, or it times out.
"""

from .compat import const, ticks_diff
from .hdlc import PUSH_TIMEOUT_MS, _opens_apdu

_FLAG = const(0x7E)
_GBT = const(0xE0)
_HUNT = const(0)  # the framer's states (hdlc)
_FORMAT = const(1)

# Why hdlc gives a push up (its words here, where they are needed only then)
TOO_LARGE = "push too large for the frame buffer"
BROKEN = "HDLC segments broken by a bad frame"


def expire(framer):
    """Reader.expire: give up a push whose next part is more than PUSH_TIMEOUT_MS late."""
    if ticks_diff(framer._clock(), framer._push_ms) <= PUSH_TIMEOUT_MS:
        return
    state = framer._state
    if state == _HUNT or (state == _FORMAT and framer._n == framer._base + 1):
        abandon(framer, "push timed out: no next part within {} ms".format(PUSH_TIMEOUT_MS))
        if state == _FORMAT:
            framer._buf[0] = _FLAG
            framer._n = 1
        else:
            framer._n = 0


def abandon(framer, reason):
    """Give up the pending push (HDLC segments or GBT blocks), counting it."""
    if framer._base:
        framer.abandoned += 1
        framer._base = 0
        framer._on_reject(reason, False)
    framer._next_block = 0


def _reject(framer, reason):
    """This good frame is of no use: say why (the reader counts it undecodable)."""
    framer._on_reject(reason, True)
    framer._buf[0] = _FLAG
    return 1


def _hold(framer, base):
    """This frame's part joined the push now in buf[0:base]; returns the new n."""
    framer.push_frames += 1
    framer._base = base
    framer._buf[base] = _FLAG
    return base + 1


def _deliver(framer, buf, start, end):
    framer._base = 0
    framer._on_info(buf, start, end)
    buf[0] = _FLAG
    return 1


def frame_done(framer, base, start, end):
    """A good frame whose information field is buf[start:end], behind a pending push in
    buf[0:base] (base 0: none): join it or deliver what it completes; returns the new n."""
    buf = framer._buf
    segmented = buf[base + 1] & 0x08
    if base and (_opens_apdu(buf, start, end) or (segmented and framer._next_block)):
        # Only a first segment or block carries the LLC header: the push before is lost.
        abandon(framer, "a new push began before the last one ended")
        base = 0  # this frame, still behind the dropped part, moves to the front
    if segmented or (base and not framer._next_block):
        # HDLC segmentation: move this information field behind the earlier ones.
        if segmented and start == end:
            abandon(framer, "an HDLC segment without data")
            return _reject(framer, "an HDLC segment without data")
        for j in range(start, end):
            buf[base + j - start] = buf[j]
        base += end - start
        if segmented:
            return _hold(framer, base)
        start = 0
        end = base
        base = 0
        framer._base = 0  # the segments are one APDU now, whatever it holds
    pos = start + 3 if _opens_apdu(buf, start, end) else start
    if pos < end and buf[pos] == _GBT:
        return _block(framer, buf, pos, end, base)
    if base:
        abandon(framer, "a whole APDU arrived in the middle of a push")
    return _deliver(framer, buf, start, end)


def _block(framer, buf, pos, end, base):
    """Join a GBT block behind the blocks before it, which sit in buf[0:base]."""
    if end - pos < 7:
        return _malformed(framer, buf, pos, end, base)
    data = pos + 7
    size = buf[pos + 6]
    if size == 0x81:
        size = buf[data]
        data += 1
    elif size == 0x82:
        size = (buf[data] << 8) | buf[data + 1]
        data += 2
    elif size > 0x82:
        return _malformed(framer, buf, pos, end, base)
    if data + size > end:
        return _malformed(framer, buf, pos, end, base)
    last = buf[pos + 1] & 0x80
    number = (buf[pos + 2] << 8) | buf[pos + 3]
    if number == 1:
        if base:
            abandon(framer, "a new block transfer began before the last one ended")
        base = 0
    elif not base or number != framer._next_block:
        if base:
            abandon(
                framer, "block {} arrived where block {} was due".format(number, framer._next_block)
            )
        return _reject(framer, "block {} without the blocks before it".format(number))
    if not size and not last:
        abandon(framer, "a block without data")
        return _reject(framer, "block {} has no data".format(number))
    for j in range(data, data + size):
        buf[base + j - data] = buf[j]
    base += size
    if last:
        framer._next_block = 0
        return _deliver(framer, buf, 0, base)
    framer._next_block = number + 1
    return _hold(framer, base)


def _malformed(framer, buf, pos, end, base):
    """A malformed block: drop what was joined and let the decoder say what is wrong."""
    if base:
        abandon(framer, "a malformed block arrived in the middle of a push")
    framer._next_block = 0
    return _deliver(framer, buf, pos, end)
