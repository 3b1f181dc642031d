"""Builds the App at boot: settings, pin map, hardware objects, MQTT client and HTTP side.

app.build() imports this, runs it once and drops it with config, board and hw, so none of this
code stays in the heap while the dongle runs.
"""

import gc
import sys

import hw
import log
from compat import ticks_ms


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
    cfg, board, config_path = _settings(config_path, boards_dir)
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
    # 5. HTTP API, pages and setup mode (web/), only when enabled.
    if cfg["http"]["enabled"]:
        from web.portal import Portal
        from web.routes import Web
        from web.state import State

        state = State(ticks_ms, app.health.uptime_ms)
        portal = Portal(hw.make_ap(), app.wifi, device_id, hw.make_button(board))
        restart = app.saving_first(hw.reset_function())
        web = Web(cfg["http"], state, app.status_info, app.telemetry, config_path, portal, restart)
        web.hostname = app.wifi.hostname
        app.add_web(state, web)
    log.info(
        "app",
        "board {}, UART{} rx={} line {}, client id {}",
        board["name"],
        board["uart_id"],
        board["rx_pin"],
        app.line_status(),
        client_id,
    )
    return app
