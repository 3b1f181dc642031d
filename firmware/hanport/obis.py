"""The reading vocabulary: canonical key names and which OBIS code feeds each.

Every sink (MQTT, HTTP, the decoder CLI) sees these names, and they are the ones the
amshan library uses, so users can move between tools. An OBIS code A-B:C.D.E.F is looked
up as one small int made of A, C, D and E: B (channel) and F are ignored because meters
disagree on them (Kamstrup sends 1.1.x, Aidon 1.0.x; F is 255 or 0).

Names with no OBIS code here: meter_manufacturer (from the list version, layout or system
title), and from P1 telegrams gas_volume, water_volume and heat_energy (M-Bus channels of
the electricity meter).

The names are written as keyword arguments: that makes them interned strings (qstrs) in
MicroPython, about half the heap of string constants, and a string constant elsewhere with
the same text (the parser's own "meter_datetime") is then the same object at no cost.
"""


def obis_id(a, c, d, e):
    """The lookup int of OBIS A-x:C.D.E.x (fits a MicroPython small int: no allocation)."""
    return ((a & 0x3F) << 24) | (c << 16) | (d << 8) | e


def _electric(c, d, e):
    return (1 << 24) | (c << 16) | (d << 8) | e


def _abstract(c, d, e):
    return (c << 16) | (d << 8) | e


def _keys(**codes):
    """{lookup int: name} from name=code or name=(code, code)."""
    keys = {}
    for name, code in codes.items():
        for one in code if isinstance(code, tuple) else (code,):
            keys[one] = name
    return keys


KEYS = _keys(
    meter_id=(_abstract(96, 1, 0), _electric(0, 0, 5)),  # Kamstrup: 1.1.0.0.5.255
    meter_type=(_abstract(96, 1, 7), _electric(96, 1, 1)),  # Kamstrup: 1.1.96.1.1.255
    list_ver_id=_electric(0, 2, 129),
    meter_datetime=_abstract(1, 0, 0),
    active_power_import=_electric(1, 7, 0),
    active_power_export=_electric(2, 7, 0),
    reactive_power_import=_electric(3, 7, 0),
    reactive_power_export=_electric(4, 7, 0),
    active_power_import_l1=_electric(21, 7, 0),
    active_power_export_l1=_electric(22, 7, 0),
    reactive_power_import_l1=_electric(23, 7, 0),
    reactive_power_export_l1=_electric(24, 7, 0),
    active_power_import_l2=_electric(41, 7, 0),
    active_power_export_l2=_electric(42, 7, 0),
    reactive_power_import_l2=_electric(43, 7, 0),
    reactive_power_export_l2=_electric(44, 7, 0),
    active_power_import_l3=_electric(61, 7, 0),
    active_power_export_l3=_electric(62, 7, 0),
    reactive_power_import_l3=_electric(63, 7, 0),
    reactive_power_export_l3=_electric(64, 7, 0),
    current_l1=_electric(31, 7, 0),
    current_l2=_electric(51, 7, 0),
    current_l3=_electric(71, 7, 0),
    voltage_l1=_electric(32, 7, 0),
    voltage_l2=_electric(52, 7, 0),
    voltage_l3=_electric(72, 7, 0),
    power_factor=_electric(13, 7, 0),
    power_factor_l1=_electric(33, 7, 0),
    power_factor_l2=_electric(53, 7, 0),
    power_factor_l3=_electric(73, 7, 0),
    active_power_import_total=_electric(1, 8, 0),
    active_power_export_total=_electric(2, 8, 0),
    reactive_power_import_total=_electric(3, 8, 0),
    reactive_power_export_total=_electric(4, 8, 0),
    active_power_import_total_t1=_electric(1, 8, 1),  # tariff registers (P1, DSMR)
    active_power_import_total_t2=_electric(1, 8, 2),
    active_power_export_total_t1=_electric(2, 8, 1),
    active_power_export_total_t2=_electric(2, 8, 2),
)
del _electric, _abstract, _keys  # used once, to build KEYS
