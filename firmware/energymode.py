"""The app's energy mode: the accounting fed with every reading, its clock, its file, its views.

Why a module of its own: app.py imports it only when `energy.enabled` is on, and with it the
accounting (`energy`, `capacity`, `osloclock`), its store and its views; a dongle with the mode
off never loads any of them. It owns what the accounting needs from the device:

- A clock in seconds since 2000 (UTC). The meter clock of each list 3 the accounting takes as a
  new hour (an anchor) sets it, and is the authority once seen (a repeated or stale list 3
  never moves it); before that, NTP (`ntptime`, frozen in the ESP32 image) sets it once Wi-Fi is
  up, so the power of the first hour is counted before the first list 3. Between settings the
  clock runs on ticks_ms. Without either, readings are fed without a time (no power is
  integrated; list 3s still anchor).
- The state on flash (`energystore.Saver`): loaded at start, saved after each closed hour (at
  most once an hour: 8,784 writes in a leap year) and on a clean restart (`save`).
- What MQTT and HTTP show: `message()` (flat, for `<prefix>/<meter_id>/energy` and Home
  Assistant's templates) and `answer()` (GET /api/v1/energy: the same plus the hours of the last
  two days and the days of the month, as small ints so the answer costs little heap).
"""

import energystore
import energyview
import log
import osloclock
from compat import const, ticks_add, ticks_diff, ticks_ms
from energy import DEFAULTS, Energy, settings

_NTP_RETRY_MS = const(600000)  # a failed NTP query is tried again after 10 min
_NTP_EVERY_MS = const(21600000)  # and a good one is renewed every 6 h until the meter clock rules
_REBASE_MS = const(60000)  # the ticks base moves on well before ticks_ms wraps
_UNIX_2000 = const(946684800)  # Unix seconds at 2000-01-01 UTC
# The mode's Home Assistant sensors, read from `<prefix>/<meter_id>/energy` (message()), as
# discovery.py takes them: key, name, device_class, unit, state_class, field, topic, diagnostic.
# This hour's and today's kWh restart from 0, which `total_increasing` means; the last hour's is
# a total since its start (`last_reset`); headroom goes up and down (no energy class: Home
# Assistant allows that only for totals); the step is text ("5-10 kW").
_T = "/energy"
SENSORS = (
    ("energy_hour", "Energy this hour", "energy", "kWh", "total_increasing", "hour_kwh", _T, 0),
    ("energy_last_hour", "Energy last hour", "energy", "kWh", "total", "last_hour_kwh", _T, 0),
    ("energy_today", "Energy today", "energy", "kWh", "total_increasing", "today_kwh", _T, 0),
    ("energy_capacity", "Capacity this month", "power", "kW", "measurement", "capacity_kw", _T, 0),
    ("energy_step", "Capacity step", None, None, None, "step", _T, 0),
    ("energy_headroom", "Headroom this hour", None, "kWh", "measurement", "headroom_kwh", _T, 0),
    ("energy_rejected", "Rejected hourly lists", None, None, "total_increasing", "rejected", _T,
     1),
    ("energy_estimated", "Estimated hours", None, None, "total_increasing", "estimated", _T, 1),
)
STATE_PATH = energystore.PATH
HOURS_PATH = "energy.hours"


def ntp_s2k(host):
    """Seconds since 2000 from the NTP server `host`, or OSError. ntptime.time() answers in the
    interpreter's epoch (2000 on the ESP32, 1970 on the unix port)."""
    import sys
    import time

    import ntptime  # only while no meter clock is known, and dropped again after each query

    try:
        ntptime.host = host
        ntptime.timeout = 2
        t = ntptime.time()
    finally:
        sys.modules.pop("ntptime", None)
    return t - _UNIX_2000 if time.gmtime(0)[0] == 1970 else t


def _checked(cfg):
    """The settings with each one the accounting refuses reported and set to its default
    (config.py checks only their types at boot)."""
    cfg = dict(cfg)
    for key in ("method", "days", "ladder_kw", "windows", "resolution_min"):
        try:
            settings({key: cfg.get(key, DEFAULTS[key])})
        except (ValueError, TypeError) as exc:
            log.warning("energy", "{} (kept default)", exc)
            cfg[key] = DEFAULTS[key]
    return cfg


def attach(app):
    """Start the mode in the app (app.start_energy()): its accounting, the publisher's energy
    message and sensors, and the page's answer."""
    energy = app.energy = EnergyMode(app.cfg["energy"], app.wifi_up, app._clock)
    pub = app.publisher
    if pub is not None:  # its message (due(), message(), sent(), again()) and sensors
        pub.energy = energy
        if pub.discovery is not None:
            pub.discovery.add(SENSORS)
    if app.web is not None:
        app.web.energy = energy.answer


class EnergyMode:
    """`feed(reading)` from the meter reader, `step()` once a second in its own task."""

    SENSORS = SENSORS  # for the publisher, which does not import this module

    def __init__(self, cfg, network_up, clock=ticks_ms, path=None, hours_path=None, ntp=ntp_s2k):
        path = path or STATE_PATH
        hours_path = hours_path or HOURS_PATH
        self.acc = Energy(_checked(cfg))
        self.ntp_host = cfg.get("ntp_host", "")
        self.publish_ms = cfg.get("publish_s", 60) * 1000
        self._network_up = network_up
        self._clock = clock
        self._ntp = ntp
        problem = energystore.load(self.acc, path)
        if problem is not None:
            log.warning("energy", "{}", problem)
        self.saver = energystore.Saver(self.acc, path, hours_path)
        self.time_source = None  # None, "ntp" or "meter"
        self._base_s = 0
        self._base_ms = 0
        self._base_ticks = 0
        self._ntp_at = None  # ticks of the next NTP query
        self.ntp_syncs = 0
        self.ntp_failures = 0
        self.save_errors = 0
        self._sent_p = -2  # closed period of the last message sent
        self._sent_at = None

    # --- the clock ---------------------------------------------------------------------------

    def time(self):
        """(seconds since 2000, ms) now; (None, 0) while no clock is known."""
        if self.time_source is None:
            return None, 0
        elapsed = ticks_diff(self._clock(), self._base_ticks) + self._base_ms
        return self._base_s + elapsed // 1000, elapsed % 1000

    def set_time(self, s2k, ms, source):
        self._base_ticks = self._clock()
        self._base_s = s2k
        self._base_ms = ms
        self.time_source = source

    def _sync(self):
        if self.time_source == "meter" or not self.ntp_host or not self._network_up():
            return
        now = self._clock()
        if self._ntp_at is not None and ticks_diff(now, self._ntp_at) < 0:
            return
        try:
            s2k = self._ntp(self.ntp_host)
        except Exception as exc:  # OSError, a bad answer, no ntptime: counted and retried
            self.ntp_failures += 1
            self._ntp_at = ticks_add(now, _NTP_RETRY_MS)
            log.warning("energy", "no time from NTP server {}: {!r}", self.ntp_host, exc)
            return
        if self.time_source == "meter":  # a list 3 came while we waited
            return
        self.set_time(s2k, 0, "ntp")
        self.ntp_syncs += 1
        self._ntp_at = ticks_add(self._clock(), _NTP_EVERY_MS)
        log.info("energy", "clock set by NTP: {}", osloclock.iso(s2k))

    # --- the jobs ----------------------------------------------------------------------------

    def feed(self, reading):
        """Account one reading (from the meter reader; the accounting never raises for data)."""
        s2k, ms = self.time()
        acc = self.acc
        a_p = acc.a_p
        a_wall = acc.a_wall
        acc.feed(reading, s2k, ms)
        if acc.a_p >= 0 and (acc.a_p != a_p or acc.a_wall != a_wall):
            # A new hour from the meter: its clock is the authority from now on.
            first, second = osloclock.instants(acc.a_wall)
            self.set_time(first if first // acc.period_s == acc.a_p else second, 0, "meter")
        elif s2k is None and "meter_datetime" in reading:
            wall = osloclock.wall_seconds(reading["meter_datetime"])
            if wall is not None:  # not an anchor, but better than no clock at all
                self.set_time(osloclock.instants(wall)[0], 0, "meter")

    def step(self):
        """Set the clock when due, save after a closed hour, keep the ticks base fresh."""
        self._sync()
        if self.time_source is not None:
            now = self._clock()
            if ticks_diff(now, self._base_ticks) > _REBASE_MS:
                s2k, ms = self.time()
                self._base_ticks = now
                self._base_s = s2k
                self._base_ms = ms
        acc = self.acc
        if acc.closed_p != self.saver.saved_p and acc.r_len:
            i = (acc.r_head - 1) % acc.ring_n
            est = " (estimated)" if acc.r_flags[i] & 1 else ""
            start = osloclock.iso(acc.closed_p * acc.period_s)
            log.info("energy", "hour {} closed: {} Wh{}", start, acc.r_wh[4 * i], est)
        problem = self.saver.step()
        if problem is not None:
            log.error("energy", "{}", problem)

    def save(self):
        """Save now (a clean restart); never raises."""
        problem = self.saver.step(True)
        if problem is not None:
            log.error("energy", "{}", problem)

    def add_counters(self, out):
        """The mode's counters, for telemetry.py."""
        counts = self.acc.counters()
        for key in ("stale", "backwards", "estimated", "dropped", "jumps", "bad"):
            out["energy_" + key] = counts[key]
        out["energy_saves"] = self.saver.writes
        out["energy_save_errors"] = self.saver.errors
        out["ntp_syncs"] = self.ntp_syncs
        out["ntp_failures"] = self.ntp_failures

    # --- what is shown -----------------------------------------------------------------------

    def due(self):
        """Whether the MQTT message should go out now: an hour closed, or publish_s passed."""
        acc = self.acc
        if self.time_source is None and acc.closed_p < 0:
            return False
        if acc.closed_p != self._sent_p or self._sent_at is None:
            return True
        return ticks_diff(self._clock(), self._sent_at) >= self.publish_ms

    def again(self):
        """Send the message at the next chance (a reconnect, Home Assistant's birth)."""
        self._sent_at = None

    def sent(self):
        self._sent_p = self.acc.closed_p
        self._sent_at = self._clock()

    def _view(self):
        s2k, ms = self.time()
        if s2k is None:  # no clock yet: the view of the last closed hour's end
            s2k = (self.acc.closed_p + 1) * self.acc.period_s
        return energyview.snapshot(self.acc, s2k, ms)

    def message(self):
        """The MQTT message: flat, and without the values not known (Home Assistant's
        templates then render '' and keep the sensor's last state)."""
        snap = self._view()
        hour = snap["hour"]
        out = {
            "hour_start": hour["start"],
            "hour_kwh": hour["kwh"],
            "projected_kwh": hour["projected_kwh"],
            "headroom_kwh": hour["headroom_kwh"],
            "today_kwh": snap["today_kwh"],
        }
        month = snap["month"]
        if month is not None:
            low, high = month["step"]
            out["month"] = month["month"]
            out["method"] = month["method"]
            out["capacity_kw"] = month["capacity_kw"]
            out["step"] = "{}+ kW".format(low) if high is None else "{}-{} kW".format(low, high)
            out["step_from_kw"] = low
            out["step_to_kw"] = high
            out["top"] = month["top"]
        last = snap["last_hour"]
        if last is not None:
            out["last_hour_start"] = last["start"]
            out["last_hour_kwh"] = last["kwh"]
            out["last_hour_export_kwh"] = last["export_kwh"]
            out["last_hour_estimated"] = last["estimated"]
        counts = snap["counters"]
        out["rejected"] = counts["stale"] + counts["backwards"]
        out["estimated"] = counts["estimated"]
        out["clock"] = self.time_source
        for key in list(out):
            if out[key] is None:
                del out[key]
        return out

    def answer(self):
        """GET /api/v1/energy: the view, the hours of the last two days as [start (seconds since
        2000), import Wh, export Wh, estimated], the month's days as [day, Wh, start], the
        ladder, and where the clock comes from."""
        acc = self.acc
        out = self._view()
        period_s = acc.period_s
        s2k = self.time()[0]
        since = (s2k if s2k is not None else (acc.closed_p + 1) * period_s) - 2 * 86400
        out["hours"] = [
            [p * period_s, wh[0], wh[1], 1 if est else 0]
            for p, wh, est in acc.hours()
            if p * period_s >= since
        ]
        cap = acc.capacity
        out["days"] = [
            [i + 1, cap.d_wh[i], cap.d_p[i] * period_s] for i in range(31) if cap.d_wh[i] >= 0
        ]
        out["ladder_kw"] = [w / 1000 for w in cap.ladder_w]
        out["period_s"] = period_s
        now = None if s2k is None else osloclock.iso(s2k)
        out["clock"] = {"source": self.time_source, "now": now}
        return out
