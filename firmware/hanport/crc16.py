"""CRC-16/X.25 for HDLC header and frame check sequences (HCS, FCS).

IEC 62056-46 uses the PPP FCS-16: reflected polynomial 0x1021 (0x8408), init 0xFFFF, final
xor 0xFFFF, sent least significant byte first. It is computed four bits at a time from a
16-entry table (two lookups per byte): 32 bytes of heap, where the byte-wise 256-entry table
took 512 (a CRC covers one frame every 2-10 s, so the second lookup costs nothing that matters).
"""

from array import array

_TABLE = array("H", bytes(32))  # the CRC of each 4-bit value
for _i in range(16):
    _crc = _i
    for _ in range(4):
        _crc = (_crc >> 1) ^ 0x8408 if _crc & 1 else _crc >> 1
    _TABLE[_i] = _crc
del _i, _crc, _


def crc16(buf, start, end):
    """CRC-16/X.25 of buf[start:end] (any indexable of ints), without slicing."""
    table = _TABLE
    crc = 0xFFFF
    for i in range(start, end):
        crc ^= buf[i]
        crc = (crc >> 4) ^ table[crc & 0x0F]
        crc = (crc >> 4) ^ table[crc & 0x0F]
    return crc ^ 0xFFFF
