"""Hour-by-hour energy from the parser's readings, for the month's capacity charge (effekttrinn).

Why: the grid company bills a capacity charge set by the month's largest hours, and the meter
only gives hourly register snapshots (list 3) that are sometimes repeated (Aidon sends the
previous hour's list 3 again: same clock, same registers), lost, or missing for hours while the
dongle is off. This module turns readings into closed periods (hours) that a later correction
never has to lower, and hands each to `capacity` for the month's figure and step.

- A reading with `active_power_import_total` and `meter_datetime` is an anchor candidate. Its
  clock is Norwegian wall time whatever its deviation field says (NVE's HAN description; Aidon
  writes deviation 0 in winter and summer), read with `osloclock`. It anchors when it falls in
  a later period than the last anchor; a repeat or an earlier clock is counted `stale`, lower
  registers `backwards`, and neither is used. On the night the clocks go back, 02:00 is the
  instant nearer the arrival time when that is known, else the first after the last anchor.
- Between anchors, list 1/2 power is integrated per period (held for at most `hold_s`). A period
  closes only when the anchor after it arrives: one period apart it gets the exact register
  difference; over a gap the difference is split exactly (integer Wh, summing to it) by the
  integrated energy, the rest spread over the time without power data, and marked estimated.
  So closed periods are final: no later correction lowers an hour or a day's maximum.
- Each closed period goes to `capacity` (daily maxima, the month's figure and step).
- Periods are `resolution_min` long (60; 15 is only a setting) and counted in UTC, so local
  days of 23 and 25 hours need nothing special. Times are seconds since 2000 (small ints on
  MicroPython); the caller passes the arrival time of each reading or None when unknown.

RAM is fixed at construction: the last `_RING_H` hours of closed periods, the periods with power
data since the last anchor (same bound; the oldest are dropped and counted), and in `capacity`
the month's daily maxima. Persistence (`dump`, `restore`, the files) is `energystore`; the
JSON views for MQTT and HTTP are `energyview`, imported only by those sinks.
"""

from array import array

import osloclock
from capacity import Capacity
from compat import const

_RING_H = const(50)  # hours of closed periods kept: today and yesterday, whole
_DAY = const(86400)
_EST = const(1)
_MAX_W = const(2_000_000)  # more than any HAN meter sees: a larger difference is a jump
_MAX_GAP_DAYS = const(62)  # a longer gap is a wrong clock, or months unplugged: start again
_BACKWARDS_RESTART = const(3)  # list 3s in a row with lower registers: the meter was reset

KEYS_TOTAL = (
    "active_power_import_total",
    "active_power_export_total",
    "reactive_power_import_total",
    "reactive_power_export_total",
)
KEYS_POWER = (
    "active_power_import",
    "active_power_export",
    "reactive_power_import",
    "reactive_power_export",
)

METHODS = ("TRE_DØGNMAX_MND", "MND_MAX")
DEFAULTS = {
    "method": "TRE_DØGNMAX_MND",
    "days": 3,
    "ladder_kw": [0, 2, 5, 10, 15, 20, 25, 50, 75, 100, 150, 200],
    "windows": [],
    "resolution_min": 60,
    "hold_s": 60,
}


def settings(cfg=None):
    """The energy settings with defaults filled in; ValueError saying what to fix."""
    out = dict(DEFAULTS)
    out.update(cfg or {})
    if out["method"] not in METHODS:
        raise ValueError("energy.method must be one of " + ", ".join(METHODS))
    if not 1 <= _int(out["days"]) <= 31:
        raise ValueError("energy.days must be 1..31")
    if _int(out["resolution_min"]) not in (5, 10, 15, 20, 30, 60):
        raise ValueError("energy.resolution_min must divide an hour (15, 30, 60...)")
    if not 1 <= _int(out["hold_s"]) <= 600:
        raise ValueError("energy.hold_s must be 1..600")
    ladder = out["ladder_kw"]
    if not isinstance(ladder, list) or not 1 <= len(ladder) <= 32:
        raise ValueError("energy.ladder_kw must be a list of 1..32 numbers")
    for i, kw in enumerate(ladder):
        if isinstance(kw, bool) or not isinstance(kw, (int, float)) or kw < 0:
            raise ValueError("energy.ladder_kw must hold numbers >= 0")
        if i and kw <= ladder[i - 1]:
            raise ValueError("energy.ladder_kw must rise step by step")
    windows = out["windows"]
    if not isinstance(windows, list):
        raise ValueError("energy.windows must be a list")
    for window in windows:
        if not isinstance(window, dict):
            raise ValueError("energy.windows holds objects with months, weekdays, hours")
        for key, low, high in (("months", 1, 12), ("weekdays", 0, 6), ("hours", 0, 23)):
            for v in window.get(key, ()):
                if not low <= _int(v) <= high:
                    raise ValueError("energy.windows {} must be {}..{}".format(key, low, high))
    return out


def _number(v):
    """An int of a reading's number; -1 for anything else (the caller counts it as bad)."""
    try:
        return int(v)
    except (ValueError, TypeError, OverflowError):
        return -1


def _int(v):
    if isinstance(v, bool) or not isinstance(v, int):
        return -1
    return v


class Energy:
    """The accounting. `feed(reading, s2k, ms)` per reading; `on_period(p, wh4, estimated)`
    and `on_month(summary)` are optional callbacks for closed periods and months."""

    def __init__(self, cfg=None, on_period=None, on_month=None):
        cfg = settings(cfg)
        self.period_s = cfg["resolution_min"] * 60
        self.hold_ms = cfg["hold_s"] * 1000
        self.on_period = on_period
        self.capacity = Capacity(cfg, self.period_s, on_month)
        self.ring_n = _RING_H * 3600 // self.period_s
        n = self.ring_n
        self.r_p = array("i", bytes(4 * n))  # closed periods, a ring
        self.r_wh = array("i", bytes(16 * n))  # four channels per period
        self.r_flags = bytearray(n)
        self.pd_p = array("i", bytes(4 * n))  # periods with power data since the anchor
        self.pd_j = array("i", bytes(16 * n))  # integrated joules (W s), four channels
        self.pd_cov = array("i", bytes(4 * n))  # ms of the period with import power data
        self.l_w = array("i", bytes(16))  # per channel: last power, its time, carry
        self.l_s = array("i", [-1] * 4)
        self.l_ms = array("i", bytes(16))
        self.l_carry = array("i", bytes(16))
        self.a_reg = [0, 0, 0, 0]  # a list: registers may pass 2**31 Wh
        self.reset()

    def reset(self):
        """Forget everything: a fresh series from the next anchor."""
        self.meter_id = None
        self.a_p = -1  # period of the last anchor, -1: none yet
        self.a_wall = 0
        self.r_len = 0
        self.r_head = 0
        self.pd_n = 0
        self.capacity.reset()
        for i in range(4):
            self.l_s[i] = -1
        self.closed_p = -1  # last closed period
        self.stale = 0
        self.backwards = 0
        self.estimated = 0
        self.dropped = 0  # periods of power data dropped for want of room
        self.meter_changes = 0
        self.jumps = 0  # anchors too far from the last in time or energy: a new series
        self.bad = 0  # readings with a value that is not a number in range
        self.backwards_in_row = 0

    # --- input ------------------------------------------------------------------------------

    def feed(self, reading, s2k=None, ms=0):
        """Account one reading that arrived at `s2k` (+ `ms`), or at an unknown time (None)."""
        meter_id = reading.get("meter_id")
        if meter_id is not None and meter_id != self.meter_id:
            if self.meter_id is not None:
                self.new_series()
            self.meter_id = meter_id
        if s2k is not None:
            for c in range(4):
                w = reading.get(KEYS_POWER[c])
                if w is not None:
                    w = _number(w)
                    if 0 <= w <= _MAX_W:
                        self._integrate(c, w, s2k, ms)
                    else:
                        self.bad += 1
        if KEYS_TOTAL[0] in reading and "meter_datetime" in reading:
            self._anchor(reading, s2k)

    def new_series(self):
        """A replaced meter: its registers do not continue the old ones. Closed periods and the
        month stay (same metering point); the periods from the old meter's last anchor to the
        new one's first get their integrated energy only, marked estimated."""
        self.meter_changes += 1
        self.a_p = -1

    def _first_anchor(self, p, wall, reg):
        if p <= self.closed_p:
            self.stale += 1
            return
        if 0 <= self.closed_p and p - self.closed_p <= self.ring_n:
            self._close_integrated(self.closed_p + 1, p)
        self._set_anchor(p, wall, reg)

    def _integrate(self, c, w, s, ms):
        ls = self.l_s[c]
        if ls >= 0:
            dt = (s - ls) * 1000 + ms - self.l_ms[c]
            if 0 < dt <= self.hold_ms:
                self._credit(c, self.l_w[c], ls, self.l_ms[c], dt)
        self.l_w[c] = w
        self.l_s[c] = s
        self.l_ms[c] = ms

    def _credit(self, c, w, s, ms, dt):
        period_s = self.period_s
        while dt > 0:
            p = s // period_s
            part = ((p + 1) * period_s - s) * 1000 - ms
            if part > dt:
                part = dt
            i = self._slot(p)
            if i >= 0:
                rest = w * (part % 1000) + self.l_carry[c]
                self.l_carry[c] = rest % 1000
                self.pd_j[4 * i + c] += w * (part // 1000) + rest // 1000
                if c == 0:
                    self.pd_cov[i] += part
            dt -= part
            s += (ms + part) // 1000
            ms = (ms + part) % 1000

    def _slot(self, p):
        """Index of period `p` in the power data, appending it; -1 if it is already closed."""
        n = self.pd_n
        if n and self.pd_p[n - 1] == p:
            return n - 1
        if p <= self.closed_p or (n and p < self.pd_p[n - 1]):
            return -1
        if n == self.ring_n:
            self._drop_pending(1)
            self.dropped += 1
            n -= 1
        self.pd_p[n] = p
        for k in range(4 * n, 4 * n + 4):
            self.pd_j[k] = 0
        self.pd_cov[n] = 0
        self.pd_n = n + 1
        return n

    def _drop_pending(self, k):
        """Forget the first `k` periods of power data."""
        n = self.pd_n - k
        for i in range(n):
            self.pd_p[i] = self.pd_p[i + k]
            self.pd_cov[i] = self.pd_cov[i + k]
        for i in range(4 * n):
            self.pd_j[i] = self.pd_j[i + 4 * k]
        self.pd_n = n

    def _anchor(self, reading, s2k):
        wall = osloclock.wall_seconds(reading["meter_datetime"])
        reg = [0, 0, 0, 0]
        for c in range(4):
            reg[c] = _number(reading.get(KEYS_TOTAL[c]) or 0)
            if reg[c] < 0:
                wall = None
        if wall is None:
            self.bad += 1
            return
        period_s = self.period_s
        if self.a_p < 0:
            self._first_anchor(osloclock.instants(wall)[0] // period_s, wall, reg)
            return
        # On the night the clocks go back, 02:00 means two instants: the one nearer the arrival
        # time when that is known, else the first that starts a later period than the anchor.
        first, second = osloclock.instants(wall)
        if s2k is not None and first != second and abs(s2k - second) < abs(s2k - first):
            first = second
        p = first // period_s
        if p <= self.a_p:
            p = second // period_s
        if p <= self.a_p or (wall == self.a_wall and self._same(reg)):
            self.stale += 1
            return
        for c in range(4):
            if reg[c] < self.a_reg[c]:
                self.backwards_in_row += 1
                if self.backwards_in_row >= _BACKWARDS_RESTART:
                    self._restart(p, wall, reg)
                else:
                    self.backwards += 1
                return
        self.backwards_in_row = 0
        gap = p - self.a_p
        if gap * period_s > _MAX_GAP_DAYS * _DAY or (
            reg[0] - self.a_reg[0] > gap * period_s * (_MAX_W // 3600)
        ):
            self._restart(p, wall, reg)
            return
        self._close_to(p, reg)
        self._set_anchor(p, wall, reg)

    def _restart(self, p, wall, reg):
        """A new series from this anchor: no register difference to the last one is usable."""
        self.jumps += 1
        self.backwards_in_row = 0
        self.a_p = -1
        self._first_anchor(p, wall, reg)

    def _same(self, reg):
        for c in range(4):
            if reg[c] != self.a_reg[c]:
                return False
        return True

    def _set_anchor(self, p, wall, reg):
        self.a_p = p
        self.a_wall = wall
        for c in range(4):
            self.a_reg[c] = reg[c]
        k = 0
        while k < self.pd_n and self.pd_p[k] < p:
            k += 1
        if k:
            self._drop_pending(k)

    def _close_to(self, p, reg):
        """Close periods a_p .. p-1 with the register differences to `reg`."""
        a_p = self.a_p
        diff = [reg[c] - self.a_reg[c] for c in range(4)]
        if p == a_p + 1:
            self._close(a_p, diff, 0)
            return
        # Weights in joules: integrated energy plus the energy left over spread over the time
        # without data, or, when data already covers it, the integrated energy scaled down.
        period_ms = self.period_s * 1000
        sums = [0, 0, 0, 0]
        uncovered = 0
        for i in range(self.pd_n):
            if self.pd_p[i] >= p:
                break
            for c in range(4):
                sums[c] += self.pd_j[4 * i + c]
            uncovered -= self.pd_cov[i]
        uncovered += (p - a_p) * period_ms
        rests = [0, 0, 0, 0]
        for c in range(4):
            rest = diff[c] * 3600 - sums[c]
            if rest > 0 and uncovered > 0:
                rests[c] = rest
            elif sums[c] == 0:
                sums[c] = -1  # nothing measured, nothing left: spread evenly
        done = [0, 0, 0, 0]
        cum = [0, 0, 0, 0]
        pieces = [0, 0, 0, 0]
        i = 0
        for q in range(a_p, p):
            j0 = i < self.pd_n and self.pd_p[i] == q
            free = period_ms - (self.pd_cov[i] if j0 else 0)
            for c in range(4):
                joules = self.pd_j[4 * i + c] if j0 else 0
                if sums[c] < 0:
                    cum[c] += 1
                    total = p - a_p
                elif rests[c]:
                    cum[c] = cum[c] + joules * uncovered + rests[c] * free
                    total = (sums[c] * uncovered) + rests[c] * uncovered
                else:
                    cum[c] += joules
                    total = sums[c]
                upto = (2 * diff[c] * cum[c] + total) // (2 * total)
                pieces[c] = upto - done[c]
                done[c] = upto
            if j0:
                i += 1
            self._close(q, pieces, _EST)

    def _close_integrated(self, first, p):
        """Close periods first .. p-1 with the integrated energy alone (no registers span them)."""
        wh = [0, 0, 0, 0]
        i = 0
        for q in range(first, p):
            while i < self.pd_n and self.pd_p[i] < q:
                i += 1
            j0 = i < self.pd_n and self.pd_p[i] == q
            for c in range(4):
                wh[c] = self.pd_j[4 * i + c] // 3600 if j0 else 0
            self._close(q, wh, _EST)

    def _close(self, p, wh, flags):
        n = self.ring_n
        head = self.r_head
        self.r_p[head] = p
        for c in range(4):
            self.r_wh[4 * head + c] = wh[c]
        self.r_flags[head] = flags
        self.r_head = (head + 1) % n
        if self.r_len < n:
            self.r_len += 1
        self.closed_p = p
        if flags & _EST:
            self.estimated += 1
        if self.on_period is not None:
            self.on_period(p, wh, flags & _EST == _EST)
        self.capacity.add(p, wh[0])

    def hours(self):
        """Closed periods kept, oldest first: [(period, (Wh x4), estimated)]."""
        n = self.ring_n
        out = []
        for k in range(self.r_len):
            i = (self.r_head - self.r_len + k) % n
            wh = tuple(self.r_wh[4 * i : 4 * i + 4])
            out.append((self.r_p[i], wh, self.r_flags[i] & _EST == _EST))
        return out

    def now(self, s2k, ms=0):
        """This period so far: {"start", "wh", "projected_wh", "capacity_w", "step",
        "headroom_wh"} (None where unknown). Estimates only: never part of the totals."""
        period_s = self.period_s
        p = s2k // period_s
        wh = None
        # Before the first anchor (the clock from NTP), the power seen so far in this period.
        seen = self.a_p < 0 and self.pd_n and self.pd_p[self.pd_n - 1] == p
        if (self.a_p >= 0 and p >= self.a_p) or seen:
            joules = 0
            if self.pd_n and self.pd_p[self.pd_n - 1] == p:
                joules = self.pd_j[4 * (self.pd_n - 1)]
            ls = self.l_s[0]
            if ls >= 0 and ls // period_s == p:
                dt = (s2k - ls) * 1000 + ms - self.l_ms[0]
                if 0 < dt <= self.hold_ms:
                    joules += self.l_w[0] * dt // 1000  # the last power, held until now
            wh = joules // 3600
        projected = None
        ls = self.l_s[0]
        if wh is not None and ls >= 0 and (s2k - ls) * 1000 + ms - self.l_ms[0] <= self.hold_ms:
            left_s = (p + 1) * period_s - s2k
            projected = wh + self.l_w[0] * left_s // 3600  # the present power to the end
        capacity_w, step, headroom = self.capacity.at(p, wh)
        return {
            "start": p,
            "wh": wh,
            "projected_wh": projected,
            "capacity_w": capacity_w,
            "step": self.capacity.step_kw(step),
            "headroom_wh": headroom,
        }

    def counters(self):
        return {
            "stale": self.stale,
            "backwards": self.backwards,
            "estimated": self.estimated,
            "dropped": self.dropped,
            "meter_changes": self.meter_changes,
            "jumps": self.jumps,
            "bad": self.bad,
        }
