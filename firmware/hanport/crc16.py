"""CRC-16/X.25 (hdlc.crc16, where the frame checks use it), under the name other code imports it
by (energystore)."""

from .hdlc import crc16  # noqa: F401
