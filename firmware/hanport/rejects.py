"""The words for what the parser refuses but rarely meets, loaded only when it does: why
hanport.decode_frame refuses a frame (the dongle itself never calls it), why dlms does not
read an APDU, and why the decoders (axdr, dlms) refuse a payload.
"""

from . import hdlc

_REASONS = ("bad HCS", "bad FCS", "oversized", "truncated", "bad format")

# Why a payload is refused, by the number the decoders raise axdr.refusal with: the _R_
# constants of axdr (0-4) and dlms (5-17), in that order.
PAYLOAD = (
    "A-XDR data ends early",  # axdr
    "A-XDR length form 0x%02x not supported",
    "A-XDR nesting too deep",
    "unknown A-XDR tag 0x%02x",
    "A-XDR tag 0x%02x is not a simple value",
    "expected a 6-byte OBIS code",  # dlms
    "expected {OBIS, value} structure",
    "element structure has %d items",
    "bad scaler/unit structure",
    "expected an OBIS code at list element %d",
    "information field too short (%d bytes)",
    "bad LLC header",
    "notification date-time is not 12 bytes",
    "bad notification date-time tag 0x%02x",
    "notification body is not a list (tag 0x%02x)",
    "empty notification body",
    "value-only list of %d elements from an unknown meter",
    "no known values in the notification",
)


def payload(reason, value=None):
    """The words of PAYLOAD[reason], with value put in when it has a place for one."""
    words = PAYLOAD[reason]
    return words if value is None else words % value


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
