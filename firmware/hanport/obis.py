"""The reading vocabulary: canonical key names and which OBIS code feeds each.

Every sink (MQTT, HTTP, the decoder CLI) sees these names, and they are the ones the
amshan library uses, so users can move between tools. An OBIS code A-B:C.D.E.F is looked
up as one small int made of A, C, D and E: B (channel) and F are ignored because meters
disagree on them (Kamstrup sends 1.1.x, Aidon 1.0.x; F is 255 or 0).
"""

METER_MANUFACTURER = "meter_manufacturer"
METER_TYPE = "meter_type"
METER_ID = "meter_id"
LIST_VER_ID = "list_ver_id"
METER_DATETIME = "meter_datetime"
ACTIVE_POWER_IMPORT = "active_power_import"
ACTIVE_POWER_EXPORT = "active_power_export"
REACTIVE_POWER_IMPORT = "reactive_power_import"
REACTIVE_POWER_EXPORT = "reactive_power_export"
CURRENT_L1 = "current_l1"
CURRENT_L2 = "current_l2"
CURRENT_L3 = "current_l3"
VOLTAGE_L1 = "voltage_l1"
VOLTAGE_L2 = "voltage_l2"
VOLTAGE_L3 = "voltage_l3"
ACTIVE_POWER_IMPORT_TOTAL = "active_power_import_total"
ACTIVE_POWER_EXPORT_TOTAL = "active_power_export_total"
REACTIVE_POWER_IMPORT_TOTAL = "reactive_power_import_total"
REACTIVE_POWER_EXPORT_TOTAL = "reactive_power_export_total"
GAS_VOLUME = "gas_volume"  # P1: the gas meter on an M-Bus channel of the electricity meter
WATER_VOLUME = "water_volume"
HEAT_ENERGY = "heat_energy"

def obis_id(a, c, d, e):
    """The lookup int of OBIS A-x:C.D.E.x (fits a MicroPython small int: no allocation)."""
    return ((a & 0x3F) << 24) | (c << 16) | (d << 8) | e


def _electric(c, d, e):
    return (1 << 24) | (c << 16) | (d << 8) | e


def _abstract(c, d, e):
    return (c << 16) | (d << 8) | e


KEYS = {
    _abstract(96, 1, 0): METER_ID,
    _electric(0, 0, 5): METER_ID,  # Kamstrup: 1.1.0.0.5.255
    _abstract(96, 1, 7): METER_TYPE,
    _electric(96, 1, 1): METER_TYPE,  # Kamstrup: 1.1.96.1.1.255
    _electric(0, 2, 129): LIST_VER_ID,
    _abstract(1, 0, 0): METER_DATETIME,
    _electric(1, 7, 0): ACTIVE_POWER_IMPORT,
    _electric(2, 7, 0): ACTIVE_POWER_EXPORT,
    _electric(3, 7, 0): REACTIVE_POWER_IMPORT,
    _electric(4, 7, 0): REACTIVE_POWER_EXPORT,
    _electric(21, 7, 0): "active_power_import_l1",
    _electric(22, 7, 0): "active_power_export_l1",
    _electric(23, 7, 0): "reactive_power_import_l1",
    _electric(24, 7, 0): "reactive_power_export_l1",
    _electric(41, 7, 0): "active_power_import_l2",
    _electric(42, 7, 0): "active_power_export_l2",
    _electric(43, 7, 0): "reactive_power_import_l2",
    _electric(44, 7, 0): "reactive_power_export_l2",
    _electric(61, 7, 0): "active_power_import_l3",
    _electric(62, 7, 0): "active_power_export_l3",
    _electric(63, 7, 0): "reactive_power_import_l3",
    _electric(64, 7, 0): "reactive_power_export_l3",
    _electric(31, 7, 0): CURRENT_L1,
    _electric(51, 7, 0): CURRENT_L2,
    _electric(71, 7, 0): CURRENT_L3,
    _electric(32, 7, 0): VOLTAGE_L1,
    _electric(52, 7, 0): VOLTAGE_L2,
    _electric(72, 7, 0): VOLTAGE_L3,
    _electric(13, 7, 0): "power_factor",
    _electric(33, 7, 0): "power_factor_l1",
    _electric(53, 7, 0): "power_factor_l2",
    _electric(73, 7, 0): "power_factor_l3",
    _electric(1, 8, 0): ACTIVE_POWER_IMPORT_TOTAL,
    _electric(2, 8, 0): ACTIVE_POWER_EXPORT_TOTAL,
    _electric(3, 8, 0): REACTIVE_POWER_IMPORT_TOTAL,
    _electric(4, 8, 0): REACTIVE_POWER_EXPORT_TOTAL,
    _electric(1, 8, 1): "active_power_import_total_t1",  # tariff registers (P1, DSMR)
    _electric(1, 8, 2): "active_power_import_total_t2",
    _electric(2, 8, 1): "active_power_export_total_t1",
    _electric(2, 8, 2): "active_power_export_total_t2",
}
