"""Landis+Gyr E450 (Switzerland): a push of its capture objects followed by their values.

The push carries each register's value (attribute 2) but not its scaler (attribute 3), so the
resolutions are fixed, as seen in captures (amsreader #740, #934, #949): current 0.01 A,
voltage 1 V, power 1 W, energy 1 Wh. The push arrives as General Block Transfer over several
HDLC frames; the framer joins the blocks.
"""


MANUFACTURER = "Landis+Gyr"

_CURRENTS = ("current_l1", "current_l2", "current_l3")


def scale(reading):
    for key in _CURRENTS:
        if key in reading:
            reading[key] = reading[key] / 100
