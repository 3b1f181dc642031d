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
from compat import ticks_add
from publisher import SETTLE_MS, Discovery  # noqa: F401  # Discovery: the bookkeeping, resident

_BATCH = 4  # configs sent per pass, so one pass stays short


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
    """The retained discovery config for one sensor, as a JSON string (the pieces joined)."""
    return "".join(pieces(key, meter, prefix, extra))


def pieces(key, meter, prefix, extra=()):
    """The JSON text of one sensor's retained discovery config, in a few short strings: the
    publisher copies them into its message buffer (announce()), so no dict of the config and no
    string of its size is ever made. `extra`: sensors of other topics, as rows (key, name,
    device_class, unit, state_class, field, topic, diagnostic) (the energy mode's,
    energymode.SENSORS). The meter id and the keys need no escaping (meter.topic_safe)."""
    row = None
    for r in extra:
        if r[0] == key:
            row = r
    if row is None:
        device_class, unit, state_class = kind_of(key)
        name, topic, field, diagnostic = sensor_name(key), "/state", key, False
    else:
        _, name, device_class, unit, state_class, field, topic, diagnostic = row
    meter_id = meter.id
    base = json.dumps("{}/{}".format(prefix, meter_id))[:-1]  # the opening quote, not the closing
    maker = meter.manufacturer
    yield '{{"name": {}, "has_entity_name": true, "unique_id": "hanport_{}_{}", '.format(
        json.dumps(name), meter_id, key
    )
    yield '"state_topic": {}{}", '.format(base, topic)
    yield '"value_template": "{{{{ value_json.{} | default(\'\') }}}}", '.format(field)
    yield '"availability_topic": {}/status", "device": {{"identifiers": ["hanport_{}"], '.format(
        base, meter_id
    )
    yield '"manufacturer": {}, "model": {}, "serial_number": "{}", "name": {}}}'.format(
        json.dumps(maker or "unknown"),
        json.dumps(meter.model or "unknown"),
        meter_id,
        json.dumps("{} meter {}".format(maker or "AMS", meter_id)),
    )
    if state_class:
        yield ', "state_class": "{}"'.format(state_class)
    if row is not None and state_class == "total":  # the sum of a period: its start
        yield ', "last_reset_value_template": "{{ value_json.last_hour_start }}"'
    if diagnostic:
        yield ', "entity_category": "diagnostic"'
    if device_class:
        yield ', "device_class": "{}"'.format(device_class)
    if unit:
        yield ', "unit_of_measurement": {}'.format(json.dumps(unit))
    yield "}"


def announce(pub):
    """Send up to _BATCH of the publisher's due configs (Publisher._step), each written into its
    message buffer piece by piece; a config that does not fit is sent as a string (counted in
    oversized_messages, as the publisher's other messages)."""
    disc = pub.discovery
    buf = pub._out
    size = len(buf)
    for _ in range(_BATCH):
        if not disc.due:
            return
        key = disc.due[0]
        args = (key, pub.meter, pub.prefix, disc.extra)
        n = 0
        for piece in pieces(*args):
            data = piece.encode()
            end = n + len(data)
            if end > size:
                n = -1
                break
            buf[n:end] = data
            n = end
        if n < 0:
            pub.oversized_messages += 1
            payload = config_payload(*args).encode()
        else:
            payload = memoryview(buf)[:n]
        pub.client.publish(config_topic(disc.prefix, pub.meter.id, key), payload, retain=True)
        disc.due.pop(0)
        disc.announced += 1
        pub._settle_until = ticks_add(pub._clock(), SETTLE_MS)


def totals_of(reading):
    """The energy totals of a list 3 reading: the values that come only once an hour (the
    publisher keeps them to send again to a Home Assistant that restarted)."""
    totals = {}
    for key in reading:
        kind = kind_of(key)
        if kind is not None and kind[2] == "total_increasing":
            totals[key] = reading[key]
    return totals
