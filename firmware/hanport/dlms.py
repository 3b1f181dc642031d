"""An HDLC information field to a reading: LLC header, Data-Notification, body.

    E6 E7 00 | 0F | invoke-id(4) | date-time | body           (IEC 62056-5-3 / 6-2)
    date-time: 09 0C + 12 bytes (Kaifa), 0C + 12 bytes (Kamstrup, Iskra), 00 (Aidon: none)

The body is one A-XDR list. Meters lay out the same readings in four ways; the first element
tells which:

    STRUCTURES  array/structure of {OBIS, value[, {scaler, unit}]}   Aidon, SE Aidon
                02 03 | 09 06 <obis> | <value> | 02 02 0F <scaler> 16 <unit>
    PAIRS       structure of OBIS, value, OBIS, value, ...            Kamstrup, SE Kaifa
                [0A nn <list version>] | 09 06 <obis> | <value> | ...
                (AT/PL Kaifa MA309, Sagemcom T210-D: [09 0C <clock>] | 09 06 <obis> |
                <value> | [02 02 0F <scaler> 16 <unit>] | ... | [09 nn <meter number>])
    VALUES      structure of bare values, known by position          Kaifa (NO), Iskraemeco
                (walked by kaifa.walk_values, imported for it)
    CAPTURED    structure of {capture objects}, value, value, ...     Landis+Gyr E450 (CH)
                01 n (02 04 12 <class> 09 06 <obis> 0F <attribute> 12 <index>)... | <value>...
                element i is the value of capture object i (object 0: the list itself);
                walked by the landisgyr module, imported for it

STRUCTURES (and the AT/PL PAIRS) carry scalers; the vendor modules name and scale what only
they know. Ciphered APDUs (DB, DF) are opened by the reader's cipher (gcm) when it has a key,
and refused with a reason when not; block-transfer (E0) APDUs are joined by the framer.
"""

from .compat import const
from . import axdr, obis
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
_VISIBLE_STRING = const(0x0A)
_INT8 = const(0x0F)
_UINT16 = const(0x12)
_ENUM = const(0x16)
_DATE_TIME = const(0x19)

# The layouts of a notification body
_STRUCTURES = const(1)
_PAIRS = const(2)
_VALUES = const(3)
_CAPTURED = const(4)

# Why a notification is refused (rejects.PAYLOAD has the words; axdr numbers its own from 0)
_R_NOT_OBIS = const(5)
_R_NOT_ELEMENT = const(6)
_R_ELEMENT_ITEMS = const(7)
_R_BAD_SCALER = const(8)
_R_PAIR_NOT_OBIS = const(9)
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
    layout = layout_of(cur)
    vendor = None
    if layout == _STRUCTURES:
        walk_structures(cur, count, reading)
    elif layout == _PAIRS:
        walk_pairs(cur, count, reading)
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


def read_obis_id(cur):
    """Read an `09 06` OBIS octet-string and return its lookup int."""
    if cur.byte() != _OCTET_STRING or cur.byte() != 6:
        raise refusal(_R_NOT_OBIS)
    buf = cur.buf
    pos = cur.take(6)
    return obis.obis_id(buf[pos], buf[pos + 2], buf[pos + 3], buf[pos + 4])


def store(cur, key, reading):
    """Decode the next item as the value of `key` into reading; returns it (None: skipped)."""
    if key == "meter_datetime":
        tag = cur.peek()
        if tag == _OCTET_STRING or tag == _DATE_TIME:
            cur.byte()
            size = 12 if tag == _DATE_TIME else cur.length()
            pos = cur.take(size)
            # The APDU header's time, when present, is the one reported (as amshan does).
            if size == 12 and key not in reading:
                value = axdr.iso_datetime(cur.buf, pos)
                if value is not None:
                    reading[key] = value
                return value
            return None
    value = cur.value()
    if key is not None and value is not None:
        reading[key] = value
    return value


def layout_of(cur):
    """Which layout the list at the cursor (just past its count) uses."""
    buf = cur.buf
    pos = cur.pos
    tag = cur.peek()
    if tag == _STRUCTURE:
        return _STRUCTURES
    if tag == _ARRAY and buf[pos + 2] == _STRUCTURE and buf[pos + 4] == _UINT16:
        return _CAPTURED
    if tag == _OCTET_STRING and buf[pos + 1] == 6:
        return _PAIRS
    if tag == _VISIBLE_STRING or tag == _OCTET_STRING:  # a list version or clock first
        after = pos + 2 + buf[pos + 1]
        if after + 1 < cur.end and buf[after] == _OCTET_STRING and buf[after + 1] == 6:
            return _PAIRS
    return _VALUES


def walk_structures(cur, count, reading):
    keys = obis.KEYS
    for _ in range(count):
        if cur.byte() != _STRUCTURE:
            raise refusal(_R_NOT_ELEMENT)
        _element(cur, keys, reading)


def _element(cur, keys, reading):
    """The rest of an {OBIS, value[, {scaler, unit}]} structure, its tag already read."""
    items = cur.length()
    if items < 2:
        raise refusal(_R_ELEMENT_ITEMS, items)
    key = keys.get(read_obis_id(cur))
    value = store(cur, key, reading)
    items -= 2
    if items and cur.peek() == _STRUCTURE:
        items -= 1
        _apply_scaler(cur, key, value, reading)
    for _ in range(items):
        cur.skip()


def _apply_scaler(cur, key, value, reading):
    """Read a {scaler, unit} structure and scale the value just stored under key."""
    cur.byte()
    if cur.length() != 2 or cur.byte() != _INT8:
        raise refusal(_R_BAD_SCALER)
    scaler = cur.int(1)
    if cur.byte() != _ENUM:
        raise refusal(_R_BAD_SCALER)
    cur.byte()
    if scaler and isinstance(value, int) and key is not None and key != "meter_datetime":
        reading[key] = value * 10**scaler if scaler > 0 else value / 10 ** (-scaler)


def walk_pairs(cur, count, reading):
    """OBIS, value pairs; as Kaifa MA309 and Sagemcom T210-D (AT, PL) send them, a pair may
    be followed by its {scaler, unit}, and {OBIS, value[, scaler]} structures, a leading
    clock and a closing meter number (EVN) may sit among the pairs."""
    keys = obis.KEYS
    buf = cur.buf
    i = 0
    while i < count:
        tag = cur.peek()
        if tag == _OCTET_STRING and buf[cur.pos + 1] == 6 and i + 1 < count:
            key = keys.get(read_obis_id(cur))
            value = store(cur, key, reading)
            i += 2
            if i < count and cur.peek() == _STRUCTURE and buf[cur.pos + 2] == _INT8:
                _apply_scaler(cur, key, value, reading)
                i += 1
        elif tag == _STRUCTURE:
            cur.byte()
            _element(cur, keys, reading)
            i += 1
        elif tag == _NULL:
            cur.byte()
            i += 1
        elif i == 0 and tag == _OCTET_STRING and buf[cur.pos + 1] == 12:
            store(cur, "meter_datetime", reading)  # the push's clock (Kaifa MA309, AT)
            i += 1
        elif i == 0 and (tag == _VISIBLE_STRING or tag == _OCTET_STRING):
            store(cur, "list_ver_id", reading)  # Kamstrup: the version has no OBIS code
            i += 1
        elif i == count - 1 and tag == _OCTET_STRING and "meter_id" not in reading:
            store(cur, "meter_id", reading)  # EVN (AT): the meter number closes the list
            i += 1
        else:
            raise refusal(_R_PAIR_NOT_OBIS, i)
