"""The month's capacity figure (effekttrinn): daily maxima, the grid company's method, the step.

Why a module of its own: `energy` turns readings into closed periods; this keeps what the
capacity charge needs from them and nothing else: each local day's largest period of the month
(31 slots, fixed), the figure by `TRE_DØGNMAX_MND` (the mean of the `days` largest daily maxima,
on different days; fewer days so far: their mean) or `MND_MAX` (the largest period), its step on
the ladder (a boundary belongs to the step above: exactly 5.00 kW is the 5-10 step), optional
time windows of the periods that count, and the headroom of the running period. Energies are
Wh per period in integers; a period's power is its Wh scaled to an hour, so 15-minute periods
need nothing else. Settings arrive checked by `energy.settings`.
"""

from array import array

import osloclock
from compat import const

_DAY = const(86400)


def _kw(w):
    return w // 1000 if w % 1000 == 0 else w / 1000


class Capacity:
    """Daily maxima of one month; `add(p, wh)` for each closed period, in time order."""

    def __init__(self, cfg, period_s, on_month=None):
        self.method = cfg["method"]
        self.days_n = 1 if self.method == "MND_MAX" else cfg["days"]
        self.ladder_w = [int(kw * 1000 + 0.5) for kw in cfg["ladder_kw"]]
        self.windows = cfg["windows"]
        self.period_s = period_s
        self.on_month = on_month
        self.d_wh = array("i", [-1] * 31)  # the month's daily maxima, by day of month
        self.d_p = array("i", bytes(4 * 31))  # and the period each was in
        self.reset()

    def reset(self):
        self.month = 0  # year * 12 + month - 1 of the daily maxima, 0: none
        for i in range(31):
            self.d_wh[i] = -1

    def add(self, p, wh):
        """A closed period `p` of `wh` Wh: a new month starts afresh (after `on_month`)."""
        wall = osloclock.local(p * self.period_s)
        day = wall // _DAY
        year, month, mday = osloclock.civil_from_days(day)
        if not self.counts(wall, year, month, day):
            return
        m = year * 12 + month - 1
        if m != self.month:
            if m < self.month:
                return
            self._new_month(m)
        if wh > self.d_wh[mday - 1]:
            self.d_wh[mday - 1] = wh
            self.d_p[mday - 1] = p

    def _new_month(self, m):
        if self.month and self.on_month is not None:
            self.on_month(self.summary())
        self.month = m
        for i in range(31):
            self.d_wh[i] = -1

    def counts(self, wall, year, month, day):
        """Whether the period starting at wall time `wall` counts for the capacity figure."""
        if not self.windows:
            return True
        hour = wall % _DAY // 3600
        wday = osloclock.weekday(day)
        for w in self.windows:
            if (
                (not w.get("months") or month in w["months"])
                and (not w.get("weekdays") or wday in w["weekdays"])
                and (not w.get("hours") or hour in w["hours"])
            ):
                return True
        return False

    def top(self, skip=-1):
        """The month's largest daily maxima, largest first: [(day of month, Wh, period)]."""
        out = []
        d_wh = self.d_wh
        last_wh = -1  # the last pick; the next is the largest below it (ties: the later day)
        last_i = -1
        for _ in range(self.days_n):
            best = -1
            for i in range(31):
                wh = d_wh[i]
                if wh < 0 or i == skip:
                    continue
                if last_i >= 0 and not (wh < last_wh or (wh == last_wh and i > last_i)):
                    continue
                if best < 0 or wh > d_wh[best]:
                    best = i
            if best < 0:
                break
            last_wh = d_wh[best]
            last_i = best
            out.append((best + 1, last_wh, self.d_p[best]))
        return out

    def figure(self, top=None):
        """(capacity W rounded, step index) of the month so far (closed periods)."""
        top = self.top() if top is None else top
        n = len(top)
        if not n:
            return 0, 0
        sum_wh = 0
        for t in top:
            sum_wh += t[1]
        scale = self.period_s * n
        step = 0
        for i, limit_w in enumerate(self.ladder_w):
            if sum_wh * 3600 >= limit_w * scale:  # a boundary belongs to the step above
                step = i
        return (2 * sum_wh * 3600 + scale) // (2 * scale), step

    def step_kw(self, step):
        """(from, to) kW of a step; to is None on the top step."""
        ladder = self.ladder_w
        high = _kw(ladder[step + 1]) if step + 1 < len(ladder) else None
        return _kw(ladder[step]), high

    def summary(self):
        """The month: {"month": (y, m), "method", "capacity_w", "step", "top", "days"}; days
        and top as (day of month, Wh, period) with Wh the day's largest period."""
        top = self.top()
        capacity_w, step = self.figure(top)
        days = []
        for i in range(31):
            if self.d_wh[i] >= 0:
                days.append((i + 1, self.d_wh[i], self.d_p[i]))
        return {
            "month": (self.month // 12, self.month % 12 + 1),
            "method": self.method,
            "capacity_w": capacity_w,
            "step": self.step_kw(step),
            "top": top,
            "days": days,
        }

    def at(self, p, wh):
        """(capacity W, step, headroom Wh or None) while period `p` has used `wh` Wh (None:
        unknown): the headroom is what it may still use before the figure reaches the next step."""
        period_s = self.period_s
        wall = osloclock.local(p * period_s)
        day = wall // _DAY
        year, month, mday = osloclock.civil_from_days(day)
        this_month = year * 12 + month - 1 == self.month
        capacity_w, step = self.figure(self.top() if this_month else [])
        if wh is None or step + 1 >= len(self.ladder_w) or not self.counts(wall, year, month, day):
            return capacity_w, step, None
        others = self.top(mday - 1) if this_month else []
        n = min(self.days_n, len(others) + 1)
        rest = 0
        for t in others[: n - 1]:
            rest += t[1]
        limit = self.ladder_w[step + 1] * period_s * n
        need = (limit + 3599) // 3600 - rest  # the least Wh that reaches the next step
        return capacity_w, step, need - 1 - wh if need - 1 > wh else 0
