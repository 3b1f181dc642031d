"""Kamstrup Omnipower: OBIS/value pairs (1.1.x.x.x.255) without scalers.

Fixed resolutions (Kamstrup HAN-NVE interface description): current 0.01 A, or 0.001 A on
CT meters (meter type 685...), voltage 1 V, power 1 W, energy 10 Wh.
"""


MANUFACTURER = "Kamstrup"

_CURRENTS = ("current_l1", "current_l2", "current_l3")
_TOTALS = (
    "active_power_import_total",
    "active_power_export_total",
    "reactive_power_import_total",
    "reactive_power_export_total",
)


def scale(reading):
    divisor = 1000 if reading.get("meter_type", "").startswith("685") else 100  # CT meter
    for key in _CURRENTS:
        if key in reading:
            reading[key] = reading[key] / divisor
    for key in _TOTALS:
        if key in reading:
            reading[key] = reading[key] * 10
