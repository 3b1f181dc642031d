r"""P1 / DSMR telegrams (IEC 62056-21 mode D text, DSMR 2.2-5, Fluvius, Swedish/Danish P1).

    /XXX5<identification>\r\n            XXX: manufacturer flag id, 5: baud rate character
    \r\n
    A-B:C.D.E(value*unit)\r\n            one COSEM object per line, some with several groups
    0-n:24.2.1(YYMMDDhhmmssX)(v*m3)\r\n   M-Bus channel n (gas, water, heat): time, then value
    !CRC\r\n                            CRC-16/ARC of '/' to '!' as 4 hex digits (DSMR 4+)

Values land on the same keys and units as the HDLC lists (W, var, A, V, Wh, varh), so the
sinks cannot tell a P1 meter from an HDLC one; k-units are scaled by 1000 without going
through floats. A telegram without a CRC is accepted only when it does not claim DSMR 4 or
later (`1-3:0.2.8` >= 40), since only older versions and plain IEC 62056-21 meters omit it.
Lines this module does not know are skipped. `Framer` collects a telegram from the stream
into the reader's one buffer; `decode` reads it there. Imported only when a "/" is first seen
between frames.
"""

from .compat import const
from . import makers, obis

_SLASH = const(0x2F)
_BANG = const(0x21)
_OPEN = const(0x28)
_CLOSE = const(0x29)
_STAR = const(0x2A)
_CR = const(0x0D)
_LF = const(0x0A)
_FIRST_CRC_VERSION = const(40)
_TEXT = const(0)  # collecting up to "!"
_CRC = const(1)  # after "!": up to 4 hex digits, then the line end

_ARC = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)

# Units a P1 value may carry (compared without case: meters write "kVArh", "KWH"), the unit
# on the reading's key, and the power of ten that takes the value there.
_UNIT_NAMES = (b"kw", b"w", b"kwh", b"wh", b"kvar", b"var", b"kvarh", b"varh", b"v", b"a")
_UNIT_NAMES += (b"m3", b"gj")
_UNIT_OF = ("W", "W", "Wh", "Wh", "var", "var", "varh", "varh", "V", "A", "m3", "GJ")
_UNIT_POWER = (3, 0, 3, 0, 3, 0, 3, 0, 0, 0, 0, 0)

# M-Bus device types (EN 13757-3) of channels 0-n:24.1.0 to their volume/energy key.
_CHANNELS = {3: "gas_volume", 7: "water_volume", 4: "heat_energy", 12: "heat_energy"}


class Framer:
    """Collects one telegram, "/" to the end of its "!CRC" line, at the front of the HDLC
    framer's buffer (idle meanwhile), and hands it to on_telegram(buf, 0, end)."""

    def __init__(self, framer, on_telegram):
        self._hdlc = framer  # its buffer and counters are shared
        self._buf = framer._buf
        self._on_telegram = on_telegram
        self.active = False
        self._state = _TEXT
        self._at = 0
        self._digits = 0

    def held(self):
        """Bytes of the telegram in progress."""
        return self._at if self.active else 0

    def begin(self):
        self.active = True
        self._state = _TEXT
        self._at = 0

    def feed(self, src, i, end):
        """Consume src[i:end]; returns where it stopped: end, past the telegram, or at a byte
        no telegram holds (binary, e.g. the 7E of an HDLC frame), left for the HDLC framer."""
        buf = self._buf
        size = len(buf)
        at = self._at
        state = self._state
        while i < end:
            b = src[i]
            if state == _CRC:
                if b == _LF:
                    self.active = False
                    self._on_telegram(buf, 0, at)
                    return i + 1
                if b != _CR and (self._digits == 4 or _hex_digit(b) < 0):
                    self.active = False  # no line end after the CRC: the telegram ends anyway
                    self._on_telegram(buf, 0, at)
                    return i
                self._digits += 1
            elif b == _BANG:
                state = _CRC
                self._state = state
                self._digits = 0
            elif b == _SLASH and at:
                if at < 8:
                    self._hdlc.skipped_bytes += at  # a stray "/" before this one
                else:
                    self._hdlc.truncated += 1  # a new telegram began: one was cut
                at = 0
            elif b >= 0x7E or (0 < at < 4 and not 0x41 <= (b & 0xDF) <= 0x5A):
                # No telegram holds these bytes (an HDLC frame starts with 7E), and one opens
                # with a three-letter manufacturer id.
                self.active = False
                if at < 8:
                    self._hdlc.skipped_bytes += at  # a stray "/", not a telegram
                else:
                    self._hdlc.truncated += 1
                return i
            if at == size:
                self.active = False
                self._hdlc.oversized += 1
                return i
            buf[at] = b
            at += 1
            i += 1
        self._at = at
        return i


    def flush(self):
        """End of input: a telegram whose "!" has come is complete without its line end."""
        if self.active and self._state == _CRC:
            self.active = False
            self._on_telegram(self._buf, 0, self._at)


def crc16_arc(buf, start, end):
    """CRC-16/ARC (reflected 0x8005, init 0) of buf[start:end], a nibble at a time: a
    16-entry table instead of 256 saves 1 KB of heap; a telegram comes every 1-10 s."""
    table = _ARC
    crc = 0
    for i in range(start, end):
        b = buf[i]
        crc = (crc >> 4) ^ table[(crc ^ b) & 15]
        crc = (crc >> 4) ^ table[(crc ^ (b >> 4)) & 15]
    return crc


def _hex_digit(b):
    if 0x30 <= b <= 0x39:
        return b - 0x30
    b |= 0x20
    if 0x61 <= b <= 0x66:
        return b - 0x57
    return -1


def _text(buf, start, end):
    return bytes(buf[start:end]).decode()


def check(buf, start, end):
    """Where the telegram buf[start:end] ('/' first) has its '!'; ValueError when the CRC is
    wrong or missing where the version requires one."""
    bang = end - 1
    while bang > start and buf[bang] != _BANG:
        bang -= 1
    if bang <= start:
        raise ValueError("P1 telegram without its closing '!'")
    stated = 0
    digits = 0
    pos = bang + 1
    while pos < end and digits < 4:
        d = _hex_digit(buf[pos])
        if d < 0:
            break
        stated = (stated << 4) | d
        digits += 1
        pos += 1
    if digits:  # some meters drop the CRC's leading zeros (dsmr_parser "unpadded" example)
        crc = crc16_arc(buf, start, bang + 1)
        if crc != stated:
            raise ValueError("P1 telegram: bad CRC (%04X, computed %04X)" % (stated, crc))
    return bang


def decode(buf, start, end):
    """The reading carried by the P1 telegram buf[start:end] ('/' to '!' and its CRC)."""
    return decode_checked(buf, start, end, check(buf, start, end))


def decode_checked(buf, start, end, bang):
    """decode() for a telegram whose CRC check() has passed, with its '!' at buf[bang]."""
    crc_present = bang + 1 < end and _hex_digit(buf[bang + 1]) >= 0
    reading = {}
    pos = start + 1
    line_end = pos
    while line_end < bang and buf[line_end] != _CR and buf[line_end] != _LF:
        line_end += 1
    maker = makers.name(buf, pos) if line_end - pos >= 4 else None
    if maker is not None:
        reading["meter_manufacturer"] = maker
    ident = pos + 4
    if ident + 1 < line_end and buf[ident] == 0x5C:  # "\\2" after the baud character: enhanced id
        ident += 2
    while ident < line_end and buf[ident] < 0x21:
        ident += 1
    reading["meter_type"] = _text(buf, ident, line_end)
    channels = {}
    version = 0
    pos = line_end
    while pos < bang:
        while pos < bang and (buf[pos] == _CR or buf[pos] == _LF):
            pos += 1
        line_end = pos
        while line_end < bang and buf[line_end] != _CR and buf[line_end] != _LF:
            line_end += 1
        if pos < line_end:
            got = _line(buf, pos, line_end, reading, channels)
            if got > version:
                version = got
        pos = line_end
    if not crc_present and version >= _FIRST_CRC_VERSION:
        raise ValueError("P1 telegram: DSMR %d.%d requires a CRC" % (version // 10, version % 10))
    for value in reading.values():
        if not isinstance(value, str):
            return reading
    raise ValueError("P1 telegram: no known values")


def _number(buf, pos, end):
    """Parse an unsigned decimal at buf[pos:end]: (mantissa, decimals, next pos) or None."""
    mantissa = 0
    decimals = -1
    digits = 0
    while pos < end:
        b = buf[pos]
        if 0x30 <= b <= 0x39:
            mantissa = mantissa * 10 + b - 0x30
            digits += 1
            if decimals >= 0:
                decimals += 1
        elif b == 0x2E and decimals < 0:
            decimals = 0
        else:
            break
        pos += 1
    if not digits:
        return None
    return mantissa, decimals if decimals > 0 else 0, pos


def _line(buf, pos, end, reading, channels):
    """Decode one COSEM line into reading; returns the DSMR version when this line states it."""
    a = b = c = d = e = 0  # the OBIS code A-B:C.D.E, read without a list (no allocation)
    field = 0
    while pos < end and field < 5:
        ch = buf[pos]
        if 0x30 <= ch <= 0x39:
            ch -= 0x30
            if field == 0:
                a = a * 10 + ch
            elif field == 1:
                b = b * 10 + ch
            elif field == 2:
                c = c * 10 + ch
            elif field == 3:
                d = d * 10 + ch
            else:
                e = e * 10 + ch
        elif ch == 0x2D or ch == 0x3A or ch == 0x2E:  # "-", ":", "."
            field += 1
        else:
            break
        pos += 1
    if field != 4:
        return 0  # not A-B:C.D.E (a broken line, or a continuation of the one before)
    while pos < end and buf[pos] != _OPEN:  # "*255" after the code (IEC 62056-21 style)
        pos += 1
    if pos >= end:
        return 0
    # The value is the last group: "(time)(value*unit)" on M-Bus channels and event logs.
    last = end - 1
    while last > pos and buf[last] != _OPEN:
        last -= 1
    close = last + 1
    while close < end and buf[close] != _CLOSE:
        close += 1
    if close >= end:
        return 0
    if a == 1 and b == 3 and c == 0 and d == 2 and e == 8:
        got = _number(buf, last + 1, close)
        return got[0] if got is not None else 0
    if a == 0 and c == 96 and d == 1 and e == 1 and b == 0:
        reading["meter_id"] = _hex_text(buf, last + 1, close)
        return 0
    if a == 0 and c == 1 and d == 0 and e == 0 and b == 0:
        when = _timestamp(buf, last + 1, close)
        if when is not None:
            reading["meter_datetime"] = when
        return 0
    if a == 0 and b and c == 24:
        if d == 1 and e == 0:
            got = _number(buf, last + 1, close)
            if got is not None:
                channels[b] = got[0]
        elif d == 2:
            key = _CHANNELS.get(channels.get(b, 3))
            _store(buf, last + 1, close, key, reading)
        return 0
    if b > 1 and a == 1:
        return 0
    key = obis.KEYS.get(obis.obis_id(a, c, d, e))
    if key is not None and key != "list_ver_id":
        if key == "meter_id" or key == "meter_type":
            if b == 0:
                reading[key] = _text(buf, last + 1, close)
        else:
            _store(buf, last + 1, close, key, reading)
    return 0


def _store(buf, pos, end, key, reading):
    """Store "(value*unit)" under key when its unit is the key's (after k-scaling)."""
    got = _number(buf, pos, end)
    if got is None or key is None:
        return
    mantissa, decimals, pos = got
    if pos >= end or buf[pos] != _STAR:
        return  # no unit: an unset M-Bus channel "(00000000)", or an unknown quantity
    unit = _unit(buf, pos + 1, end)
    if unit < 0 or _unit_of(key) != _UNIT_OF[unit]:
        return
    power = _UNIT_POWER[unit] - decimals
    if power >= 0:
        reading[key] = mantissa * 10**power
    else:
        reading[key] = mantissa / 10 ** (-power)


def _unit_of(key):
    """The unit of a reading key (the vocabulary's: W, var, Wh, varh, A, V, m3, GJ)."""
    if key.startswith("current"):
        return "A"
    if key.startswith("voltage"):
        return "V"
    if key == "gas_volume" or key == "water_volume":
        return "m3"
    if key == "heat_energy":
        return "GJ"
    total = key.find("_total") > 0
    if key.startswith("reactive"):
        return "varh" if total else "var"
    return "Wh" if total else "W"


def _unit(buf, pos, end):
    """Index in _UNIT_NAMES of the unit at buf[pos:end], or -1 (compared in place)."""
    size = end - pos
    for u in range(len(_UNIT_NAMES)):
        name = _UNIT_NAMES[u]
        if len(name) == size:
            j = 0
            while j < size and buf[pos + j] | 0x20 == name[j]:
                j += 1
            if j == size:
                return u
    return -1


def _hex_text(buf, pos, end):
    """DSMR writes 0-0:96.1.1 as hex of ASCII; other meters write it plain."""
    size = end - pos
    if size and not size & 1:
        out = bytearray(size >> 1)
        for i in range(size >> 1):
            hi = _hex_digit(buf[pos + 2 * i])
            lo = _hex_digit(buf[pos + 2 * i + 1])
            if hi < 0 or lo < 0:
                break
            ch = (hi << 4) | lo
            if ch < 0x20 or ch > 0x7E:
                break
            out[i] = ch
        else:
            return bytes(out).decode()
    return _text(buf, pos, end)


def _timestamp(buf, pos, end):
    """YYMMDDhhmmssX (X: W = winter time, UTC+1; S = summer time, UTC+2) to ISO 8601."""
    if end - pos != 13:
        return None
    for i in range(12):
        if not 0x30 <= buf[pos + i] <= 0x39:
            return None
    zone = buf[pos + 12]
    offset = "+01:00" if zone == 0x57 else "+02:00" if zone == 0x53 else ""
    t = _text(buf, pos, pos + 12)
    return "20{}-{}-{}T{}:{}:{}{}".format(
        t[0:2], t[2:4], t[4:6], t[6:8], t[8:10], t[10:12], offset
    )
