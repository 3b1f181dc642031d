"""The streaming reader: bytes in, one reading per good frame out, every reject counted.

Wires the framers to the decoders. One byte stream may carry HDLC frames, M-Bus long frames
(68 L L 68) or P1 telegrams (/ ... !CRC): the HDLC framer hunts for frames and stops at a 68 or
a "/" between frames, and the M-Bus or P1 framer (imported then, on first sight, with the
reader's side of them in `otherframes`) takes the bytes from there until its frame ends or
turns out not to be one. All of them use the HDLC framer's one buffer and counters (a bad
M-Bus checksum or P1 CRC counts in fcs_errors). With a key, ciphered APDUs
(general-glo/ded-ciphering) are checked and decrypted (`gcm`) before the DLMS layer reads
them; without one they are counted undecodable.

Nothing that arrives from the meter makes `feed` raise: bad frames and undecodable payloads
are counted in `stats` and dropped. An exception raised by the caller's `on_reading` is the
caller's and propagates.

The accounting rule, tested directly (host_tests/test_accounting.py): every frame whose
checksums verify adds exactly one to exactly one of
    frames_ok     it gave a reading (for a push: its last part did),
    undecodable   it was of no use; `last_error` says why,
    push_frames   it is a part of a segmented or block-transfer push, held for the rest;
and a push that is given up (a new one starts, a part is out of order or empty, a whole
frame breaks in, it does not fit the buffer, or no next part comes within
hdlc.PUSH_TIMEOUT_MS) adds one to `abandoned`, with the reason in `last_error`. Frames whose
checksums fail count in hcs_errors, fcs_errors, oversized, truncated or bad_format.
"""

from . import axdr, dlms, hdlc
from .compat import const, ticks_ms

_GLO_CIPHERING = const(0xDB)


class Reader:
    """Feed it meter bytes; it calls on_reading(reading) once per good frame, in order.

    buffer_size: the one frame buffer's size, or a bytearray to use as that buffer. key /
    auth_key: the meter's AES-128 encryption and authentication keys (16 bytes, or 32 hex
    digits) for ciphered APDUs; with auth_key set, every tag is checked."""

    def __init__(self, on_reading, buffer_size=2048, clock=ticks_ms, key=None, auth_key=None):
        self._on_reading = on_reading
        self._framer = hdlc.Framer(self._on_info, self._on_reject, buffer_size, clock)
        self._framer.watch = True
        self._clock = clock
        self._cursor = axdr.Cursor()
        self.stats = self._framer  # it keeps every counter (hdlc.Framer.as_dict)
        self.last_error = None
        self.last_abandoned = None  # why the last push was given up
        self._cipher = None
        if key is not None:
            from . import gcm  # only with a key: AES tables and buffers cost heap

            self._cipher = gcm.decryptor(key, auth_key)
            self._framer.watch_also = _GLO_CIPHERING  # bare ciphered APDUs (Smarty P1)
        self._mbus = None  # the M-Bus framer, made when a 68 is first seen between frames
        self._p1 = None  # the P1 framer, made when a "/" is first seen between frames
        self._bare = None  # the framer of bare ciphered APDUs, with a key, on first DB
        self._other = None  # whichever of them is inside a telegram now

    def feed(self, data):
        framer = self._framer
        if framer._base:  # parts of a push are held: give it up if its next part is late
            self.expire()
        i = 0
        if self._mbus is None and self._other is None:
            i = framer.feed(data)  # HDLC only, as long as no other frame has been seen
            if i == len(data):
                return
        from . import otherframes  # it stopped at what may open an M-Bus or P1 telegram

        otherframes.feed(self, data, i)

    def flush(self):
        """End of input (a file, a closed port): a P1 telegram whose "!" and CRC have come is
        read without waiting for its line end."""
        if self._other is not None:
            from . import otherframes

            otherframes.flush(self)

    def expire(self):
        """Give up a push that has waited too long for its next part; for callers that poll
        when no bytes come (feed does it too). Acts only between frames (a frame in progress
        is checked at the next call)."""
        framer = self._framer
        if framer._base:
            from . import push  # loaded already: a push is pending

            push.expire(framer)
        if self._mbus is not None:
            self._mbus.expire()

    @property
    def push_pending(self):
        """True while parts of a segmented or block-transfer push wait for the rest."""
        mbus = self._mbus
        return self._framer._base > 0 or (mbus is not None and mbus.push_pending())

    @property
    def pending_bytes(self):
        """Bytes held for a frame not yet complete (0 or 1 between frames)."""
        other = self._other
        return self._framer._n + (other.held() if other is not None else 0)

    def _on_reject(self, reason, is_frame):
        if is_frame:
            self.stats.undecodable += 1
        else:
            self.last_abandoned = reason
        self.last_error = ValueError(reason)

    def _on_info(self, buf, start, end):
        try:
            reading = dlms.decode_info(buf, start, end, self._cursor, self._cipher)
        except Exception as err:  # any payload, however malformed, is only counted
            self.stats.undecodable += 1
            self.last_error = err
            return
        self.stats.frames_ok += 1
        self._on_reading(reading)
