"""The streaming reader: bytes in, one reading per good frame out, every reject counted.

Wires the framer to the DLMS decoder. Nothing that arrives from the meter makes `feed`
raise: bad frames and undecodable payloads are counted in `stats` and dropped. An
exception raised by the caller's `on_reading` is the caller's and propagates.
"""

from . import axdr, dlms, hdlc


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

    def as_dict(self):
        return {
            "frames_ok": self.frames_ok,
            "hcs_errors": self.hcs_errors,
            "fcs_errors": self.fcs_errors,
            "oversized": self.oversized,
            "truncated": self.truncated,
            "bad_format": self.bad_format,
            "undecodable": self.undecodable,
            "skipped_bytes": self.skipped_bytes,
        }


class Reader:
    """Feed it meter bytes; it calls on_reading(reading) once per good frame, in order."""

    def __init__(self, on_reading, buffer_size=2048):
        self._on_reading = on_reading
        self._framer = hdlc.Framer(self._on_info, buffer_size)
        self._cursor = axdr.Cursor()
        self.stats = Stats(self._framer)
        self.last_error = None

    def feed(self, data):
        self._framer.feed(data)

    @property
    def pending_bytes(self):
        """Bytes held for a frame not yet complete (0 or 1 between frames)."""
        return self._framer.pending()

    def _on_info(self, buf, start, end):
        try:
            reading = dlms.decode_info(buf, start, end, self._cursor)
        except Exception as err:  # any payload, however malformed, is only counted
            self.stats.undecodable += 1
            self.last_error = err
            return
        self.stats.frames_ok += 1
        self._on_reading(reading)
