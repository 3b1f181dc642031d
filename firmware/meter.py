"""Who the meter is: identity kept from the last list 2/3 reading, and which list a reading is.

List 1 carries only active power, so the meter id used in MQTT topics must come from the last
list 2 or 3. Until the first one arrives (at most 10 s after power-on) the id is None and the
publisher holds readings back rather than inventing an id (see publisher.py).
"""

LIST_POWER = 1  # list 1: active power import only
LIST_FULL = 2  # list 2: ids, powers, currents, voltages
LIST_TOTALS = 3  # list 3: list 2 + clock + energy totals


def list_of(reading):
    """Which Norwegian list a reading came from, judged by the keys it carries."""
    if "active_power_import_total" in reading or "active_power_export_total" in reading:
        return LIST_TOTALS
    if "meter_id" in reading:
        return LIST_FULL
    return LIST_POWER


class Meter:
    def __init__(self):
        self.id = None
        self.manufacturer = None
        self.model = None
        self.readings = 0
        self.changes = 0

    def update(self, reading):
        """Count the reading and keep the identity it carries; True when the meter id changed."""
        self.readings += 1
        meter_id = reading.get("meter_id")
        if not meter_id:
            return False
        self.manufacturer = reading.get("meter_manufacturer", self.manufacturer)
        self.model = reading.get("meter_type", self.model)
        meter_id = topic_safe(meter_id)
        if meter_id == self.id:
            return False
        self.id = meter_id
        self.changes += 1
        return True


def topic_safe(text):
    """The id as one MQTT topic level: anything but ASCII letters, digits, - and _ becomes _."""
    return "".join(c if c in _TOPIC_CHARS else "_" for c in str(text))


_TOPIC_CHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
