"""A WS2812 status LED, for boards that have one (board led_kind "neopixel").

Apart from gpio.py, so that the boards with a plain LED (most) do not keep its code in the heap.
"""


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
