"""Kamstrup Omnipower: OBIS/value pairs (1.1.x.x.x.255) without scalers.

Fixed resolutions (Kamstrup HAN-NVE interface description): current 0.01 A, or 0.001 A on
CT meters (meter type 685...), voltage 1 V, power 1 W, energy 10 Wh.
"""

from . import obis

MANUFACTURER = "Kamstrup"

_CURRENTS = (obis.CURRENT_L1, obis.CURRENT_L2, obis.CURRENT_L3)
_TOTALS = (
    obis.ACTIVE_POWER_IMPORT_TOTAL,
    obis.ACTIVE_POWER_EXPORT_TOTAL,
    obis.REACTIVE_POWER_IMPORT_TOTAL,
    obis.REACTIVE_POWER_EXPORT_TOTAL,
)


def is_ct_meter(reading):
    return reading.get(obis.METER_TYPE, "").startswith("685")


def scale(reading):
    divisor = 1000 if is_ct_meter(reading) else 100
    for key in _CURRENTS:
        if key in reading:
            reading[key] = reading[key] / divisor
    for key in _TOTALS:
        if key in reading:
            reading[key] = reading[key] * 10
