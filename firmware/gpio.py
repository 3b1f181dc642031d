"""The dongle's GPIO parts: the status LED and the setup button (a WS2812 LED: pixelled.py).

hw.py makes these at boot from the board's pin map; they live here, not in hw.py, so that the
boot-time code can be dropped from the heap once the app runs (a live object keeps its class's
module loaded). Each takes `machine` as an argument, so nothing here imports hardware itself.
"""


class NoLED:
    def on(self):
        pass

    def off(self):
        pass


class PlainLED:
    def __init__(self, machine, pin, active_low):
        self._pin = machine.Pin(pin, machine.Pin.OUT, value=1 if active_low else 0)
        self._on = 0 if active_low else 1

    def on(self):
        self._pin.value(self._on)

    def off(self):
        self._pin.value(1 - self._on)


class Button:
    """The setup button, polled while running (web/portal.py)."""

    def __init__(self, machine, pin, active_low=True):
        self._pin = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
        self._level = 0 if active_low else 1

    def pressed(self):
        return self._pin.value() == self._level
