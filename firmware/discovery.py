"""Home Assistant MQTT discovery: one device per meter, one sensor per value the meter sends.

Sensors are announced as their keys first appear (list 3's energy totals arrive hourly), and all
of them again when Home Assistant's birth message says "online". The energy totals are
`total_increasing` in Wh, so they work in the Energy dashboard as they are.

This module writes the configs; the publisher imports it only while it announces (and drops it
and sensors.py after), and keeps only the bookkeeping of what is due (publisher.Discovery).

All reading sensors read the one JSON state topic; sensors of other topics (the energy mode's)
come as rows from their owner, so their table is in the heap only when that mode is on.
List 1 messages carry only active power, so each value
template renders '' for a key the message lacks, and Home Assistant ignores an empty state for a
numeric sensor instead of marking it unknown.
"""

import json

import sensors
from publisher import Discovery  # noqa: F401  # the bookkeeping, which stays in the heap


def kind_of(key):
    """(device_class, unit, state_class) for a reading key, or None if it is not a sensor."""
    row = sensors.quantity(key)
    if row is None:
        return None
    return row[2], row[1], row[3]


def sensor_name(key):
    """'active_power_import_l1' -> 'Active power import L1'."""
    words = key.split("_")
    words = [w.upper() if len(w) == 2 and w[0] == "l" and w[1].isdigit() else w for w in words]
    words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words)


def config_topic(discovery_prefix, meter_id, key):
    return "{}/sensor/hanport_{}/{}/config".format(discovery_prefix, meter_id, key)


def config_payload(key, meter, prefix, extra=()):
    """The retained discovery config for one sensor, as a JSON string (see config())."""
    return json.dumps(config(key, meter, prefix, extra))


def config(key, meter, prefix, extra=()):
    """The retained discovery config for one sensor, as a dict: the publisher writes its JSON
    into its message buffer, so no string of the message's size is made. `extra`: sensors of
    other topics, as rows (key, name, device_class, unit, state_class, field, topic, diagnostic)
    (the energy mode's, energymode.SENSORS)."""
    base = "{}/{}".format(prefix, meter.id)
    row = None
    for r in extra:
        if r[0] == key:
            row = r
    if row is None:
        device_class, unit, state_class = kind_of(key)
        name, topic, field = sensor_name(key), "/state", key
    else:
        _, name, device_class, unit, state_class, field, topic, diagnostic = row
    out = {
        "name": name,
        "has_entity_name": True,
        "unique_id": "hanport_{}_{}".format(meter.id, key),
        "state_topic": base + topic,
        "value_template": "{{{{ value_json.{} | default('') }}}}".format(field),
        "availability_topic": base + "/status",
        "device": {
            "identifiers": ["hanport_{}".format(meter.id)],
            "manufacturer": meter.manufacturer or "unknown",
            "model": meter.model or "unknown",
            "serial_number": meter.id,
            "name": "{} meter {}".format(meter.manufacturer or "AMS", meter.id),
        },
    }
    if state_class:
        out["state_class"] = state_class
    if row is not None and state_class == "total":  # the sum of a period: its start
        out["last_reset_value_template"] = "{{ value_json.last_hour_start }}"
    if row is not None and diagnostic:
        out["entity_category"] = "diagnostic"
    if device_class:
        out["device_class"] = device_class
    if unit:
        out["unit_of_measurement"] = unit
    return out


def totals_of(reading):
    """The energy totals of a list 3 reading: the values that come only once an hour (the
    publisher keeps them to send again to a Home Assistant that restarted)."""
    totals = {}
    for key in reading:
        kind = kind_of(key)
        if kind is not None and kind[2] == "total_increasing":
            totals[key] = reading[key]
    return totals
