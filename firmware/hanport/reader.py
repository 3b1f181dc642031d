"""The streaming reader: bytes in, one reading per good frame out, every reject counted.

Wires the framer to the DLMS decoder. Nothing that arrives from the meter makes `feed`
raise: bad frames and undecodable payloads are counted in `stats` and dropped. An
exception raised by the caller's `on_reading` is the caller's and propagates.

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
from .compat import ticks_ms


class Stats:
    """Counters of what the reader has seen since it was made."""

    def __init__(self, framer):
        self._framer = framer
        self.undecodable = 0
        self.frames_ok = 0

    @property
    def hcs_errors(self):
        return self._framer.errors[hdlc.BAD_HCS]

    @property
    def fcs_errors(self):
        return self._framer.errors[hdlc.BAD_FCS]

    @property
    def oversized(self):
        return self._framer.errors[hdlc.OVERSIZED]

    @property
    def truncated(self):
        return self._framer.errors[hdlc.TRUNCATED]

    @property
    def bad_format(self):
        return self._framer.errors[hdlc.BAD_FORMAT]

    @property
    def skipped_bytes(self):
        return self._framer.skipped

    @property
    def push_frames(self):
        return self._framer.push_frames

    @property
    def abandoned(self):
        return self._framer.abandoned

    def as_dict(self):
        return {
            "frames_ok": self.frames_ok,
            "hcs_errors": self.hcs_errors,
            "fcs_errors": self.fcs_errors,
            "oversized": self.oversized,
            "truncated": self.truncated,
            "bad_format": self.bad_format,
            "undecodable": self.undecodable,
            "push_frames": self.push_frames,
            "abandoned": self.abandoned,
            "skipped_bytes": self.skipped_bytes,
        }


class Reader:
    """Feed it meter bytes; it calls on_reading(reading) once per good frame, in order."""

    def __init__(self, on_reading, buffer_size=2048, clock=ticks_ms):
        self._on_reading = on_reading
        self._framer = hdlc.Framer(self._on_info, buffer_size, self._on_reject, clock)
        self._cursor = axdr.Cursor()
        self.stats = Stats(self._framer)
        self.last_error = None
        self.last_abandoned = None  # why the last push was given up

    def feed(self, data):
        framer = self._framer
        if framer.push_pending():
            framer.expire()
        framer.feed(data)

    def expire(self):
        """Give up a push that has waited too long for its next part; for callers that poll
        when no bytes come (feed does it too)."""
        self._framer.expire()

    @property
    def push_pending(self):
        """True while parts of a segmented or block-transfer push wait for the rest."""
        return self._framer.push_pending()

    @property
    def pending_bytes(self):
        """Bytes held for a frame not yet complete (0 or 1 between frames)."""
        return self._framer.pending()

    def _on_reject(self, reason, is_frame):
        if is_frame:
            self.stats.undecodable += 1
        else:
            self.last_abandoned = reason
        self.last_error = ValueError(reason)

    def _on_info(self, buf, start, end):
        try:
            reading = dlms.decode_info(buf, start, end, self._cursor)
        except Exception as err:  # any payload, however malformed, is only counted
            self.stats.undecodable += 1
            self.last_error = err
            return
        self.stats.frames_ok += 1
        self._on_reading(reading)
