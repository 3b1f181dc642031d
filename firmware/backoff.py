"""Exponential back-off for reconnects: one rule, shared by Wi-Fi and MQTT.

Each failure doubles the wait up to a ceiling; a success starts over. No jitter: a dongle is one
client of its broker, and a fixed sequence is easy to read in logs and to test.
"""


class Backoff:
    def __init__(self, first_ms=1000, max_ms=120000):
        self.first_ms = first_ms
        self.max_ms = max_ms
        self.delay_ms = 0
        self.failures = 0

    def fail(self):
        """Record a failure; return how long to wait before the next attempt (ms)."""
        self.failures += 1
        if self.delay_ms == 0:
            self.delay_ms = self.first_ms
        else:
            self.delay_ms = min(self.delay_ms * 2, self.max_ms)
        return self.delay_ms

    def reset(self):
        self.delay_ms = 0
        self.failures = 0
