"""The status LED tells the state at a glance; it reads state, it never changes it.

fast blink: joining Wi-Fi; slow blink: Wi-Fi up, no MQTT broker; steady on: publishing, with a
short off blip after each meter frame; off: no meter frame for a minute (port closed or wiring).
"""

from compat import const, ticks_diff, ticks_ms

_QUIET_MS = const(60000)


def pattern(wifi_up, mqtt_up, frame_age_ms):
    """(on_ms, off_ms) for the current state; off_ms 0 = steady on, on_ms 0 = off."""
    if frame_age_ms is None or frame_age_ms > _QUIET_MS:
        if not wifi_up:
            return 100, 100
        return 0, 1000
    if not wifi_up:
        return 100, 100
    if not mqtt_up:
        return 500, 500
    return 1000, 0


class StatusLED:
    def __init__(self, led, wifi_up, mqtt_up, last_frame_ms, clock=ticks_ms):
        self.led = led
        self._wifi_up = wifi_up
        self._mqtt_up = mqtt_up
        self._last_frame_ms = last_frame_ms
        self._clock = clock
        self._lit = False
        self._blipped = None

    def step(self):
        """Set the LED for the next phase; return how long to wait (ms)."""
        now = self._clock()
        last = self._last_frame_ms()
        age = None if last is None else ticks_diff(now, last)
        on_ms, off_ms = pattern(self._wifi_up(), self._mqtt_up(), age)
        if on_ms and not off_ms:
            if last is not None and last != self._blipped:
                self._blipped = last  # a new frame: blink off briefly
                self._set(False)
                return 80
            self._set(True)
            return 250
        if not on_ms:
            self._set(False)
            return off_ms
        self._set(not self._lit)
        return on_ms if self._lit else off_ms

    def _set(self, lit):
        self._lit = lit
        if lit:
            self.led.on()
        else:
            self.led.off()
