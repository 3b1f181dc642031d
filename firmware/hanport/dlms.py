"""An HDLC information field to a reading: LLC header, Data-Notification, body.

    E6 E7 00 | 0F | invoke-id(4) | date-time | body           (IEC 62056-5-3 / 6-2)
    date-time: 09 0C + 12 bytes (Kaifa), 0C + 12 bytes (Kamstrup, Iskra), 00 (Aidon: none)

The body is one A-XDR list; `lists` walks it and the vendor modules name and scale what
only they know. Ciphered APDUs (DB, DF) are opened by the reader's cipher (gcm) when it has a
key, and refused with a reason when not; block-transfer (E0) APDUs are joined by the framer.
"""

from .compat import const
from . import axdr, lists
from .axdr import refusal

_LLC_DST = const(0xE6)
_DATA_NOTIFICATION = const(0x0F)
_GENERAL_GLO_CIPHERING = const(0xDB)
_GENERAL_DED_CIPHERING = const(0xDF)
# A-XDR tags (axdr)
_NULL = const(0x00)
_ARRAY = const(0x01)
_STRUCTURE = const(0x02)
_OCTET_STRING = const(0x09)
# Layouts of a notification body (lists)
_STRUCTURES = const(1)
_PAIRS = const(2)
_CAPTURED = const(4)
# Why a notification is refused (rejects.PAYLOAD has the words; axdr and lists number theirs
# before these)
_R_SHORT = const(10)
_R_LLC = const(11)
_R_CLOCK_SIZE = const(12)
_R_CLOCK_TAG = const(13)
_R_BODY_TAG = const(14)
_R_EMPTY_BODY = const(15)
_R_UNKNOWN_VALUES = const(16)
_R_NO_VALUES = const(17)

def decode_info(buf, start, end, cur=None, cipher=None):
    """The reading carried by the information field buf[start:end]; ValueError if none.

    cipher: a gcm.Decryptor for ciphered APDUs (decrypted in place), or None."""
    if cur is None:
        cur = axdr.Cursor()
    if end - start < 8:
        raise refusal(_R_SHORT, end - start)
    if buf[start] == _LLC_DST:
        if buf[start + 1] != 0xE7 or buf[start + 2] != 0x00:
            raise refusal(_R_LLC)
        start += 3
    return decode_apdu(buf, start, end, cur, cipher)


def decode_apdu(buf, start, end, cur, cipher=None):
    """The reading carried by the APDU at buf[start:end] (after the LLC header)."""
    tag = buf[start]
    if tag != _DATA_NOTIFICATION:
        if cipher is not None and (tag == _GENERAL_GLO_CIPHERING or tag == _GENERAL_DED_CIPHERING):
            from . import gcm  # loaded already: with the key

            return gcm.decode_ciphered(buf, start, end, cur, cipher)
        from . import rejects  # the words for an APDU that is not read, loaded only then

        raise ValueError(rejects.apdu(tag))
    cur.reset(buf, start + 5, end)  # past the tag and the long-invoke-id-and-priority
    reading = {}
    tag = cur.byte()
    if tag == _OCTET_STRING or tag == 0x0C:
        if tag == _OCTET_STRING and cur.length() != 12:
            raise refusal(_R_CLOCK_SIZE)
        when = axdr.iso_datetime(buf, cur.take(12))
        if when is not None:
            reading["meter_datetime"] = when
    elif tag != _NULL:
        raise refusal(_R_CLOCK_TAG, tag)
    # The body: one list, walked by the layout it has.
    tag = cur.byte()
    if tag != _STRUCTURE and tag != _ARRAY:
        raise refusal(_R_BODY_TAG, tag)
    count = cur.length()
    if count == 0:
        raise refusal(_R_EMPTY_BODY)
    layout = lists.layout_of(cur)
    vendor = None
    if layout == _STRUCTURES:
        lists.walk_structures(cur, count, reading)
    elif layout == _PAIRS:
        lists.walk_pairs(cur, count, reading)
    elif layout == _CAPTURED:
        from . import landisgyr  # the one meter with this layout

        landisgyr.walk(cur, count, reading)
    else:
        from . import kaifa  # its walk_values reads any bare value list

        vendor = kaifa
        keys = kaifa.value_keys(cur.buf, cur.pos, count)
        if keys is None:
            from . import iskra  # only for meters that send Iskraemeco's bare value lists

            vendor = iskra
            keys = iskra.value_keys(cur.buf, cur.pos, cur.end, count)
        if keys is None:
            raise refusal(_R_UNKNOWN_VALUES, count)
        kaifa.walk_values(cur, count, keys, reading)
    if vendor is None:
        # Which vendor module names and scales the list: by the start of its list version,
        # else by its layout. A vendor's module is imported when its first list arrives, so a
        # dongle holds only its own meter's code.
        version = reading.get("list_ver_id")
        if version is not None:
            if version.startswith("AIDON"):
                from . import aidon as vendor
            elif version.startswith("KFM"):
                from . import kaifa as vendor
            elif version.startswith("Kamstrup"):
                from . import kamstrup as vendor
        elif layout == _STRUCTURES:
            from . import aidon as vendor
        if vendor is None and layout == _CAPTURED:
            from . import landisgyr as vendor
    if vendor is not None:
        reading["meter_manufacturer"] = vendor.MANUFACTURER
        if layout != _STRUCTURES:
            vendor.scale(reading)
    if len(reading) == 0:
        raise refusal(_R_NO_VALUES)
    return reading
