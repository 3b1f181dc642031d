"""The dongle application: wires config, board, hardware and the pipeline into one asyncio loop.

    UART --readinto--> hanport.Reader --reading--> Meter (identity) + Publisher (latest slots)
    Publisher task --umqtt--> broker: state, per-value topics, status, discovery, diagnostics
    reading --> State (latest value of every key) <--HTTP-- web.py routes on httpd.Server

One task per job (meter reader, publisher, Wi-Fi keeper, health/watchdog, status LED). Each is a
plain loop around a synchronous `step()`, and `guarded()` catches, counts and logs a failed pass
and carries on, so nothing the meter or the network does stops the loop. `start()` is what
main.py calls on the device; tools/run_host.py calls it on a PC with the host twins on sys.path.
"""

import asyncio
import gc
import time

import board as boards
import config
import hanport
import hw
import log
from compat import const, sleep_ms, ticks_ms
from discovery import Discovery
from health import Health
from meter import Meter
from portal import Portal
from publisher import Publisher
from state import State
from status import StatusLED
from uartsrc import FRAME_MAX, MeterSource, line_hint
from web import Web
from wifi import WiFi

_READ_MS = const(10)  # meter poll period: 2400 baud fills 10 ms with about 2 bytes
_PUBLISH_MS = const(20)
_WIFI_MS = const(250)
_HEALTH_MS = const(1000)
_ERROR_PAUSE_MS = const(1000)


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
    ):
        mqtt_cfg = cfg["mqtt"]
        pub_cfg = cfg["publish"]
        self.cfg = cfg
        self.board = board
        self.client_id = client_id
        self.last_frame_ms = None
        self.reading_errors = 0
        self.line_hint = None  # set when bytes arrive but no frame decodes
        # 1. Health first: every task reports its errors to it.
        self.health = Health(wdt, clock)
        # 2. Who the meter is, and the publisher's latest-reading slots.
        self.meter = Meter()
        self.wifi = WiFi(
            wlan, cfg["wifi"]["ssid"], cfg["wifi"]["password"], cfg["wifi"]["hostname"], clock
        )
        self.publisher = None
        if make_client is not None:
            disc = Discovery(pub_cfg["discovery_prefix"]) if pub_cfg["discovery"] else None
            self.publisher = Publisher(
                make_client,
                self.meter,
                mqtt_cfg["prefix"],
                disc,
                pub_cfg["state"],
                pub_cfg["per_value_topics"],
                mqtt_cfg["keepalive_s"],
                clock,
            )
            self.publisher.network_up = lambda: self.wifi.up
            self.publisher.diagnostics = self.diagnostics
            self.publisher.diagnostics_ms = pub_cfg["diagnostics_s"] * 1000
        # 3. The parser with its frame buffer, and the UART poller feeding it.
        self.reader = hanport.Reader(self._on_reading, FRAME_MAX)
        self.source = MeterSource(uart, self.reader)
        # What the HTTP API shows (build() adds self.web); its times use the health uptime.
        self.state = State(clock, self.health.uptime_ms)
        self.web = None  # type: Web | None
        # 4. The status LED only reads the others' state.
        self.status = None
        if led is not None:
            self.status = StatusLED(
                led, lambda: self.wifi.up, self._mqtt_up, lambda: self.last_frame_ms, clock
            )
        self._clock = clock

    def _mqtt_up(self):
        return self.publisher is not None and self.publisher.connected

    def _on_reading(self, reading):
        # Called from inside Reader.feed: must not raise, or the rest of the chunk is lost.
        try:
            self.last_frame_ms = self._clock()
            self.meter.update(reading)
            self.state.update(reading)
            if self.publisher is not None:
                self.publisher.offer(reading)
            else:
                log.info("meter", "{}", reading)
        except Exception as exc:
            self.reading_errors += 1
            log.error("meter", "reading dropped: {!r}", exc)

    def read_meter(self):
        """One pass of the meter reader task."""
        if self.source.poll() and self.line_hint is None and self.last_frame_ms is None:
            self.line_hint = line_hint(self.source.bytes_in, self.reader.stats.frames_ok)
            if self.line_hint is not None:
                log.warning("meter", "{}", self.line_hint)
        self.health.beat()

    def diagnostics(self):
        info = self.health.snapshot()
        info["wifi_rssi"] = self.wifi.rssi()
        info["bytes_in"] = self.source.bytes_in
        info["uart_buffer_full"] = self.source.rx_full
        info["line_hint"] = line_hint(self.source.bytes_in, self.reader.stats.frames_ok)
        info.update(self.reader.stats.as_dict())
        info["reading_errors"] = self.reading_errors
        pub = self.publisher
        if pub is not None:
            info["published"] = pub.published
            info["superseded"] = pub.superseded
            info["mqtt_connects"] = pub.connects
            info["mqtt_failures"] = pub.failures
            if pub.discovery is not None:
                info["discovery_overflows"] = pub.discovery.overflows
        # Bounds and faults counted elsewhere: each is a sign worth seeing before it bites.
        info["watchdog_starved"] = self.health.starved
        info["wifi_drops"] = self.wifi.drops
        info["wifi_failures"] = self.wifi.failures
        info["state_dropped_keys"] = self.state.dropped_keys
        info["meter_changes"] = self.meter.changes
        return info

    def tasks(self):
        """(name, step, period_ms) for every long-lived job."""
        jobs = [
            ("meter", self.read_meter, _READ_MS),
            ("wifi", self.wifi.step, _WIFI_MS),
            ("health", self.health.step, _HEALTH_MS),
        ]
        if self.publisher is not None:
            jobs.append(("mqtt", self.publisher.step, _PUBLISH_MS))
        if self.status is not None:
            jobs.append(("led", self.status.step, 250))
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


def build(config_path=config.PATH, boards_dir=boards.DIR, make_client=None):
    """Load settings and board, make the hardware objects; return the App (None in safe mode).

    `make_client` replaces the umqtt client factory (the host launcher's printing client).
    """
    # 1. Settings: a bad file never stops the boot, it is reported and defaults fill in.
    cfg, problems = config.load(config_path)
    log.set_level(cfg["log"]["level"])
    for problem in problems:
        log.warning("config", "{}", problem)
    # 2. The board's pins, checked against the chip it really runs on.
    board, problems = boards.load(cfg["board"], boards_dir, boards.chip_of(hw.machine_name()))
    for problem in problems:
        log.warning("board", "{}", problem)
    # 3. Setup button held at power-on: stay out of the way, leave the REPL free.
    if hw.button_pressed(board):
        log.warning("app", "setup button held: safe mode, application not started")
        return None
    # 4. Hardware, after a collect so the buffers come from a tidy heap.
    gc.collect()
    client_id = cfg["mqtt"]["client_id"] or "hanport-" + hw.device_id()
    if make_client is None and cfg["mqtt"]["host"]:
        make_client = hw.mqtt_factory(cfg["mqtt"], client_id)
    elif make_client is None:
        log.warning("mqtt", "mqtt.host is not set; readings are only logged")
    app = App(
        cfg,
        board,
        hw.make_uart(cfg["uart"], board),
        hw.make_wlan(),
        hw.make_led(board),
        hw.make_wdt(cfg["health"]["watchdog_s"]),
        make_client,
        client_id,
    )
    # 5. HTTP API, pages and setup mode (web.py, portal.py).
    if cfg["http"]["enabled"]:
        portal = Portal(hw.make_ap(), app.wifi, hw.device_id(), hw.make_button(board))
        app.web = Web(app, config_path, portal, hw.restart)
    log.info(
        "app",
        "board {}, UART{} rx={} {} baud, client id {}",
        board["name"],
        board["uart_id"],
        board["rx_pin"],
        cfg["uart"]["baud"],
        client_id,
    )
    return app


_RESTART_AFTER_MS = const(30000)  # time to press Ctrl-C on the USB console before a restart


def fail_safe(exc, restart=hw.restart, pause_ms=_RESTART_AFTER_MS):
    """The app stopped with an exception nothing else caught: say so, then restart.

    Without this a bad setting found at boot (a pin the chip lacks, say) would leave the dongle
    at the REPL with no watchdog and no way back but a USB cable. The pause leaves time to
    interrupt from the console; the restart retries with whatever settings are on flash.
    """
    log.error("app", "stopped: {!r}; restarting in {} s", exc, pause_ms // 1000)
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(pause_ms)
    else:  # CPython
        time.sleep(pause_ms / 1000)
    restart()


def start(config_path=config.PATH, boards_dir=boards.DIR, make_client=None):
    """Entry point: build the app and run its loop forever."""
    app = build(config_path, boards_dir, make_client)
    if app is None:
        return None
    asyncio.run(app.run())
    return app
