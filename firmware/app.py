"""The dongle application: wires config, board, hardware and the pipeline into one asyncio loop.

    UART --readinto--> hanport.Reader --reading--> Meter (identity) + Publisher (latest slots)
    Publisher task --umqtt--> broker: state, per-value topics, status, discovery, diagnostics
    reading --> web.state.State (latest value of every key) <--HTTP-- web.routes on web.httpd

One task per job (meter reader, publisher, Wi-Fi keeper, health/watchdog, status LED). Each is a
plain loop around a synchronous `step()`, and `guarded()` catches, counts and logs a failed pass
and carries on, so nothing the meter or the network does stops the loop. `start()` is what
main.py calls on the device; tools/run_host.py calls it on a PC with the host twins on sys.path.

Memory: only what runs stays imported. `build()` imports the settings, the board's pin map and
the hardware layer, uses them once and drops them; the HTTP side (web/) is imported only when
`http.enabled` is on; MQTT's client only when a broker is set; the energy accounting
(energymode.py and what it imports) only when `energy.enabled` is on. Code needed now and then
is imported when needed and dropped after: telemetry.py while someone asks for it, discovery.py
(and sensors.py) while sensors are announced, mqttconnect.py while MQTT is not connected,
wifijoin.py while the Wi-Fi link is down.
"""

import asyncio
import gc
import sys

import log
from compat import const, sleep_ms, ticks_diff, ticks_ms
from uartsrc import LINE_NAMES, LineWatch, line_hint
from version import VERSION

_READ_MS = const(10)  # meter poll period: 2400 baud fills 10 ms with about 2 bytes
_PUBLISH_MS = const(20)
_WIFI_MS = const(250)
_HEALTH_MS = const(1000)
_LED_MS = const(250)
_ENERGY_MS = const(1000)
_ERROR_PAUSE_MS = const(1000)
_FACTS_IDLE_MS = const(10000)  # telemetry.py leaves the heap when not asked for this long
# Used once at boot and then dropped from the heap: the settings, the pin maps, the hardware
# layer and the code that wires them up (builder.py).
_BOOT_ONLY = ("builder", "config", "board", "hw")


async def guarded(name, step, period_ms, health):
    """Run step() forever; a pass that raises is counted and logged, and the task goes on.

    Nothing here may raise: reporting a failure can itself fail (a MemoryError while formatting
    on a full heap), and an exception escaping this loop would end the task without a trace.
    Every pass, failed or not, is recorded, so the watchdog starves if the task stops passing.
    """
    health.watch(name, period_ms)
    while True:
        delay = period_ms
        try:
            result = step()
            if result is not None:
                delay = result
        except Exception as exc:
            delay = _ERROR_PAUSE_MS if period_ms < _ERROR_PAUSE_MS else period_ms
            try:
                health.count_error(name)
                log.error(name, "pass failed: {!r}", exc)
            except Exception:  # no memory even for the report: count it without allocating
                health.unreported += 1
        health.passed(name)
        await sleep_ms(delay)


class App:
    def __init__(
        self,
        cfg,
        board,
        uart,
        wlan,
        led=None,
        wdt=None,
        make_client=None,
        client_id="hanport",
        clock=ticks_ms,
        line_setter=None,
    ):
        self.cfg = cfg
        self.board_name = board["name"]  # not the pin map: it leaves the heap after the build
        self.client_id = client_id
        self.last_frame_ms = None
        self.reading_errors = 0
        self._clock = clock
        self.line_hint = None  # set when bytes arrive but no frame decodes
        self.update_note = None  # what the last update over Wi-Fi came to (trial.py)
        self.trial = None  # a new firmware's health check while it is on trial (trial.py)
        self.config_path = None  # where a found line setting is saved (builder sets it)
        self._facts_asked = None  # when telemetry.py was last used (it is loaded until idle)
        import builder  # the wiring runs once: its code leaves the heap with builder.py's

        # 1. The long-lived buffers first, from a tidy heap: the parser's frame buffer and the
        #    UART poller's chunk.
        self.reader, self.source = builder.meter_source(self, cfg["meter"], uart)
        # 1b. uart.baud "auto": the line found before is watched, else searched (linefind.py).
        self._line_setter = line_setter
        self.line_search = None
        self.line_watch = None
        self.line_name = None
        self.line_searches = 0
        self.line_save_errors = 0
        if line_setter is not None:
            found = cfg["uart"].get("found", "")
            if found in LINE_NAMES:
                self.line_name = found + " (saved)"
                self.line_watch = LineWatch(clock(), 0, 0)
            else:
                self._search(0)
        # 2. Health, who the meter is, the Wi-Fi keeper, the publisher, the status LED.
        self.health, self.meter, self.wifi, self.publisher, self.status = builder.parts(
            self, cfg, wlan, led, wdt, make_client
        )
        self.energy = None  # start_energy() adds it
        # 4. The HTTP side (build() adds it when enabled): its store of the latest values.
        self.state = None
        self.web = None

    def wifi_up(self):
        return self.wifi.up

    def last_frame(self):
        return self.last_frame_ms

    def add_web(self, state, web):
        """Serve HTTP: `state` keeps the latest values, `web` answers requests (web/)."""
        self.state = state
        self.web = web

    def start_energy(self):
        """Hour by hour energy, when `energy.enabled` is on. build() calls it after dropping the
        boot-only code, so the mode's 20 KB take that room instead of splitting the heap."""
        if not self.cfg["energy"]["enabled"]:
            return
        try:
            import energymode  # the accounting's code only when the mode is on

            energymode.attach(self)
        except Exception as exc:  # MemoryError: the meter, MQTT and HTTP still work
            log.error("energy", "energy accounting off: {!r}", exc)

    def _mqtt_up(self):
        return self.publisher is not None and self.publisher.connected

    def _on_reading(self, reading):
        # Called from inside Reader.feed: must not raise, or the rest of the chunk is lost.
        try:
            self.last_frame_ms = self._clock()
            self.meter.update(reading)
            if self.state is not None:
                self.state.update(reading)
            if self.publisher is not None:
                self.publisher.offer(reading)
            else:
                log.info("meter", "{}", reading)
            if self.energy is not None:
                self.energy.feed(reading)
        except Exception as exc:
            self.reading_errors += 1
            log.error("meter", "reading dropped: {!r}", exc)

    def saving_first(self, restart):
        """`restart`, after saving what must survive it (the energy state)."""

        def go():
            if self.energy is not None:
                self.energy.save()
            restart()

        return go

    def _search(self, start):
        import linefind  # only while searching: a dongle whose line is known never loads it

        self.line_searches += 1
        self.line_watch = None
        self.line_name = None
        self.line_search = linefind.LineFinder(
            self._line_setter, self._clock(), self.source.bytes_in, self._good_frames(), start
        )
        first = LINE_NAMES[self.line_search.index]  # 2400 8E1 begins at 8N1 (linefind.py)
        log.info("meter", "searching the line settings, from {}", first)

    def _good_frames(self):
        stats = self.reader.stats
        return stats.frames_ok + stats.push_frames  # every one's checksum verified

    def _follow_line(self):
        now = self._clock()
        bytes_in = self.source.bytes_in
        good = self._good_frames()
        search = self.line_search
        if search is not None:
            if search.step(now, bytes_in, good):
                name = LINE_NAMES[search.index]
                self.line_search = None
                self.line_name = name + " (found)"
                self.line_watch = LineWatch(now, bytes_in, good)
                log.info("meter", "line settings found: {}", name)
                self._save_line(name)
                sys.modules.pop("linefind", None)  # its code leaves the heap
        elif self.line_watch.step(now, bytes_in, good):
            log.warning("meter", "bytes but no good frame for a while: searching again")
            self._search((self._line_setter.index + 1) % len(LINE_NAMES))

    def _save_line(self, name):
        """The next boot starts on the line found: uart.found in the settings file."""
        if self.config_path is None:
            return
        try:
            import linefind  # still loaded: the search has just ended

            linefind.save(self.config_path, name)
        except Exception as exc:  # OSError (flash), ValueError, MemoryError: the line is in use
            self.line_save_errors += 1
            log.error("meter", "could not save the line settings: {!r}", exc)

    def line_status(self):
        """The line settings in use: found, saved from before, set by hand, or the search."""
        if self.line_search is not None:
            return self.line_search.status()
        if self.line_name is not None:
            return self.line_name
        uart = self.cfg["uart"]
        if self._line_setter is None and uart["baud"] == "auto":
            return "auto"  # an App made without the hardware layer (tests): nothing to switch
        return "{} {}{}{} (set)".format(uart["baud"], uart["bits"], uart["parity"], uart["stop"])

    def read_meter(self):
        """One pass of the meter reader task."""
        polled = self.source.poll()
        if self._line_setter is not None:
            self._follow_line()
        if self.line_search is not None:
            pass  # while searching, wrong settings are expected: no hint
        elif polled and self.line_hint is None and self.last_frame_ms is None:
            self.line_hint = line_hint(self.source.bytes_in, self.reader.stats.frames_ok)
            if self.line_hint is not None:
                log.warning("meter", "{}", self.line_hint)
        self.health.beat()

    def _facts(self):
        """telemetry.py, imported when asked (the diagnostics, the status, metrics) and dropped
        by check_health() once unused for _FACTS_IDLE_MS: its 3 KB are in the heap only while
        someone reads them (a page polling the status keeps it loaded)."""
        self._facts_asked = self._clock()
        import telemetry

        return telemetry

    def diagnostics(self):
        return self._facts().diagnostics(self)

    def status_info(self):
        return self._facts().status(self, VERSION)

    def telemetry(self):
        """(counters, gauges) as two dicts, for GET /metrics."""
        facts = self._facts()
        return facts.counters(self).as_dict(), facts.gauges(self)

    def check_health(self):
        """One pass of the health task: the watchdog, and telemetry.py out when idle."""
        self.health.step()
        asked = self._facts_asked
        if asked is not None and ticks_diff(self._clock(), asked) >= _FACTS_IDLE_MS:
            self._facts_asked = None
            sys.modules.pop("telemetry", None)

    def tasks(self):
        """(name, step, period_ms) for every long-lived job."""
        jobs = [
            ("meter", self.read_meter, _READ_MS),
            ("wifi", self.wifi.step, _WIFI_MS),
            ("health", self.check_health, _HEALTH_MS),
        ]
        if self.publisher is not None:
            jobs.append(("mqtt", self.publisher.step, _PUBLISH_MS))
        if self.energy is not None:
            jobs.append(("energy", self.energy.step, _ENERGY_MS))
        if self.status is not None:
            jobs.append(("led", self.status.step, _LED_MS))
        if self.trial is not None:
            jobs.append(("trial", self.trial.step, _HEALTH_MS))
        return jobs

    async def run(self):
        jobs = self.tasks()
        if self.web is not None:
            try:
                await self.web.start()
                jobs += self.web.tasks()
            except OSError as exc:  # port taken: the meter and MQTT still work
                log.error("http", "cannot listen on port {}: {!r}", self.web.port, exc)
        for name, step, period_ms in jobs:
            asyncio.create_task(guarded(name, step, period_ms, self.health))
        while True:
            await sleep_ms(60000)


def build(config_path=None, boards_dir=None, make_client=None):
    """Load settings and board, make the hardware objects; return the App (None in safe mode).

    `make_client` replaces the umqtt client factory (the host launcher's printing client).
    """
    import builder

    try:
        app = builder.build(App, config_path, boards_dir, make_client)
    finally:
        for name in _BOOT_ONLY:  # nothing that runs refers to them: their code leaves the heap
            sys.modules.pop(name, None)
        gc.collect()
    if app is not None:
        app.start_energy()
    return app


def start(config_path=None, boards_dir=None, make_client=None):
    """Entry point: build the app and run its loop forever."""
    app = build(config_path, boards_dir, make_client)
    if app is None:
        return None
    asyncio.run(app.run())
    return app
