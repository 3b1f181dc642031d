"""Iskraemeco AM550 and IE.5: lists of bare values, one layout per grid operator's push.

No OBIS codes and no scalers: power in W, energy in Wh, voltage in 0.1 V, current in 0.01 A
(amsreader #615, #869, #956, #1072, checked against the values the reporters read off their
meters: per-phase powers sum to the total, tariff registers to their total). Each layout is
known by its element count and the types of its first elements:

    18  serial, list id, P+, P-, Q+, Q-, U1-3, I1-3, P+ L1-3, P- L1-3   Elektro Ljubljana (SI)
    12  serial, list id, 16 tariff, date, A+, A+ T1, T2, A-, A- T1, T2, R+, R-   same, energy
    12  serial, list id, U1-3, I1-3, P+, P-, Q+, Q-                      Elektro Celje (SI)
    10  serial, id, P+, P-, Q+, Q-, U1, I1, P+ L1, P- L1                 1-phase (SI)
     9  serial, id, P+, P-, Q+, Q-, U1, ?, ?                             1-phase (SI)
     9  serial, P+, P-, A+, A+ T1, T2, A-, A- T1, T2                     GEN-i (SI)
     4  id, ?, A+, A-                                                    hourly energy (SI)
    33  id, ?, date, A+, T1, T2, A-, T1, T2, 4 reactive, P+, P-, ?,     IE.5 (HR)
        P+ L1-3, P- L1-3, U1-3, I1-3, ...
Elements marked ? or not listed are skipped.
"""

from . import axdr
from .compat import const

# A-XDR tags (axdr)
_OCTET_STRING = const(0x09)
_UINT8 = const(0x11)
_ENUM = const(0x16)

MANUFACTURER = "Iskraemeco"

_ID = "meter_id"
_LIST = "list_ver_id"
_P_IN = "active_power_import"
_P_OUT = "active_power_export"
_Q_IN = "reactive_power_import"
_Q_OUT = "reactive_power_export"
_A_IN = "active_power_import_total"
_A_OUT = "active_power_export_total"
_U = ("voltage_l1", "voltage_l2", "voltage_l3")
_I = ("current_l1", "current_l2", "current_l3")
_P_IN_L = ("active_power_import_l1", "active_power_import_l2", "active_power_import_l3")
_P_OUT_L = ("active_power_export_l1", "active_power_export_l2", "active_power_export_l3")
_A_IN_T = ("active_power_import_total_t1", "active_power_import_total_t2")
_A_OUT_T = ("active_power_export_total_t1", "active_power_export_total_t2")

_POWER_18 = (_ID, _LIST, _P_IN, _P_OUT, _Q_IN, _Q_OUT) + _U + _I + _P_IN_L + _P_OUT_L
_ENERGY_12 = (_ID, _LIST, None, None, _A_IN) + _A_IN_T + (_A_OUT,) + _A_OUT_T + (
    "reactive_power_import_total",
    "reactive_power_export_total",
)
_CELJE_12 = (_ID, _LIST) + _U + _I + (_P_IN, _P_OUT, _Q_IN, _Q_OUT)
_PHASE_10 = (_ID, None, _P_IN, _P_OUT, _Q_IN, _Q_OUT, _U[0], _I[0], _P_IN_L[0], _P_OUT_L[0])
_PHASE_9 = _PHASE_10[:7] + (None, None)
_GENI_9 = (_ID, _P_IN, _P_OUT, _A_IN) + _A_IN_T + (_A_OUT,) + _A_OUT_T
_HOURLY_4 = (_ID, None, _A_IN, _A_OUT)
_IE5_33 = (_ID, None, None, _A_IN) + _A_IN_T + (_A_OUT,) + _A_OUT_T + (None,) * 4
_IE5_33 += (_P_IN, _P_OUT, None) + _P_IN_L + _P_OUT_L + _U + _I + (None,) * 5

_VOLTAGES = _U
_CURRENTS = _I


def claims(list_ver_id, layout):
    return False  # known by value_keys(), never by a list version


def _tags(buf, pos, end, count):
    """The A-XDR tags of the first `count` elements at buf[pos:end] (fewer if it ends)."""
    cur = axdr.Cursor()
    cur.reset(buf, pos, end)
    tags = []
    for _ in range(count):
        if cur.pos >= end:
            break
        tags.append(cur.peek())
        cur.skip()
    return tags


def value_keys(buf, pos, end, count):
    """Position-to-key table for a value-only list at buf[pos], or None if not Iskraemeco's."""
    if count not in (4, 9, 10, 12, 18, 33) or buf[pos] != _OCTET_STRING:
        return None
    size = buf[pos + 1]
    serial = size > 3 and buf[pos + 2] == 0x49 and buf[pos + 3] == 0x53 and buf[pos + 4] == 0x4B
    tags = _tags(buf, pos, end, 3)
    if len(tags) < 3:
        return None
    if serial:  # "ISK..."
        if count == 18:
            return _POWER_18
        if count == 12:
            return _ENERGY_12 if tags[2] == _ENUM else _CELJE_12
        if count == 10:
            return _PHASE_10
        if count == 9:
            return _PHASE_9 if tags[1] == _OCTET_STRING else _GENI_9
        return None
    if count == 4 and tags[1] == _UINT8:
        return _HOURLY_4
    if count == 33 and tags[1] == _OCTET_STRING:
        return _IE5_33
    return None


def scale(reading):
    for key in _VOLTAGES:
        if key in reading:
            reading[key] = reading[key] / 10
    for key in _CURRENTS:
        if key in reading:
            reading[key] = reading[key] / 100
