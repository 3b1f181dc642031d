"""Walk a notification body (one A-XDR list) into a reading, whatever its layout.

Meters lay out the same readings in three ways; the first element tells which:

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

STRUCTURES (and the AT/PL PAIRS) carry scalers; vendor modules scale the others.
"""

from .compat import const
from . import axdr, obis
from .axdr import refusal

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

# The layouts (dlms has the same numbers)
_STRUCTURES = const(1)
_PAIRS = const(2)
_VALUES = const(3)
_CAPTURED = const(4)

# Why a list is refused (rejects.PAYLOAD has the words; axdr numbers its own from 0)
_R_NOT_OBIS = const(5)
_R_NOT_ELEMENT = const(6)
_R_ELEMENT_ITEMS = const(7)
_R_BAD_SCALER = const(8)
_R_PAIR_NOT_OBIS = const(9)


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
