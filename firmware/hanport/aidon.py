"""Aidon 65xx: OBIS code, value and scaler/unit in every element, so nothing to fix up.

An Aidon list 1 frame carries no identity at all; the layout (an array of
{OBIS, value, scaler/unit} structures and no list version) is what marks it as Aidon.
The Swedish 27-element list has the same layout, with per-phase powers.
"""


MANUFACTURER = "Aidon"


def scale(reading):
    """Aidon sends its own scalers; nothing to do."""
