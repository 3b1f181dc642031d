"""hanport: HAN port (HDLC + DLMS/COSEM) parser for Aidon, Kaifa, Kamstrup and OBIS meters.

The same files run on MicroPython (the dongle) and CPython (tests, host tools):

    reader = hanport.Reader(print)   # streaming: feed() any chunks, one call per reading
    reading = hanport.decode_frame(bytes.fromhex("7ea0..7e"))   # one whole frame

Pipeline, one module per step: hdlc (bytes -> frames) -> dlms (frame -> APDU -> A-XDR list
-> values, with axdr) -> aidon/kaifa/kamstrup (vendor naming and scaling) -> a reading: a flat
dict keyed by the names in `obis`.
"""

# obis first: its key names become interned strings before the modules that use them load,
# so their string constants with the same text cost no heap of their own.
from . import obis  # noqa: F401
from . import dlms, hdlc
from .reader import Reader

__all__ = ("Reader", "decode_frame")


def decode_frame(frame):
    """One complete HDLC frame (both flags included) to a reading; ValueError if it is not."""
    n = len(frame)
    if (
        n < 9
        or frame[0] != 0x7E
        or frame[n - 1] != 0x7E
        or frame[1] & 0xF8 != 0xA0  # type 3, not segmented
        or (((frame[1] & 0x07) << 8) | frame[2]) != n - 2  # the length field
        or hdlc.check_frame(frame, 1, n - 1) >= 0
    ):
        from . import rejects  # the words for what is wrong, loaded only then

        raise ValueError(rejects.why(frame))
    try:
        return dlms.decode_info(frame, hdlc.info_start(frame, 1, n - 1), n - 3)
    except IndexError:
        raise ValueError("frame payload ends early")
