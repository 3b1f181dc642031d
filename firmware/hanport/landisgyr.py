"""Landis+Gyr E450 (Switzerland): a push of its capture objects followed by their values.

The push carries each register's value (attribute 2) but not its scaler (attribute 3), so the
resolutions are fixed, as seen in captures (amsreader #740, #934, #949): current 0.01 A,
voltage 1 V, power 1 W, energy 1 Wh. The push arrives as General Block Transfer over several
HDLC frames; the framer joins the blocks.

The push's layout (CAPTURED in dlms) names its values by the capture-object list that opens
it, so this module also walks it (imported when such a list first arrives).
"""

from .compat import const
from . import axdr, dlms, obis

_ARRAY = const(0x01)  # A-XDR tags (axdr)
_STRUCTURE = const(0x02)
_INT8 = const(0x0F)
_VALUE_ATTRIBUTE = const(2)  # attribute 2 of a data or register object is its value


MANUFACTURER = "Landis+Gyr"

_CURRENTS = ("current_l1", "current_l2", "current_l3")


def scale(reading):
    for key in _CURRENTS:
        if key in reading:
            reading[key] = reading[key] / 100


def walk(cur, count, reading):
    """Values named by the capture-object list that opens the structure (a push setup's)."""
    objects = axdr.Cursor()
    objects.reset(cur.buf, cur.pos, cur.end)
    cur.skip()  # element 0 is the capture-object list itself
    if objects.byte() != _ARRAY or objects.length() != count:
        raise ValueError("capture objects do not match the %d values" % count)
    objects.skip()
    keys = obis.KEYS
    for _ in range(1, count):
        if objects.byte() != _STRUCTURE or objects.length() != 4:
            raise ValueError("bad capture object")
        objects.skip()  # class id
        key = keys.get(dlms.read_obis_id(objects))
        if objects.byte() != _INT8:
            raise ValueError("bad capture object attribute")
        attribute = objects.int(1)
        objects.skip()  # data index
        if attribute == _VALUE_ATTRIBUTE:
            dlms.store(cur, key, reading)
        else:
            cur.skip()
