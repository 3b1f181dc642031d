"""What each numeric reading key measures: its unit, and how Home Assistant and Prometheus see it.

One row per quantity, keyed by the reading key without a phase suffix (`current` covers
`current_l1` to `current_l3`). Discovery (discovery.py) and metrics (web/metrics.py) derive
everything from this table, so a key and its unit are written once. A row's fields:

    key stem, unit, Home Assistant device_class, state_class, metric name, metric type, help

The table is one string per row, fields split by single spaces (the help text is the rest of
the line, "-" stands for none): as strings the rows take about half the heap they take as tuples
of strings, and rows are only looked up when a key is first seen, when discovery is sent and
when /metrics is asked for. One string per row, not one for the whole table: the module is
imported again for each announcement (publisher.py), and a fragmented heap has room for a few
hundred bytes in one piece much more often than for 2 KB. Home Assistant's reactive_energy
class is recent, so the reactive energy rows have none, and older versions still work. The tariff
registers and the gas, water and heat keys come from P1 ports (Sweden, Denmark, NL).
"""

_ROWS = (
    "active_power_import W power measurement"
    " hanport_active_power_import_watts gauge"
    " Active power import",
    "active_power_export W power measurement"
    " hanport_active_power_export_watts gauge"
    " Active power export",
    "reactive_power_import var reactive_power measurement"
    " hanport_reactive_power_import_vars gauge"
    " Reactive import",
    "reactive_power_export var reactive_power measurement"
    " hanport_reactive_power_export_vars gauge"
    " Reactive export",
    "current A current measurement"
    " hanport_current_amperes gauge"
    " Current per phase",
    "voltage V voltage measurement"
    " hanport_voltage_volts gauge"
    " Voltage per phase",
    "power_factor - power_factor measurement"
    " hanport_power_factor gauge"
    " Power factor (total and per phase)",
    "active_power_import_total Wh energy total_increasing"
    " hanport_active_energy_import_watthours_total counter"
    " Active energy imported (meter register)",
    "active_power_export_total Wh energy total_increasing"
    " hanport_active_energy_export_watthours_total counter"
    " Active energy exported (meter register)",
    "reactive_power_import_total varh - total_increasing"
    " hanport_reactive_energy_import_varhours_total counter"
    " Reactive energy imported (meter register)",
    "reactive_power_export_total varh - total_increasing"
    " hanport_reactive_energy_export_varhours_total counter"
    " Reactive energy exported (meter register)",
    "active_power_import_total_t1 Wh energy total_increasing"
    " hanport_active_energy_import_tariff1_watthours_total counter"
    " Active energy imported, tariff 1",
    "active_power_import_total_t2 Wh energy total_increasing"
    " hanport_active_energy_import_tariff2_watthours_total counter"
    " Active energy imported, tariff 2",
    "active_power_export_total_t1 Wh energy total_increasing"
    " hanport_active_energy_export_tariff1_watthours_total counter"
    " Active energy exported, tariff 1",
    "active_power_export_total_t2 Wh energy total_increasing"
    " hanport_active_energy_export_tariff2_watthours_total counter"
    " Active energy exported, tariff 2",
    "gas_volume m³ gas total_increasing"
    " hanport_gas_cubic_meters_total counter"
    " Gas meter on the P1 port",
    "water_volume m³ water total_increasing"
    " hanport_water_cubic_meters_total counter"
    " Water meter on the P1 port",
    "heat_energy GJ energy total_increasing"
    " hanport_heat_energy_gigajoules_total counter"
    " Heat meter on the P1 port",
)

PHASES = ("", "_l1", "_l2", "_l3")


def _row(line):
    fields = line.split(" ", 6)
    return (fields[0],) + tuple(None if field == "-" else field for field in fields[1:])


def quantity(key):
    """The row for a reading key (`voltage_l2` -> the voltage row), or None."""
    if key[-3:-1] == "_l" and key[-1] in "123":
        key = key[:-3]
    key += " "
    for line in _ROWS:
        if line.startswith(key):
            return _row(line)
    return None


def rows():
    """Every row, in table order."""
    for line in _ROWS:
        yield _row(line)
