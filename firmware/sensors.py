"""What each numeric reading key measures: its unit and how Home Assistant sees it.

One row per quantity, keyed by the reading key without a phase suffix (`current` covers
`current_l1` to `current_l3`). Discovery (discovery.py) and metrics (web/metrics.py) derive
everything from this table, so a key and its unit are written once. A row's fields:

    key stem, unit, Home Assistant device_class, state_class

and, from metricnames.py (only /metrics needs them, so an announcement loads the table without
them): metric name, metric type, help.

The table is one string per row, fields split by single spaces ("-" stands for none): as
strings the rows take about half the heap they take as tuples of strings, and rows are only
looked up when a key is first seen, when discovery is sent and when /metrics is asked for. One
string per row, not one for the whole table: the module is imported again for each
announcement (publisher.py), and a fragmented heap has room for a few hundred bytes in one
piece much more often than for 2 KB. Home Assistant's reactive_energy class is recent, so the
reactive energy rows have none, and older versions still work. The tariff registers and the
gas, water and heat keys come from P1 ports (Sweden, Denmark, NL).
"""

import sys

_ROWS = (
    "active_power_import W power measurement",
    "active_power_export W power measurement",
    "reactive_power_import var reactive_power measurement",
    "reactive_power_export var reactive_power measurement",
    "current A current measurement",
    "voltage V voltage measurement",
    "power_factor - power_factor measurement",
    "active_power_import_total Wh energy total_increasing",
    "active_power_export_total Wh energy total_increasing",
    "reactive_power_import_total varh - total_increasing",
    "reactive_power_export_total varh - total_increasing",
    "active_power_import_total_t1 Wh energy total_increasing",
    "active_power_import_total_t2 Wh energy total_increasing",
    "active_power_export_total_t1 Wh energy total_increasing",
    "active_power_export_total_t2 Wh energy total_increasing",
    "gas_volume m³ gas total_increasing",
    "water_volume m³ water total_increasing",
    "heat_energy GJ energy total_increasing",
)

PHASES = ("", "_l1", "_l2", "_l3")


def _row(line):
    fields = line.split(" ")
    return (fields[0],) + tuple(None if field == "-" else field for field in fields[1:])


def quantity(key):
    """The row for a reading key (`voltage_l2` -> the voltage row: stem, unit, device_class,
    state_class), or None."""
    if key[-3:-1] == "_l" and key[-1] in "123":
        key = key[:-3]
    key += " "
    for line in _ROWS:
        if line.startswith(key):
            return _row(line)
    return None


def rows():
    """Every row with its metric name, type and help (7 fields), in table order."""
    import metricnames

    names = metricnames.ROWS  # the module out at once: only this tuple, while rows() runs
    sys.modules.pop("metricnames")
    for i in range(len(_ROWS)):
        key, unit, device_class, state_class = _row(_ROWS[i])
        name, kind, text = names[i].split(" ", 2)
        yield key, unit, device_class, state_class, name, kind, text
