"""The words for what the parser refuses but rarely meets, loaded only when it does: why
hanport.decode_frame refuses a frame (the dongle itself never calls it), and why dlms does not
read an APDU.
"""

from . import hdlc

_REASONS = ("bad HCS", "bad FCS", "oversized", "truncated", "bad format")


def why(frame):
    """The message of the first check the whole frame fails, or None if it fails none."""
    n = len(frame)
    if n < 9 or frame[0] != 0x7E or frame[n - 1] != 0x7E:
        return "not an HDLC frame: must start and end with 7E"
    if frame[1] & 0xF0 != 0xA0:
        return "not an HDLC type 3 frame (format byte 0x%02x)" % frame[1]
    length = ((frame[1] & 0x07) << 8) | frame[2]
    if length != n - 2:
        return "frame length field says %d bytes, got %d" % (length, n - 2)
    if frame[1] & 0x08:
        return "segmented frame: feed all segments to a Reader"
    reason = hdlc.check_frame(frame, 1, n - 1)
    if reason >= 0:
        return "rejected frame: " + _REASONS[reason]
    return None


def apdu(tag):
    """Why dlms does not read an APDU with this tag (not a data notification, 0F)."""
    if tag == 0xDB or tag == 0xDF:  # general-glo-ciphering, general-ded-ciphering
        return "encrypted APDU (0x%02x): no decryption key" % tag
    if tag == 0xE0:
        return "general block transfer APDU (0xE0): feed all blocks to a Reader"
    return "APDU 0x%02x is not a data notification" % tag
