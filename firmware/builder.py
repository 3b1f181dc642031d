"""Builds the App at boot: settings, pin map, hardware objects, MQTT client and HTTP side.

app.build() imports this, runs it once and drops it with config, board and hw, so none of this
code stays in the heap while the dongle runs. App() makes its parts here too (meter_source(),
parts()), for the same reason.
"""

import gc
import os
import sys

import hanport
import hw
import log
from compat import const, ticks_ms
from health import Health
from led import StatusLED
from meter import Meter
from uartsrc import FRAME_MAX, MeterSource
from wifi import WiFi

# The long-lived buffers' sizes, as their owners would make them: the publisher's message buffer
# (publisher._MESSAGE_MAX) and the first HTTP slot's head (web/httpd.py HEAD_MAX; the server
# makes more slots, up to its MAX_CLIENTS, when clients come at once). Named here so that those
# modules need not be loaded that early (test_app_pipeline checks them).
_MESSAGE_MAX = const(2048)
_HEAD_MAX = const(1024)
_HTTP_HEADS = const(1)
_frame = None  # made by build() first, taken by meter_source()
_message = None  # made by build() first, taken by parts()
_UPDATE_STATE = "fwstate"  # swap.STATE, named here so that swap.py need not be imported


def _exists(path):
    # Not failsafe.exists: failsafe.py is part of the loader, which an update over Wi-Fi never
    # replaces, so this module (which one does replace) may use only what loader 1 has.
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def meter_source(app, meter_cfg, uart):
    """App's parser and UART poller: (reader, source)."""
    global _frame
    frame, _frame = _frame or FRAME_MAX, None
    reader = hanport.Reader(
        app._on_reading, frame, ticks_ms, meter_cfg["key"] or None,
        meter_cfg["auth_key"] or None,
    )
    return reader, MeterSource(uart, reader)


def parts(app, cfg, wlan, led, wdt, make_client):
    """App's long-lived parts: (health, meter, wifi, publisher or None, status LED or None).

    Health: every task reports its errors to it. The publisher's code only when a broker is set
    (make_client). The status LED only reads the others' state."""
    clock = app._clock
    health = Health(wdt, clock)
    meter = Meter()
    wifi_cfg = cfg["wifi"]
    wifi = WiFi(wlan, wifi_cfg["ssid"], wifi_cfg["password"], wifi_cfg["hostname"], clock)
    publisher = None
    if make_client is not None:
        from publisher import Discovery, Publisher

        pub_cfg = cfg["publish"]
        disc = None
        if pub_cfg["discovery"]:
            disc = Discovery(pub_cfg["discovery_prefix"])
        mqtt_cfg = cfg["mqtt"]
        publisher = Publisher(
            make_client,
            meter,
            mqtt_cfg["prefix"],
            disc,
            pub_cfg["state"],
            pub_cfg["per_value_topics"],
            mqtt_cfg["keepalive_s"],
            clock,
            network_up=app.wifi_up,
            diagnostics=app.diagnostics,
            diagnostics_ms=pub_cfg["diagnostics_s"] * 1000,
            out=_message,
        )
    status = None
    if led is not None:
        status = StatusLED(led, app.wifi_up, app._mqtt_up, app.last_frame, clock)
    return health, meter, wifi, publisher, status


def _settings(config_path, boards_dir):
    """Steps 1 and 2: (settings, pin map, config path) as plain data.

    config and board are imported here and dropped before anything else loads, so the boot's
    peak heap holds their code or the running dongle's, never both."""
    import board as boards
    import config

    try:
        config_path = config_path or config.PATH
        # 1. Settings: a bad file never stops the boot, it is reported and defaults fill in.
        cfg, problems = config.load(config_path)
        log.set_level(cfg["log"]["level"])
        for problem in problems:
            log.warning("config", "{}", problem)
        # 2. The board's pins, checked against the chip it really runs on.
        chip = boards.chip_of(hw.machine_name())
        board, problems = boards.load(cfg["board"], boards_dir or boards.DIR, chip)
        for problem in problems:
            log.warning("board", "{}", problem)
        return cfg, board, config_path
    finally:
        sys.modules.pop("config", None)
        sys.modules.pop("board", None)


def build(App, config_path, boards_dir, make_client):
    """The steps of app.build(); see there."""
    global _frame, _message
    # 0. The long-lived buffers first, while the heap holds little more than app.py: the
    #    parser's frame, the MQTT message and the first HTTP slot's head (5 KB). Made later, each
    #    would have to find its size in one piece between what the settings' code leaves behind
    #    (at 96k the boot failed on a slot's 1 KB). What the settings turn off goes at once.
    _frame = bytearray(FRAME_MAX)
    _message = bytearray(_MESSAGE_MAX)
    heads = [bytearray(_HEAD_MAX) for _ in range(_HTTP_HEADS)]
    cfg, board, config_path = _settings(config_path, boards_dir)
    if not cfg["http"]["enabled"]:
        heads = None
    if make_client is None and not cfg["mqtt"]["host"]:
        _message = None
    gc.collect()
    # 3. Setup button pressed in the window after power-on: stay out of the way (safe mode).
    if hw.safe_mode_asked(board, cfg["health"]["safe_window_s"]):
        log.warning("app", "setup button pressed: safe mode, application not started")
        return None
    # 4. Hardware, after a collect so the buffers come from a tidy heap.
    gc.collect()
    device_id = hw.device_id()
    client_id = cfg["mqtt"]["client_id"] or "hanport-" + device_id
    wlan = hw.make_wlan()
    if make_client is None and cfg["mqtt"]["host"]:
        from mqttclient import ClientFactory

        make_client = ClientFactory(cfg["mqtt"], client_id, baud=cfg["uart"]["baud"], wlan=wlan)
    elif make_client is None:
        log.warning("mqtt", "mqtt.host is not set; readings are only logged")
    uart = hw.make_uart(cfg["uart"], board)
    app = App(
        cfg,
        board,
        uart,
        wlan,
        hw.make_led(board),
        hw.make_wdt(cfg["health"]["watchdog_s"]),
        make_client,
        client_id,
        line_setter=hw.make_line_setter(uart, cfg["uart"], board),
    )
    app.config_path = config_path
    _frame = _message = None  # taken, or not needed
    # 5. HTTP API, pages and setup mode (web/), only when enabled.
    if cfg["http"]["enabled"]:
        from web.portal import Portal
        from web.routes import Web
        from web.state import State

        state = State(ticks_ms, app.health.uptime_ms)
        portal = Portal(hw.make_ap(), app.wifi, device_id, hw.make_button(board))
        restart = app.saving_first(hw.reset_function())
        web = Web(cfg["http"], state, app.status_info, app.telemetry, config_path, portal, restart,
                  heads)
        web.hostname = app.wifi.hostname
        app.add_web(state, web)
    heads = None
    log.info(
        "app",
        "board {}, UART{} rx={} line {}, client id {}",
        board["name"],
        board["uart_id"],
        board["rx_pin"],
        app.line_status(),
        client_id,
    )
    # 6. A new firmware's health check, only after an update over Wi-Fi.
    if _exists(_UPDATE_STATE) or _exists(_UPDATE_STATE + ".tmp"):
        import trial

        trial.attach(app)
        if app.trial is None:
            sys.modules.pop("trial", None)
    return app
