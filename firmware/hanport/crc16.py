"""CRC-16/X.25 for HDLC header and frame check sequences (HCS, FCS).

IEC 62056-46 uses the PPP FCS-16: reflected polynomial 0x1021 (0x8408), init 0xFFFF, final
xor 0xFFFF, sent least significant byte first. The byte-wise table is computed once at import
into an array of 16-bit ints: 512 bytes of heap, where a constant tuple of 256 ints takes 1 KB
(and a lookup in it is no faster).
"""

from array import array

_TABLE = array("H", bytes(512))
for _i in range(256):
    _crc = _i
    for _ in range(8):
        _crc = (_crc >> 1) ^ 0x8408 if _crc & 1 else _crc >> 1
    _TABLE[_i] = _crc
del _i, _crc, _


def crc16(buf, start, end):
    """CRC-16/X.25 of buf[start:end] (any indexable of ints), without slicing."""
    table = _TABLE
    crc = 0xFFFF
    for i in range(start, end):
        crc = (crc >> 8) ^ table[(crc ^ buf[i]) & 0xFF]
    return crc ^ 0xFFFF
