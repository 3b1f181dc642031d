"""A-XDR decoding (IEC 62056-6-2 / DLMS) in place, over a view of the frame buffer, and
COSEM date-times to ISO 8601 text (iso_datetime).

A `Cursor` walks one data item at a time and keeps its position in an int on itself, so
decoding allocates nothing but the values that leave the parser (ints above 2**30, floats,
strings). Malformed input raises `ValueError`; running off the end raises `IndexError`,
which callers treat the same way.

    tag | [length or count] | content        (multi-byte numbers big-endian)
    length/count: 1 byte below 0x80, else 0x81 nn or 0x82 nn nn
"""

import struct
from binascii import hexlify

from .compat import const

_NULL = const(0x00)
_ARRAY = const(0x01)
_STRUCTURE = const(0x02)
_BOOLEAN = const(0x03)
_BIT_STRING = const(0x04)
_INT32 = const(0x05)
_UINT32 = const(0x06)
_OCTET_STRING = const(0x09)
_VISIBLE_STRING = const(0x0A)
_UTF8_STRING = const(0x0C)
_BCD = const(0x0D)
_INT8 = const(0x0F)
_INT16 = const(0x10)
_UINT8 = const(0x11)
_UINT16 = const(0x12)
_INT64 = const(0x14)
_UINT64 = const(0x15)
_ENUM = const(0x16)
_FLOAT32 = const(0x17)
_FLOAT64 = const(0x18)
_DATE_TIME = const(0x19)
_DATE = const(0x1A)
_TIME = const(0x1B)

# Size of each fixed-length type, by tag; 0xFF: a string, a container or no A-XDR type.
#         00  01  02  03  04  05  06  07  08  09  0A  0B  0C  0D  0E  0F
_FIXED = (b"\x00\xff\xff\x01\xff\x04\x04\xff\xff\xff\xff\xff\xff\x01\xff\x01"
          b"\x02\x01\x02\xff\x08\x08\x01\x04\x08\x0c\x05\x04")
#         10  11  12  13  14  15  16  17  18  19  1A  1B

_MAX_DEPTH = const(8)

# Why a payload is refused: numbers for the words in rejects.PAYLOAD (see refusal), one set
# for the decoders that every frame uses (axdr, dlms). The words cost heap only once a
# payload is refused.
_R_ENDS_EARLY = const(0)
_R_LENGTH_FORM = const(1)
_R_TOO_DEEP = const(2)
_R_UNKNOWN_TAG = const(3)
_R_NOT_SIMPLE = const(4)


def refusal(reason, value=None):
    """The ValueError that refuses a payload for `reason` (an _R_ number of axdr or dlms),
    with `value` put into its words; the words are loaded from rejects only now."""
    from . import rejects

    return ValueError(rejects.payload(reason, value))


class Cursor:
    """Position in an A-XDR encoded buffer; reused across frames."""

    def reset(self, buf=b"", pos=0, end=0):
        self.buf = buf
        self.pos = pos
        self.end = end

    __init__ = reset  # a new cursor is one reset to nothing: one function, not two

    def byte(self):
        pos = self.pos
        if pos >= self.end:
            raise refusal(_R_ENDS_EARLY)
        self.pos = pos + 1
        return self.buf[pos]

    def length(self):
        """A count or length: one byte below 0x80, else 0x81 nn or 0x82 nn nn."""
        n = self.byte()
        if n < 0x80:
            return n
        if n == 0x81:
            return self.byte()
        if n == 0x82:
            return (self.byte() << 8) | self.byte()
        raise refusal(_R_LENGTH_FORM, n)

    def take(self, size):
        """Start of the next `size` bytes, advancing past them."""
        pos = self.pos
        if pos + size > self.end:
            raise refusal(_R_ENDS_EARLY)
        self.pos = pos + size
        return pos

    def uint(self, size):
        buf = self.buf
        pos = self.take(size)
        value = 0
        for i in range(pos, pos + size):
            value = (value << 8) | buf[i]
        return value

    def int(self, size):
        value = self.uint(size)
        top = 1 << (8 * size - 1)
        return value - (top << 1) if value & top else value

    def peek(self):
        if self.pos >= self.end:
            raise refusal(_R_ENDS_EARLY)
        return self.buf[self.pos]

    def skip(self, depth=0):
        """Skip one complete item, containers included."""
        tag = self.byte()
        if tag == _ARRAY or tag == _STRUCTURE:
            if depth >= _MAX_DEPTH:
                raise refusal(_R_TOO_DEEP)
            for _ in range(self.length()):
                self.skip(depth + 1)
        elif tag == _OCTET_STRING or tag == _VISIBLE_STRING or tag == _UTF8_STRING:
            self.take(self.length())
        elif tag == _BIT_STRING:
            self.take((self.length() + 7) >> 3)
        elif tag < len(_FIXED) and _FIXED[tag] != 0xFF:
            self.take(_FIXED[tag])
        else:
            raise refusal(_R_UNKNOWN_TAG, tag)

    def value(self):
        """Decode one simple item: int, float, bool, str (strings as text), or None.

        Containers are not values: callers walk them with `length()`.
        """
        tag = self.byte()
        if tag == _UINT32:
            return self.uint(4)
        if tag == _UINT16:
            return self.uint(2)
        if tag == _INT16:
            return self.int(2)
        if tag == _INT32:
            return self.int(4)
        if tag == _UINT8 or tag == _ENUM or tag == _BCD:
            return self.uint(1)
        if tag == _INT8:
            return self.int(1)
        if tag == _OCTET_STRING or tag == _VISIBLE_STRING or tag == _UTF8_STRING:
            # Text as sent (ASCII/UTF-8), or hex when the meter sends binary.
            size = self.length()
            raw = bytes(self.buf[self.take(size) : self.pos])
            try:
                return raw.decode("utf-8")
            except (UnicodeError, ValueError):
                return hexlify(raw).decode()
        if tag == _INT64:
            return self.int(8)
        if tag == _UINT64:
            return self.uint(8)
        if tag == _NULL:
            return None
        if tag == _BOOLEAN:
            return self.byte() != 0
        if tag == _FLOAT32:
            return struct.unpack(">f", bytes(self.buf[self.take(4) : self.pos]))[0]
        if tag == _FLOAT64:
            return struct.unpack(">d", bytes(self.buf[self.take(8) : self.pos]))[0]
        if tag == _BIT_STRING:
            size = (self.length() + 7) >> 3
            if size > 8:  # no number for it: its bytes are passed over, not read as items
                self.take(size)
                return None
            return self.uint(size)
        if tag == _DATE_TIME or tag == _DATE or tag == _TIME:
            self.take(_FIXED[tag])
            return None
        raise refusal(_R_NOT_SIMPLE, tag)


# COSEM date-time (12 bytes: a date-time item's content, or a 12-byte octet-string) to ISO 8601
# text:
#     year(2) month day weekday hour minute second hundredths deviation(2, signed) status
# 0xFF (0xFFFF for year) marks a field as not specified. The deviation is UTC minus local
# time in minutes (0x8000 = not specified), so the ISO offset is its negation.


def iso_datetime(buf, pos):
    """ISO 8601 text of the COSEM date-time at buf[pos:pos+12], or None when unspecified."""
    year = (buf[pos] << 8) | buf[pos + 1]
    month = buf[pos + 2]
    day = buf[pos + 3]
    hour = buf[pos + 5]
    minute = buf[pos + 6]
    second = buf[pos + 7]
    if year == 0xFFFF or month > 12 or day > 31 or hour > 23 or minute > 59:
        return None
    if month == 0 or day == 0:
        return None
    if second > 59:
        second = 0
    deviation = (buf[pos + 9] << 8) | buf[pos + 10]
    if deviation == 0x8000:
        return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}".format(
            year, month, day, hour, minute, second
        )
    if deviation & 0x8000:
        deviation -= 0x10000
    offset = -deviation
    sign = "+" if offset >= 0 else "-"
    offset = abs(offset)
    if offset > 15 * 60:
        return None
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{:02d}:{:02d}".format(
        year, month, day, hour, minute, second, sign, offset // 60, offset % 60
    )
