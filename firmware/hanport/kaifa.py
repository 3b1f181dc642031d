"""Kaifa MA105/MA304: values without OBIS codes (Norway) or OBIS/value pairs (Sweden).

Neither carries scalers: currents come in mA, voltages in 0.1 V, power in W, energy in Wh.
A Norwegian list is known by its element count (HAN-REFERENCE: Kaifa element counts);
its clock and energy registers follow the list 2 elements in list 3. walk_values reads such
lists (Iskraemeco's too) once their keys are known.
"""

from . import dlms

MANUFACTURER = "Kaifa"

_LIST2_1PH = (
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
_LIST2_3PH = _LIST2_1PH[:8] + (
    "current_l2",
    "current_l3",
    "voltage_l1",
    "voltage_l2",
    "voltage_l3",
)
_LIST3_TAIL = (
    "meter_datetime",
    "active_power_import_total",
    "active_power_export_total",
    "reactive_power_import_total",
    "reactive_power_export_total",
)

VALUE_KEYS = {
    1: ("active_power_import",),
    9: _LIST2_1PH,
    13: _LIST2_3PH,
    14: _LIST2_1PH + _LIST3_TAIL,
    18: _LIST2_3PH + _LIST3_TAIL,
}

_CURRENTS = ("current_l1", "current_l2", "current_l3")
_VOLTAGES = ("voltage_l1", "voltage_l2", "voltage_l3")


def value_keys(buf, pos, count):
    """Position-to-key table for a value-only list at buf[pos], or None if not Kaifa's."""
    keys = VALUE_KEYS.get(count)
    if keys is None:
        return None
    if count == 1:
        return keys if buf[pos] == 0x06 else None
    # Lists 2 and 3 open with the list version, octet-string "KFM_001".
    if buf[pos] == 0x09 and buf[pos + 2] == 0x4B and buf[pos + 3] == 0x46 and buf[pos + 4] == 0x4D:
        return keys
    return None


def scale(reading):
    for key in _CURRENTS:
        if key in reading:
            reading[key] = reading[key] / 1000
    for key in _VOLTAGES:
        if key in reading:
            reading[key] = reading[key] / 10


def walk_values(cur, count, keys, reading):
    """Bare values, named by position from `keys` (None: skip)."""
    for i in range(count):
        key = keys[i]
        if key is None:
            cur.skip()
        else:
            dlms.store(cur, key, reading)
