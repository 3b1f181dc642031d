"""Landis+Gyr E450 (Switzerland): a push of its capture objects followed by their values.

The push carries each register's value (attribute 2) but not its scaler (attribute 3), so the
resolutions are fixed, as seen in captures (amsreader #740, #934, #949): current 0.01 A,
voltage 1 V, power 1 W, energy 1 Wh. The push arrives as General Block Transfer over several
HDLC frames; the framer joins the blocks.
"""

from . import obis

MANUFACTURER = "Landis+Gyr"

_CURRENTS = (obis.CURRENT_L1, obis.CURRENT_L2, obis.CURRENT_L3)


def scale(reading):
    for key in _CURRENTS:
        if key in reading:
            reading[key] = reading[key] / 100
