"""What each numeric reading key measures: its unit, and how Home Assistant and Prometheus see it.

One row per quantity, keyed by the reading key without a phase suffix (`current` covers
`current_l1` to `current_l3`). Discovery (discovery.py) and metrics (web/metrics.py) derive
everything from this table, so a key and its unit are written once. A row's fields:

    key stem, unit, Home Assistant device_class, state_class, metric name, metric type, help

The table is one string, one row per line, fields split by single spaces (the help text is the
rest of the line, "-" stands for none): as a string it takes about half the heap the same rows
take as tuples of strings, and rows are only looked up when a key is first seen, when
discovery is sent and when /metrics is asked for. Home Assistant's reactive_energy class is
recent, so the reactive energy rows have none, and older versions still work. The tariff
registers and the gas, water and heat keys come from P1 ports (Sweden, Denmark, NL).
"""

_TABLE = (
    "\nactive_power_import W power measurement"
    " hanport_active_power_import_watts gauge"
    " Active power import"
    "\nactive_power_export W power measurement"
    " hanport_active_power_export_watts gauge"
    " Active power export"
    "\nreactive_power_import var reactive_power measurement"
    " hanport_reactive_power_import_vars gauge"
    " Reactive import"
    "\nreactive_power_export var reactive_power measurement"
    " hanport_reactive_power_export_vars gauge"
    " Reactive export"
    "\ncurrent A current measurement"
    " hanport_current_amperes gauge"
    " Current per phase"
    "\nvoltage V voltage measurement"
    " hanport_voltage_volts gauge"
    " Voltage per phase"
    "\npower_factor - power_factor measurement"
    " hanport_power_factor gauge"
    " Power factor (total and per phase)"
    "\nactive_power_import_total Wh energy total_increasing"
    " hanport_active_energy_import_watthours_total counter"
    " Active energy imported (meter register)"
    "\nactive_power_export_total Wh energy total_increasing"
    " hanport_active_energy_export_watthours_total counter"
    " Active energy exported (meter register)"
    "\nreactive_power_import_total varh - total_increasing"
    " hanport_reactive_energy_import_varhours_total counter"
    " Reactive energy imported (meter register)"
    "\nreactive_power_export_total varh - total_increasing"
    " hanport_reactive_energy_export_varhours_total counter"
    " Reactive energy exported (meter register)"
    "\nactive_power_import_total_t1 Wh energy total_increasing"
    " hanport_active_energy_import_tariff1_watthours_total counter"
    " Active energy imported, tariff 1"
    "\nactive_power_import_total_t2 Wh energy total_increasing"
    " hanport_active_energy_import_tariff2_watthours_total counter"
    " Active energy imported, tariff 2"
    "\nactive_power_export_total_t1 Wh energy total_increasing"
    " hanport_active_energy_export_tariff1_watthours_total counter"
    " Active energy exported, tariff 1"
    "\nactive_power_export_total_t2 Wh energy total_increasing"
    " hanport_active_energy_export_tariff2_watthours_total counter"
    " Active energy exported, tariff 2"
    "\ngas_volume m³ gas total_increasing"
    " hanport_gas_cubic_meters_total counter"
    " Gas meter on the P1 port"
    "\nwater_volume m³ water total_increasing"
    " hanport_water_cubic_meters_total counter"
    " Water meter on the P1 port"
    "\nheat_energy GJ energy total_increasing"
    " hanport_heat_energy_gigajoules_total counter"
    " Heat meter on the P1 port"
    "\n"
    " "
)

PHASES = ("", "_l1", "_l2", "_l3")


def _row(line):
    fields = line.split(" ", 6)
    return (fields[0],) + tuple(None if field == "-" else field for field in fields[1:])


def quantity(key):
    """The row for a reading key (`voltage_l2` -> the voltage row), or None."""
    if key[-3:-1] == "_l" and key[-1] in "123":
        key = key[:-3]
    start = _TABLE.find("\n" + key + " ")
    if start < 0:
        return None
    return _row(_TABLE[start + 1 : _TABLE.find("\n", start + 1)])


def rows():
    """Every row, in table order."""
    start = 1
    end = _TABLE.find("\n", start)
    while end > 0:
        yield _row(_TABLE[start:end])
        start = end + 1
        end = _TABLE.find("\n", start)
