"""A new firmware on trial: confirm it once it is healthy, give it up if it does not get there.

Why: swap.py switches to a new firmware and counts its starts, but only the running app can
tell whether it works. Healthy means meter frames decoded and, when a broker is set, MQTT
connected. Once it is, the update is confirmed (state "ok") and the old files are deleted; if it
is not within `TRIAL_MS`, the state says "back" and the dongle restarts, so swap.py puts the old
firmware back at boot. This module also turns the state into the note the status, the
diagnostics and the page show. It is imported at start only when an update left a state, and
drops out of the heap again unless the firmware is on trial.
"""

import sys

import log
from compat import const, ticks_diff, ticks_ms

TRIAL_MS = const(300000)  # 5 minutes: Wi-Fi, the broker and a first list 2 all come well within
PERIOD_MS = const(1000)


def note(st):
    """The text that reports an update state, or None when there is nothing to say."""
    if st is None:
        return None
    state, boots, version, reason = st
    if state == "trial":
        return "update to {} on trial (start {})".format(version, boots)
    if state == "ok":
        return "updated to {}".format(version)
    if state == "failed":
        return "update to {} rolled back: {}".format(version, reason)
    return None


class Trial:
    def __init__(self, app, version, clock=ticks_ms, limit_ms=TRIAL_MS, reset=None):
        self.app = app
        self.version = version
        self._clock = clock
        self._since = clock()
        self.limit_ms = limit_ms
        self._reset = reset
        self.done = False

    def healthy(self):
        app = self.app
        if app.reader.stats.frames_ok == 0:
            return False
        return app.publisher is None or app.publisher.connected

    def step(self):
        """One check; returns the period until the next (a long one once decided)."""
        if self.done:
            return 60000
        if self.healthy():
            self.done = True
            import swap  # only for the decision, and dropped again after it

            swap.write("ok", 0, self.version)
            self.app.update_note = "updated to {}".format(self.version)
            log.warning("update", "{} is healthy: update confirmed", self.version)
            swap.clear(swap.OLD)
            swap.clear(swap.NEW)
            sys.modules.pop("swap", None)
        elif ticks_diff(self._clock(), self._since) >= self.limit_ms:
            self.done = True
            import swap

            reason = "not healthy within {} s".format(self.limit_ms // 1000)
            swap.write("back", 0, self.version, reason)
            log.error("update", "{} {}: restarting to roll back", self.version, reason)
            self._restart()
        return PERIOD_MS

    def _restart(self):
        reset = self._reset
        if reset is None:
            import hw

            reset = hw.reset_function()
        reset()


def attach(app):
    """At start: the update note for the reports, and a Trial task when one is due."""
    import swap

    st = swap.read()
    app.update_note = note(st)
    if st is not None and st[0] == "trial":
        app.trial = Trial(app, st[2])
        log.warning("update", "{}", app.update_note)
    sys.modules.pop("swap", None)
