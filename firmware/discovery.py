"""Home Assistant MQTT discovery: one device per meter, one sensor per value the meter sends.

Sensors are announced as their keys first appear (list 3's energy totals arrive hourly), and all
of them again when Home Assistant's birth message says "online". The energy totals are
`total_increasing` in Wh, so they work in the Energy dashboard as they are.

All reading sensors read the one JSON state topic (the energy mode's read its own). List 1 messages carry only active power, so each value
template renders '' for a key the message lacks, and Home Assistant ignores an empty state for a
numeric sensor instead of marking it unknown.
"""

import json

import sensors

_MAX_SENSORS = 80  # bound on announced keys; the whole vocabulary has about 60

# The energy mode's sensors, read from `<prefix>/<meter_id>/energy` (energymode.message()):
# key, name, device_class, unit, state_class, field. This hour's and today's kWh restart from 0,
# which `total_increasing` means; the last hour's is a total since its start (`last_reset`);
# headroom goes up and down (no energy class, which Home Assistant allows only for totals).
ENERGY_SENSORS = (
    ("energy_hour", "Energy this hour", "energy", "kWh", "total_increasing", "hour_kwh"),
    ("energy_last_hour", "Energy last hour", "energy", "kWh", "total", "last_hour_kwh"),
    ("energy_today", "Energy today", "energy", "kWh", "total_increasing", "today_kwh"),
    ("energy_capacity", "Capacity this month", "power", "kW", "measurement", "capacity_kw"),
    ("energy_step", "Capacity step", None, None, None, "step"),
    ("energy_headroom", "Headroom this hour", None, "kWh", "measurement", "headroom_kwh"),
    ("energy_rejected", "Rejected hourly lists", None, None, "total_increasing", "rejected"),
    ("energy_estimated", "Estimated hours", None, None, "total_increasing", "estimated"),
)
_DIAGNOSTIC = ("energy_rejected", "energy_estimated")


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


def _energy_row(key):
    for row in ENERGY_SENSORS:
        if row[0] == key:
            return row
    return None


def config_payload(key, meter, prefix):
    """The retained discovery config for one sensor, as a JSON string."""
    base = "{}/{}".format(prefix, meter.id)
    row = _energy_row(key) if key.startswith("energy_") else None
    if row is None:
        device_class, unit, state_class = kind_of(key)
        name, topic, field = sensor_name(key), "/state", key
    else:
        _, name, device_class, unit, state_class, field = row
        topic = "/energy"
    config = {
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
        config["state_class"] = state_class
    if state_class == "total":
        config["last_reset_value_template"] = "{{ value_json.last_hour_start }}"
    if key in _DIAGNOSTIC:
        config["entity_category"] = "diagnostic"
    if device_class:
        config["device_class"] = device_class
    if unit:
        config["unit_of_measurement"] = unit
    return json.dumps(config)


class Discovery:
    """Which sensors still need announcing; the publisher sends them a few per pass."""

    def __init__(self, discovery_prefix="homeassistant"):
        self.prefix = discovery_prefix
        self.birth_topic = discovery_prefix + "/status"
        self.known = []  # keys seen, in order; bounded by _MAX_SENSORS
        self.due = []  # keys to announce next
        self.announced = 0
        self.overflows = 0

    def see(self, reading):
        """Queue any sensor key this reading carries that was not seen before."""
        for key in reading:
            if key in self.known or kind_of(key) is None:
                continue
            if len(self.known) >= _MAX_SENSORS:
                self.overflows += 1
                continue
            self.known.append(key)
            self.due.append(key)

    def add_energy(self):
        """Announce the energy mode's sensors too (they have no reading key)."""
        for row in ENERGY_SENSORS:
            if row[0] not in self.known:
                self.known.append(row[0])
                self.due.append(row[0])

    def announce_all(self):
        """Queue every known sensor again (after a reconnect or Home Assistant's birth)."""
        self.due = list(self.known)

    def on_message(self, topic, msg):
        """True when this was Home Assistant coming online, which queues a re-announcement."""
        if topic == self.birth_topic and msg == "online":
            self.announce_all()
            return True
        return False

    def forget(self):
        """A different meter: nothing known about it yet (but the energy sensors)."""
        energy = [key for key in self.known if key.startswith("energy_")]
        self.known = energy
        self.due = list(energy)
