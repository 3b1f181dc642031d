"""The dongle's GPIO parts: the status LED (plain or WS2812) and the setup button.

hw.py makes these at boot from the board's pin map; they live here, not in hw.py, so that the
boot-time code can be dropped from the heap once the app runs (a live object keeps its class's
module loaded). Each takes `machine` as an argument, so nothing here imports hardware itself.
"""


class NoLED:
    def on(self):
        pass

    def off(self):
        pass


class PixelLED:
    """A WS2812 status LED driven as on/off (green)."""

    def __init__(self, machine, pin):
        import neopixel  # only boards with an RGB LED need it

        self._np = neopixel.NeoPixel(machine.Pin(pin, machine.Pin.OUT), 1)

    def on(self):
        self._np[0] = (0, 16, 0)
        self._np.write()

    def off(self):
        self._np[0] = (0, 0, 0)
        self._np.write()


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
