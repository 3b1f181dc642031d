"""Prometheus names, types and help texts of sensors.py's rows, in the same order (one string
per row: name, type, then the help text). Only /metrics needs them (sensors.rows()), so the
table that every Home Assistant announcement loads is without them."""

ROWS = (
    "hanport_active_power_import_watts gauge"
    " Active power import",
    "hanport_active_power_export_watts gauge"
    " Active power export",
    "hanport_reactive_power_import_vars gauge"
    " Reactive import",
    "hanport_reactive_power_export_vars gauge"
    " Reactive export",
    "hanport_current_amperes gauge"
    " Current per phase",
    "hanport_voltage_volts gauge"
    " Voltage per phase",
    "hanport_power_factor gauge"
    " Power factor (total and per phase)",
    "hanport_active_energy_import_watthours_total counter"
    " Active energy imported (meter register)",
    "hanport_active_energy_export_watthours_total counter"
    " Active energy exported (meter register)",
    "hanport_reactive_energy_import_varhours_total counter"
    " Reactive energy imported (meter register)",
    "hanport_reactive_energy_export_varhours_total counter"
    " Reactive energy exported (meter register)",
    "hanport_active_energy_import_tariff1_watthours_total counter"
    " Active energy imported, tariff 1",
    "hanport_active_energy_import_tariff2_watthours_total counter"
    " Active energy imported, tariff 2",
    "hanport_active_energy_export_tariff1_watthours_total counter"
    " Active energy exported, tariff 1",
    "hanport_active_energy_export_tariff2_watthours_total counter"
    " Active energy exported, tariff 2",
    "hanport_gas_cubic_meters_total counter"
    " Gas meter on the P1 port",
    "hanport_water_cubic_meters_total counter"
    " Water meter on the P1 port",
    "hanport_heat_energy_gigajoules_total counter"
    " Heat meter on the P1 port",
)
