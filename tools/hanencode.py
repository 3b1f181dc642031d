r"""Build HAN-port frames on the host, byte for byte as Aidon, Kaifa and Kamstrup meters send them.

Why: the project's tests, the simulator and `make demo` need frames that nobody captured (every
value, list and phase layout, any time of day) without copying the capture corpus into the repo.
This module is the project's own encoder, checked against real captures in
`host_tests/test_hanencode.py`. It is a host tool (CPython 3.11); the device only ever decodes.

Layers, bottom up:
  CRC-16/X.25 -> HDLC frame type 3 (and segmentation) -> LLC header -> DLMS Data-Notification
  -> A-XDR data items -> vendor list builders (canonical reading dict -> frame bytes).

HDLC frame type 3 (IEC 62056-46), no byte stuffing on Norwegian meters:

    7E | A0 LL | dest | src | ctrl | HCS(2) | E6 E7 00 | APDU ... | FCS(2) | 7E
          \ 1010 S lll llllllll: S = more segments follow, l = bytes between the flags

Data-Notification APDU (IEC 62056-6-2):

    0F | long-invoke-id-and-priority(4) | date-time | body (one A-XDR item)

It leaves parsing to `firmware/hanport` and scheduling/value models to `tools/simulate.py`.
"""

import datetime
import math
import struct

# --- CRC-16/X.25 (reflected poly 0x1021 = 0x8408, init 0xFFFF, xorout 0xFFFF) -------------


def _crc_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_x25(data):
    """CRC-16/X.25 of `data` (the HDLC HCS/FCS); check value of b"123456789" is 0x906E."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


# --- HDLC -----------------------------------------------------------------------------------

FLAG = 0x7E
MAX_FRAME_LEN = 0x7FF  # 11-bit length field
LLC_HEADER = b"\xe6\xe7\x00"


def hdlc_address(value, size=1):
    """HDLC address `value` in `size` bytes: 7 bits per byte, lowest bit set on the last byte."""
    if size not in (1, 2, 4):
        raise ValueError(f"HDLC address size must be 1, 2 or 4 bytes, not {size}")
    if not 0 <= value < 1 << (7 * size):
        raise ValueError(f"HDLC address {value} does not fit in {size} bytes")
    out = bytearray()
    for i in range(size):
        out.append(((value >> (7 * (size - 1 - i))) & 0x7F) << 1)
    out[-1] |= 1
    return bytes(out)


def _check_address(addr, what):
    if not 1 <= len(addr) <= 4 or len(addr) == 3:
        raise ValueError(f"{what} address must be 1, 2 or 4 bytes, got {len(addr)}")
    for i, byte in enumerate(addr):
        if bool(byte & 1) != (i == len(addr) - 1):
            raise ValueError(
                f"{what} address {bytes(addr).hex()}: only its last byte may have bit 0 set"
            )


def hdlc_frame(info, dest=b"\x41", src=b"\x08\x83", control=0x13, segmented=False):
    """One HDLC type-3 frame with flags around `info`; `segmented` sets the S bit (A8xx)."""
    _check_address(dest, "destination")
    _check_address(src, "source")
    header_len = 2 + len(dest) + len(src) + 1
    # With no information field there is no HCS: the FCS follows the control byte.
    frame_len = header_len + (2 + len(info) if info else 0) + 2
    if frame_len > MAX_FRAME_LEN:
        raise ValueError(f"HDLC frame of {frame_len} bytes exceeds the 11-bit length field")
    fmt = 0xA000 | (0x0800 if segmented else 0) | frame_len
    body = bytearray(struct.pack(">H", fmt))
    body += dest
    body += src
    body.append(control)
    if info:
        body += struct.pack("<H", crc16_x25(body))
        body += info
    body += struct.pack("<H", crc16_x25(body))
    return bytes((FLAG,)) + bytes(body) + bytes((FLAG,))


def hdlc_segments(info, max_info_len, dest=b"\x41", src=b"\x08\x83", control=0x13):
    """Split `info` over HDLC frames of at most `max_info_len` information bytes each.

    Every frame but the last carries the segmentation bit; the LLC header, part of `info`,
    lands in the first segment only, as IEC 62056-46 wants.
    """
    if max_info_len < 1:
        raise ValueError("max_info_len must be positive")
    chunks = [info[i : i + max_info_len] for i in range(0, len(info), max_info_len)] or [b""]
    last = len(chunks) - 1
    return [
        hdlc_frame(chunk, dest, src, control, segmented=i < last) for i, chunk in enumerate(chunks)
    ]


# --- A-XDR ----------------------------------------------------------------------------------

TAG_NULL = 0x00
TAG_ARRAY = 0x01
TAG_STRUCTURE = 0x02
TAG_BOOLEAN = 0x03
TAG_BIT_STRING = 0x04
TAG_INT32 = 0x05
TAG_UINT32 = 0x06
TAG_OCTET_STRING = 0x09
TAG_VISIBLE_STRING = 0x0A
TAG_UTF8_STRING = 0x0C
TAG_BCD = 0x0D
TAG_INT8 = 0x0F
TAG_INT16 = 0x10
TAG_UINT8 = 0x11
TAG_UINT16 = 0x12
TAG_INT64 = 0x14
TAG_UINT64 = 0x15
TAG_ENUM = 0x16
TAG_FLOAT32 = 0x17
TAG_FLOAT64 = 0x18
TAG_DATE_TIME = 0x19
TAG_DATE = 0x1A
TAG_TIME = 0x1B


def axdr_length(n):
    """A-XDR count/length: one byte below 0x80, else `81 nn` or `82 nn nn`."""
    if n < 0:
        raise ValueError("negative length")
    if n < 0x80:
        return bytes((n,))
    if n <= 0xFF:
        return bytes((0x81, n))
    if n <= 0xFFFF:
        return b"\x82" + struct.pack(">H", n)
    raise ValueError(f"A-XDR length {n} too large")


def null():
    return b"\x00"


def array(items):
    """Array of already-encoded items."""
    items = list(items)
    return bytes((TAG_ARRAY,)) + axdr_length(len(items)) + b"".join(items)


def structure(items):
    """Structure of already-encoded items."""
    items = list(items)
    return bytes((TAG_STRUCTURE,)) + axdr_length(len(items)) + b"".join(items)


def boolean(value):
    return bytes((TAG_BOOLEAN, 0xFF if value else 0x00))


def bit_string(bits):
    """Bit-string from a str of '0'/'1'; the length counts bits, padded to whole bytes."""
    if any(c not in "01" for c in bits):
        raise ValueError("bit-string takes a string of 0 and 1")
    padded = bits + "0" * (-len(bits) % 8)
    data = bytes(int(padded[i : i + 8], 2) for i in range(0, len(padded), 8))
    return bytes((TAG_BIT_STRING,)) + axdr_length(len(bits)) + data


def _int(tag, fmt, value):
    try:
        return bytes((tag,)) + struct.pack(fmt, value)
    except struct.error:
        raise ValueError(f"value {value!r} out of range for tag 0x{tag:02X}") from None


def int8(value):
    return _int(TAG_INT8, ">b", value)


def int16(value):
    return _int(TAG_INT16, ">h", value)


def int32(value):
    return _int(TAG_INT32, ">i", value)


def int64(value):
    return _int(TAG_INT64, ">q", value)


def uint8(value):
    return _int(TAG_UINT8, ">B", value)


def uint16(value):
    return _int(TAG_UINT16, ">H", value)


def uint32(value):
    return _int(TAG_UINT32, ">I", value)


def uint64(value):
    return _int(TAG_UINT64, ">Q", value)


def enum(value):
    return _int(TAG_ENUM, ">B", value)


def float32(value):
    return bytes((TAG_FLOAT32,)) + struct.pack(">f", value)


def float64(value):
    return bytes((TAG_FLOAT64,)) + struct.pack(">d", value)


def bcd(value):
    """bcd is `[13] Integer8` in the DLMS Blue Book: one byte after the tag, no length."""
    return _int(TAG_BCD, ">b", value)


def octet_string(data):
    return bytes((TAG_OCTET_STRING,)) + axdr_length(len(data)) + bytes(data)


def visible_string(text):
    data = text.encode("ascii")
    return bytes((TAG_VISIBLE_STRING,)) + axdr_length(len(data)) + data


def utf8_string(text):
    data = text.encode("utf-8")
    return bytes((TAG_UTF8_STRING,)) + axdr_length(len(data)) + data


def _fixed(tag, data, size):
    if len(data) != size:
        raise ValueError(f"tag 0x{tag:02X} takes {size} bytes, got {len(data)}")
    return bytes((tag,)) + bytes(data)


def date_time(data12):
    """Tagged COSEM date-time (0x19): the 12 bytes from `cosem_datetime`."""
    return _fixed(TAG_DATE_TIME, data12, 12)


def date(data5):
    """Tagged COSEM date (0x1A): year(2) month day weekday."""
    return _fixed(TAG_DATE, data5, 5)


def time(data4):
    """Tagged COSEM time (0x1B): hour minute second hundredths."""
    return _fixed(TAG_TIME, data4, 4)


def obis(code):
    """OBIS code "1.0.1.7.0.255" (dots, or the A-B:C.D.E*F form) as a 6-byte octet-string."""
    parts = code.replace("-", ".").replace(":", ".").replace("*", ".").split(".")
    if len(parts) != 6:
        raise ValueError(f"OBIS code needs 6 groups: {code!r}")
    return octet_string(bytes(int(p) for p in parts))


def scaler_unit(scaler, unit):
    """COSEM scaler/unit structure: int8 power of ten, enum unit."""
    return structure((int8(scaler), enum(unit)))


# --- COSEM date-time ------------------------------------------------------------------------

DEVIATION_UNSPECIFIED = 0x8000
UNSPECIFIED = 0xFF


def cosem_datetime(
    year,
    month,
    day,
    hour,
    minute,
    second,
    hundredths=UNSPECIFIED,
    deviation=DEVIATION_UNSPECIFIED,
    status=0x00,
    weekday=None,
):
    """12-byte COSEM date-time; `weekday` (1 = Monday) is computed when not given.

    `deviation` is minutes, int16 (local time = UTC - deviation), 0x8000 = not specified.
    """
    if weekday is None:
        weekday = datetime.date(year, month, day).isoweekday()
    if deviation != DEVIATION_UNSPECIFIED and not -720 <= deviation <= 840:
        raise ValueError(f"deviation {deviation} minutes out of range")
    dev = deviation & 0xFFFF
    return struct.pack(
        ">HBBBBBBBHB", year, month, day, weekday, hour, minute, second, hundredths, dev, status
    )


def cosem_datetime_from_iso(
    iso, default_deviation=DEVIATION_UNSPECIFIED, status=0x00, weekday=None
):
    """COSEM date-time from an ISO 8601 string; an offset "+01:00" becomes deviation -60."""
    when = datetime.datetime.fromisoformat(iso)
    deviation = default_deviation
    if when.utcoffset() is not None:
        deviation = -int(when.utcoffset().total_seconds() // 60)
    return cosem_datetime(
        when.year,
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
        deviation=deviation,
        status=status,
        weekday=weekday,
    )


def iso_from_cosem_datetime(data12):
    """The canonical reading's ISO string for a 12-byte date-time (offset when specified)."""
    year, month, day, _, hour, minute, second, _, dev, _ = struct.unpack(">HBBBBBBBHB", data12)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if dev == DEVIATION_UNSPECIFIED:
        return text
    offset = -(dev - 0x10000 if dev & 0x8000 else dev)
    sign = "-" if offset < 0 else "+"
    return f"{text}{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"


# --- DLMS Data-Notification -----------------------------------------------------------------

DATA_NOTIFICATION = 0x0F
DT_TAGGED = "tagged"  # 09 0C + 12 bytes (Kaifa, early Kamstrup)
DT_LENGTH = "length"  # 0C + 12 bytes (Kamstrup, Iskraemeco)
DT_ABSENT = "absent"  # 00 (Aidon)
DT_FORMS = (DT_TAGGED, DT_LENGTH, DT_ABSENT)


def notification_datetime(data12, form):
    """The APDU header's date-time field in one of the three forms real meters use."""
    if form == DT_ABSENT:
        return b"\x00"
    if data12 is None or len(data12) != 12:
        raise ValueError(f"date-time form {form!r} needs 12 bytes")
    if form == DT_TAGGED:
        return b"\x09\x0c" + bytes(data12)
    if form == DT_LENGTH:
        return b"\x0c" + bytes(data12)
    raise ValueError(f"date-time form must be one of {DT_FORMS}, not {form!r}")


def data_notification(body, invoke_id=0x40000000, datetime_field=b"\x00"):
    """Data-Notification APDU: 0F, long-invoke-id-and-priority, date-time field, body."""
    return bytes((DATA_NOTIFICATION,)) + struct.pack(">I", invoke_id) + datetime_field + body


def gbt_blocks(apdu, block_size):
    """Split an APDU into General Block Transfer APDUs (E0), as Landis+Gyr E450 pushes do.

    E0 | control (0x80 on the last block) | block number (from 1) | acknowledged block (0)
    | data length (A-XDR) | data. Each goes in an HDLC frame of its own; only the first
    carries the LLC header.
    """
    if block_size < 1:
        raise ValueError("block_size must be positive")
    chunks = [apdu[i : i + block_size] for i in range(0, len(apdu), block_size)]
    out = []
    for number, chunk in enumerate(chunks, 1):
        control = 0x80 if number == len(chunks) else 0x40
        out.append(
            bytes((0xE0, control)) + struct.pack(">HH", number, 0) + axdr_length(len(chunk)) + chunk
        )
    return out


def llc_pdu(apdu):
    """LLC header E6 E7 00 (destination/source LSAP, quality) in front of an APDU."""
    return LLC_HEADER + apdu


# --- Vendor list builders -------------------------------------------------------------------
#
# A list layout is a sequence of (key, OBIS, kind, scaler, unit). kind says how the value is
# encoded; scaler is the vendor's power of ten (the resolution), unit the COSEM unit enum
# (None: the vendor sends no scaler/unit structure, the scaler is implied by the vendor).

_STR = "str"  # identification string
_CLOCK = "clock"  # 12-byte date-time as octet-string

_UNIT_W = 27
_UNIT_VAR = 29
_UNIT_WH = 30
_UNIT_VARH = 32
_UNIT_A = 33
_UNIT_V = 35

AIDON_LAYOUT = (
    ("list_ver_id", "1.1.0.2.129.255", _STR, 0, None),
    ("meter_id", "0.0.96.1.0.255", _STR, 0, None),
    ("meter_type", "0.0.96.1.7.255", _STR, 0, None),
    ("active_power_import", "1.0.1.7.0.255", uint32, 0, _UNIT_W),
    ("active_power_export", "1.0.2.7.0.255", uint32, 0, _UNIT_W),
    ("reactive_power_import", "1.0.3.7.0.255", uint32, 0, _UNIT_VAR),
    ("reactive_power_export", "1.0.4.7.0.255", uint32, 0, _UNIT_VAR),
    ("current_l1", "1.0.31.7.0.255", int16, -1, _UNIT_A),
    ("current_l2", "1.0.51.7.0.255", int16, -1, _UNIT_A),
    ("current_l3", "1.0.71.7.0.255", int16, -1, _UNIT_A),
    ("voltage_l1", "1.0.32.7.0.255", uint16, -1, _UNIT_V),
    ("voltage_l2", "1.0.52.7.0.255", uint16, -1, _UNIT_V),
    ("voltage_l3", "1.0.72.7.0.255", uint16, -1, _UNIT_V),
    ("meter_datetime", "0.0.1.0.0.255", _CLOCK, 0, None),
    ("active_power_import_total", "1.0.1.8.0.255", uint32, 1, _UNIT_WH),
    ("active_power_export_total", "1.0.2.8.0.255", uint32, 1, _UNIT_WH),
    ("reactive_power_import_total", "1.0.3.8.0.255", uint32, 1, _UNIT_VARH),
    ("reactive_power_export_total", "1.0.4.8.0.255", uint32, 1, _UNIT_VARH),
)

# Kaifa sends values only; the element count names the list. Currents mA, voltages 0.1 V.
KAIFA_LAYOUT = (
    ("list_ver_id", None, _STR, 0, None),
    ("meter_id", None, _STR, 0, None),
    ("meter_type", None, _STR, 0, None),
    ("active_power_import", None, uint32, 0, None),
    ("active_power_export", None, uint32, 0, None),
    ("reactive_power_import", None, uint32, 0, None),
    ("reactive_power_export", None, uint32, 0, None),
    ("current_l1", None, uint32, -3, None),
    ("current_l2", None, uint32, -3, None),
    ("current_l3", None, uint32, -3, None),
    ("voltage_l1", None, uint32, -1, None),
    ("voltage_l2", None, uint32, -1, None),
    ("voltage_l3", None, uint32, -1, None),
    ("meter_datetime", None, _CLOCK, 0, None),
    ("active_power_import_total", None, uint32, 0, None),
    ("active_power_export_total", None, uint32, 0, None),
    ("reactive_power_import_total", None, uint32, 0, None),
    ("reactive_power_export_total", None, uint32, 0, None),
)

# Kamstrup: list version first (no OBIS), then OBIS/value pairs; fixed scalers, none sent.
KAMSTRUP_LAYOUT = (
    ("list_ver_id", None, _STR, 0, None),
    ("meter_id", "1.1.0.0.5.255", _STR, 0, None),
    ("meter_type", "1.1.96.1.1.255", _STR, 0, None),
    ("active_power_import", "1.1.1.7.0.255", uint32, 0, None),
    ("active_power_export", "1.1.2.7.0.255", uint32, 0, None),
    ("reactive_power_import", "1.1.3.7.0.255", uint32, 0, None),
    ("reactive_power_export", "1.1.4.7.0.255", uint32, 0, None),
    ("current_l1", "1.1.31.7.0.255", uint32, -2, None),
    ("current_l2", "1.1.51.7.0.255", uint32, -2, None),
    ("current_l3", "1.1.71.7.0.255", uint32, -2, None),
    ("voltage_l1", "1.1.32.7.0.255", uint16, 0, None),
    ("voltage_l2", "1.1.52.7.0.255", uint16, 0, None),
    ("voltage_l3", "1.1.72.7.0.255", uint16, 0, None),
    ("meter_datetime", "0.1.1.0.0.255", _CLOCK, 0, None),
    ("active_power_import_total", "1.1.1.8.0.255", uint32, 1, None),
    ("active_power_export_total", "1.1.2.8.0.255", uint32, 1, None),
    ("reactive_power_import_total", "1.1.3.8.0.255", uint32, 1, None),
    ("reactive_power_export_total", "1.1.4.8.0.255", uint32, 1, None),
)

LAYOUTS = {"Aidon": AIDON_LAYOUT, "Kaifa": KAIFA_LAYOUT, "Kamstrup": KAMSTRUP_LAYOUT}

_LIST1_KEYS = ("active_power_import",)
_LIST2_KEYS_1PH = (
    "list_ver_id",
    "meter_id",
    "meter_type",
    "active_power_import",
    "active_power_export",
    "reactive_power_import",
    "reactive_power_export",
    "current_l1",
    "voltage_l1",
)
_LIST2_KEYS_3PH = _LIST2_KEYS_1PH[:8] + (
    "current_l2",
    "current_l3",
    "voltage_l1",
    "voltage_l2",
    "voltage_l3",
)
_TOTAL_KEYS = (
    "meter_datetime",
    "active_power_import_total",
    "active_power_export_total",
    "reactive_power_import_total",
    "reactive_power_export_total",
)
# Kaifa element counts: list 1 = 1, list 2 = 9 / 13, list 3 = 14 / 18 (single / three-phase).
KAIFA_LISTS = {
    1: (1, _LIST1_KEYS),
    9: (2, _LIST2_KEYS_1PH),
    13: (2, _LIST2_KEYS_3PH),
    14: (3, _LIST2_KEYS_1PH + _TOTAL_KEYS),
    18: (3, _LIST2_KEYS_3PH + _TOTAL_KEYS),
}

# Per-vendor frame defaults, as the Norwegian captures show them.
VENDOR_DEFAULTS = {
    "Aidon": {
        "dest": b"\x41",
        "src": b"\x08\x83",
        "control": 0x13,
        "invoke_id": 0x40000000,
        "datetime_form": DT_ABSENT,
        "deviation": 0x0000,
        "clock_status": 0x00,
        "weekday": None,
    },
    "Kaifa": {
        "dest": b"\x01",
        "src": b"\x02\x01",
        "control": 0x10,
        "invoke_id": 0x40000000,
        "datetime_form": DT_TAGGED,
        "deviation": DEVIATION_UNSPECIFIED,
        "clock_status": 0x00,
        "weekday": None,
    },
    "Kamstrup": {
        "dest": b"\x2b",
        "src": b"\x21",
        "control": 0x13,
        "invoke_id": 0x00000000,
        "datetime_form": DT_LENGTH,
        "deviation": DEVIATION_UNSPECIFIED,
        "clock_status": 0x00,
        "weekday": None,
    },
}

METERS = tuple(LAYOUTS)


def _layout(meter):
    try:
        return LAYOUTS[meter]
    except KeyError:
        raise ValueError(f"unknown meter {meter!r} (known: {', '.join(METERS)})") from None


def _raw(value, scaler):
    """The integer a meter with resolution 10**scaler sends for `value` (nearest step)."""
    if scaler < 0:
        return math.floor(value * 10**-scaler + 0.5)
    return math.floor(value / 10**scaler + 0.5)


def _from_raw(raw, scaler):
    """A decoder's view of `raw`: float for fractional resolution, else int."""
    if scaler < 0:
        return raw / 10**-scaler
    return raw * 10**scaler


def _entries(meter, reading):
    """The layout rows the reading fills, in the vendor's order.

    The clock element goes in list 3 only; on lists 1 and 2 meter_datetime travels in the
    APDU header (Kaifa, Kamstrup) or not at all (Aidon).
    """
    known = {row[0] for row in _layout(meter)} | {"meter_manufacturer"}
    unknown = sorted(k for k in reading if k not in known)
    if unknown:
        raise ValueError(f"{meter} lists cannot carry {', '.join(unknown)}")
    in_list3 = list_number(meter, reading) == 3
    rows = [
        row
        for row in _layout(meter)
        if row[0] in reading and (row[0] != "meter_datetime" or in_list3)
    ]
    if meter == "Kaifa":
        keys = tuple(row[0] for row in rows)
        if keys not in [wanted for _, wanted in KAIFA_LISTS.values()]:
            raise ValueError(f"keys {', '.join(keys)} match no Kaifa list (1/9/13/14/18 elements)")
    return rows


def list_number(meter, reading):
    """Norwegian list number (1, 2 or 3) the reading makes for this meter."""
    keys = set(reading) - {"meter_manufacturer", "meter_datetime"}
    if "active_power_import_total" in keys:
        return 3
    if keys == {"active_power_import"}:
        return 1
    return 2


def quantise(meter, reading, **options):
    """The reading exactly as a decoder will see it after `build_frame(meter, reading)`."""
    opts = dict(VENDOR_DEFAULTS.get(meter, {}))
    opts.update(options)
    out = {"meter_manufacturer": meter}
    rows = _entries(meter, reading)
    for key, _, kind, scaler, _ in rows:
        value = reading[key]
        if kind == _STR:
            out[key] = str(value)
        elif kind == _CLOCK:
            out[key] = iso_from_cosem_datetime(_clock_bytes(value, opts))
        else:
            out[key] = _from_raw(_raw(value, scaler), scaler)
    if "meter_datetime" in reading and "meter_datetime" not in out:
        _header_clock(meter, reading, opts)
        out["meter_datetime"] = iso_from_cosem_datetime(
            _clock_bytes(reading["meter_datetime"], opts)
        )
    return out


def _clock_bytes(iso, opts):
    return cosem_datetime_from_iso(
        iso, opts["deviation"], opts["clock_status"], opts.get("weekday")
    )


def _header_clock(meter, reading, opts):
    """12 header date-time bytes, or None; a meter_datetime with nowhere to go is an error."""
    if opts["datetime_form"] == DT_ABSENT:
        if "meter_datetime" in reading and list_number(meter, reading) != 3:
            raise ValueError(
                f"{meter} list {list_number(meter, reading)} has no place for meter_datetime "
                "(header date-time absent)"
            )
        return None
    if "meter_datetime" not in reading:
        raise ValueError(f"{meter} header date-time needs meter_datetime")
    return _clock_bytes(reading["meter_datetime"], opts)


def _value(key, kind, scaler, value, meter):
    if kind == _STR:
        # Aidon and Kamstrup send identification as visible-string, Kaifa as octet-string.
        if meter == "Kaifa":
            return octet_string(str(value).encode("ascii"))
        return visible_string(str(value))
    return kind(_raw(value, scaler))


def body(meter, reading, **options):
    """The notification body (one A-XDR item) for `reading` in the vendor's layout."""
    opts = dict(VENDOR_DEFAULTS.get(meter, {}))
    opts.update(options)
    rows = _entries(meter, reading)
    if not rows:
        raise ValueError(f"reading carries nothing a {meter} list holds")
    items = []
    for key, code, kind, scaler, unit in rows:
        value = reading[key]
        if kind == _CLOCK:
            encoded = octet_string(_clock_bytes(value, opts))
        else:
            encoded = _value(key, kind, scaler, value, meter)
        if meter == "Aidon":
            parts = [obis(code), encoded]
            if unit is not None:
                parts.append(scaler_unit(scaler, unit))
            items.append(structure(parts))
        elif meter == "Kamstrup" and code is not None:
            items.append(obis(code))
            items.append(encoded)
        else:
            items.append(encoded)
    if meter == "Aidon":
        return array(items)
    return structure(items)


def apdu(meter, reading, **options):
    """LLC header + Data-Notification APDU for `reading` (no HDLC)."""
    opts = dict(VENDOR_DEFAULTS.get(meter, {}))
    opts.update(options)
    header_dt = notification_datetime(_header_clock(meter, reading, opts), opts["datetime_form"])
    return llc_pdu(data_notification(body(meter, reading, **opts), opts["invoke_id"], header_dt))


def build_frame(meter, reading, **options):
    """Frame bytes (flags included) a `meter` sends for the canonical `reading`.

    Options override VENDOR_DEFAULTS: dest, src (address bytes), control, invoke_id,
    datetime_form (DT_TAGGED/DT_LENGTH/DT_ABSENT), deviation (minutes, used when
    meter_datetime has no offset), clock_status, weekday (None = computed; some meters send 0). Values are rounded to the vendor's resolution.
    Which elements go in follows the keys present, in the vendor's order; Kaifa accepts only
    its five element counts.
    """
    _layout(meter)
    opts = dict(VENDOR_DEFAULTS[meter])
    unknown = set(options) - set(opts)
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
    opts.update(options)
    return hdlc_frame(apdu(meter, reading, **opts), opts["dest"], opts["src"], opts["control"])


# --- Ciphered APDUs and M-Bus long frames (meters outside Norway) ----------------------------
#
# general-glo-ciphering (IEC 62056-5-3, security suite 0, AES-128-GCM):
#     DB | 08 | system title(8) | length | SC | invocation counter(4) | data | [tag(12)]
# M-Bus long frame (EN 13757-2), DLMS segments as Kaifa MA309 and Sagemcom T210-D send them:
#     68 | L | L | 68 | C | A | CI (0x10 = last, low nibble = number) | STSAP | DTSAP | data
#     | CS | 16

SC_AUTHENTICATED = 0x10
SC_ENCRYPTED = 0x20


def glo_ciphering(plain, key, auth_key, title, counter, control=0x30):
    """A general-glo-ciphering APDU wrapping the APDU `plain` (uses the `cryptography` package)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(title) != 8:
        raise ValueError("the system title is 8 bytes")
    iv = bytes(title) + counter.to_bytes(4, "big")
    if control & SC_ENCRYPTED and control & SC_AUTHENTICATED:
        sealed = AESGCM(key).encrypt(iv, plain, bytes([control]) + auth_key)
        data = sealed[:-16] + sealed[-16:-4]  # DLMS sends 12 of the 16 tag bytes
    elif control & SC_ENCRYPTED:
        data = Cipher(algorithms.AES(key), modes.CTR(iv + b"\0\0\0\2")).encryptor().update(plain)
    elif control & SC_AUTHENTICATED:
        tag = AESGCM(key).encrypt(iv, b"", bytes([control]) + auth_key + plain)
        data = plain + tag[:12]
    else:
        data = plain
    inner = bytes([control]) + counter.to_bytes(4, "big") + data
    return bytes([0xDB, 8]) + bytes(title) + axdr_length(len(inner)) + inner


def mbus_telegrams(apdu_bytes, max_data=240, c=0x53, a=0xFF, stsap=0x01, dtsap=0x67):
    """M-Bus long frames carrying `apdu_bytes` in segments of at most max_data bytes."""
    if not 1 <= max_data <= 250:
        raise ValueError("an M-Bus long frame holds at most 250 data bytes after its header")
    chunks = [apdu_bytes[i : i + max_data] for i in range(0, len(apdu_bytes), max_data)] or [b""]
    if len(chunks) > 16:
        raise ValueError("more than 16 segments")
    out = b""
    for number, chunk in enumerate(chunks):
        ci = number | (0x10 if number == len(chunks) - 1 else 0)
        user = bytes((c, a, ci, stsap, dtsap)) + chunk
        out += bytes((0x68, len(user), len(user), 0x68)) + user + bytes((sum(user) & 0xFF, 0x16))
    return out


# --- P1 / DSMR telegrams (Swedish and Danish P1 ports, DSMR 5) --------------------------------
#
#     /ADN9 6534\r\n \r\n  0-0:1.0.0(YYMMDDhhmmssW)\r\n  1-0:1.7.0(0001.234*kW)\r\n ...  !CRC\r\n
# CRC-16/ARC (reflected poly 0xA001, init 0) over "/" to "!", as four upper-case hex digits.

# (key, OBIS code, decimals, unit as written, power of ten from the key's unit)
P1_LINES = (
    ("active_power_import_total", "1-0:1.8.0", 3, "kWh", 3),
    ("active_power_export_total", "1-0:2.8.0", 3, "kWh", 3),
    ("reactive_power_import_total", "1-0:3.8.0", 3, "kvarh", 3),
    ("reactive_power_export_total", "1-0:4.8.0", 3, "kvarh", 3),
    ("active_power_import", "1-0:1.7.0", 3, "kW", 3),
    ("active_power_export", "1-0:2.7.0", 3, "kW", 3),
    ("reactive_power_import", "1-0:3.7.0", 3, "kvar", 3),
    ("reactive_power_export", "1-0:4.7.0", 3, "kvar", 3),
    ("voltage_l1", "1-0:32.7.0", 1, "V", 0),
    ("voltage_l2", "1-0:52.7.0", 1, "V", 0),
    ("voltage_l3", "1-0:72.7.0", 1, "V", 0),
    ("current_l1", "1-0:31.7.0", 1, "A", 0),
    ("current_l2", "1-0:51.7.0", 1, "A", 0),
    ("current_l3", "1-0:71.7.0", 1, "A", 0),
)


def crc16_arc(data):
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def p1_telegram(reading, ident="/ADN9 6534", summer=False):
    """(telegram bytes, the values a P1 reader gives for it) for a canonical `reading`: the
    keys of P1_LINES that it holds, and its naive meter_datetime (written with W, or S when
    `summer`). Values are rounded to the decimals Swedish meters write."""
    lines = [ident, ""]
    values = {}
    when = reading.get("meter_datetime")
    if when:
        stamp = datetime.datetime.fromisoformat(when).strftime("%y%m%d%H%M%S")
        lines.append("0-0:1.0.0({}{})".format(stamp, "S" if summer else "W"))
    for key, code, decimals, unit, power in P1_LINES:
        if key not in reading:
            continue
        scaled = round(reading[key] / 10**power, decimals)
        width = 10 if unit.endswith("h") else 8 if power else 5  # 000123.456*kWh, 001.6*A
        text = "{:0{}.{}f}".format(scaled, width, decimals)
        lines.append("{}({}*{})".format(code, text, unit))
        whole = round(scaled * 10**decimals)
        if power >= decimals:
            values[key] = whole * 10 ** (power - decimals)
        else:
            values[key] = whole / 10 ** (decimals - power)
    body = ("\r\n".join(lines) + "\r\n!").encode("ascii")
    return body + b"%04X\r\n" % crc16_arc(body), values
