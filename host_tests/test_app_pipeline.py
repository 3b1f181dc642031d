"""The application on the host: host-twin UART bytes -> parser -> publisher, and its parts.

Frames come from the project's encoder (tools/hanencode.py). The MQTT side is a recording fake
here; tests against a real broker are in test_app_e2e.py.
"""

import asyncio
import json
import pathlib
import random
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
for sub in ("firmware", "tools/hosttwin", "tools"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

import app  # noqa: E402
import config  # noqa: E402
import hanencode  # noqa: E402
import jsonout  # noqa: E402
from samples import AIDON_LIST2  # noqa: E402
import hanport  # noqa: E402
import machine  # noqa: E402
import network  # noqa: E402
import failsafe  # noqa: E402
import led  # noqa: E402
import uartsrc  # noqa: E402
from health import Health  # noqa: E402
from wifi import WiFi  # noqa: E402

BOARD = dict(__import__("board").GENERIC)

LIST1 = {"active_power_import": 1234}
LIST2 = AIDON_LIST2
LIST3 = dict(
    LIST2,
    meter_datetime="2022-10-15T20:00:00",
    active_power_import_total=12345670,
    active_power_export_total=0,
    reactive_power_import_total=500,
    reactive_power_export_total=10,
)


class RecordingClient:
    """umqtt.simple-shaped client that records publishes (one shared list per test)."""

    def __init__(self, sent):
        self.sent = sent
        self.sock = None

    def set_callback(self, cb):
        self.cb = cb

    def set_last_will(self, *args, **kwargs):
        pass

    def connect(self, clean_session=True):
        return 0

    def publish(self, topic, msg, retain=False, qos=0):
        self.sent.append((topic, bytes(msg) if isinstance(msg, memoryview) else msg))

    def subscribe(self, topic, qos=0):
        pass

    def check_msg(self):
        return None

    pongs = 0  # answers to ping(), as firmware/mqttclient.py's clients count them

    def ping(self):
        self.pongs += 1


def frame(reading, meter="Aidon"):
    return hanencode.build_frame(meter, reading)


def make_app(**publish):
    cfg = config.defaults()
    cfg["wifi"]["ssid"] = "home"
    cfg["publish"].update(publish)
    sent = []
    uart = machine.UART(2, source="none", rxbuf=uartsrc.RXBUF)
    the_app = app.App(cfg, BOARD, uart, network.WLAN(), make_client=lambda: RecordingClient(sent))
    the_app.wifi.step()  # join
    the_app.wifi.step()  # notice the link is up
    return the_app, uart, sent


def states(sent):
    return [json.loads(m) for t, m in sent if t.endswith("/state")]


def run_passes(the_app, uart, data, chunk=7):
    """Inject data in small chunks, polling the reader and the publisher in between."""
    for i in range(0, len(data), chunk):
        uart.inject(data[i : i + chunk])
        the_app.read_meter()
        the_app.publisher.step()


def test_frames_on_the_uart_become_state_messages():
    the_app, uart, sent = make_app(discovery=False)
    frames = [frame(LIST1), frame(LIST2), frame(LIST1), frame(LIST3)]
    run_passes(the_app, uart, b"".join(frames))
    expected = [hanport.decode_frame(f) for f in frames]
    assert states(sent) == expected
    assert expected[1]["meter_id"] == "7359992890941742"
    assert expected[1]["current_l1"] == 2.5


def test_garbage_and_partial_frames_do_not_crash_and_good_frames_still_arrive():
    the_app, uart, sent = make_app(discovery=False)
    rng = random.Random(4)
    good = frame(LIST2)
    bad_fcs = bytearray(good)
    bad_fcs[-3] ^= 0xFF
    stream = (
        bytes(rng.randrange(256) for _ in range(500))
        + good[: len(good) // 2]  # cut off mid-frame
        + bytes(bad_fcs)
        + b"\x7e\x7e\x7e\xa0"
        + bytes(rng.randrange(256) for _ in range(300))
        + good
        + frame(LIST1)
    )
    run_passes(the_app, uart, stream, chunk=13)
    got = states(sent)
    assert got[-2:] == [hanport.decode_frame(good), hanport.decode_frame(frame(LIST1))]
    stats = the_app.reader.stats
    assert stats.fcs_errors + stats.hcs_errors + stats.truncated + stats.bad_format >= 1
    assert the_app.health.task_errors == {}
    assert the_app.source.bytes_in == len(stream)


def test_random_bytes_never_raise_from_a_pass():
    the_app, uart, sent = make_app()
    rng = random.Random(7)
    for _ in range(50):
        uart.inject(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
        the_app.read_meter()
        the_app.publisher.step()
    assert the_app.reader.stats.frames_ok == 0 and sent == []


def test_one_poll_is_bounded_so_the_loop_gets_control_back():
    the_app, uart, sent = make_app()
    uart.inject(bytes(uartsrc.RXBUF))
    fed = the_app.source.poll()
    assert 0 < fed < uartsrc.RXBUF and uart.any() == uartsrc.RXBUF - fed


def test_uart_twin_drops_newest_bytes_when_its_buffer_is_full():
    uart = machine.UART(2, source="none", rxbuf=100)
    uart.inject(bytes(150))
    assert uart.any() == 100 and uart.overruns == 50


def test_auto_uart_starts_on_the_saved_line_else_on_2400_8e1():
    uart_cfg = config.defaults()["uart"]
    inverted_board = dict(BOARD, invert_rx=True)
    assert uartsrc.uart_settings(uart_cfg, inverted_board, 2)["invert"] == 0
    uart_cfg["found"] = "115200 8N1 inverted"
    settings = uartsrc.uart_settings(uart_cfg, BOARD, 2)
    assert settings["baudrate"] == 115200 and settings["parity"] is None
    assert settings["invert"] == 2 and settings["bits"] == 8 and settings["stop"] == 1


def test_uart_settings_default_to_2400_8e1_with_room_for_two_frames():
    settings = uartsrc.uart_settings(config.defaults()["uart"], BOARD, machine.UART.INV_RX)
    assert settings["baudrate"] == 2400 and settings["bits"] == 8
    assert settings["parity"] == 0 and settings["stop"] == 1  # machine.UART: 0 = even
    assert settings["rxbuf"] >= 2 * uartsrc.FRAME_MAX
    assert settings["rx"] == 16 and settings["tx"] == 17 and settings["invert"] == 0


def test_rx_inversion_from_board_unless_config_says_otherwise():
    uart_cfg = dict(config.defaults()["uart"], baud=2400)  # set by hand
    inverted_board = dict(BOARD, invert_rx=True, tx_pin=None)
    settings = uartsrc.uart_settings(uart_cfg, inverted_board, machine.UART.INV_RX)
    assert settings["invert"] == machine.UART.INV_RX and "tx" not in settings
    uart_cfg["invert_rx"] = False
    assert uartsrc.uart_settings(uart_cfg, inverted_board, 2)["invert"] == 0
    uart_cfg.update(invert_rx=True, parity="N")
    settings = uartsrc.uart_settings(uart_cfg, BOARD, 2)
    assert settings["invert"] == 2 and settings["parity"] is None


def test_a_failing_pass_is_counted_and_the_task_keeps_running():
    health = Health()
    calls = []

    def step():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    async def main():
        task = asyncio.create_task(app.guarded("x", step, 1, health))
        await asyncio.sleep(1.2)  # the failed pass pauses 1 s, then it runs again
        task.cancel()

    asyncio.run(main())
    assert health.task_errors == {"x": 1} and len(calls) > 2


def test_whole_app_runs_in_asyncio_from_a_tcp_uart(tmp_path):
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    frames = [frame(LIST2), frame(LIST1), frame(LIST3)]
    cfg = config.defaults()
    cfg["wifi"]["ssid"] = "home"
    cfg["publish"]["discovery"] = False
    sent = []
    uart = machine.UART(2, source="tcp://127.0.0.1:{}".format(port), rxbuf=uartsrc.RXBUF)
    conn, _ = server.accept()
    conn.sendall(b"".join(frames))
    the_app = app.App(cfg, BOARD, uart, network.WLAN(), make_client=lambda: RecordingClient(sent))

    async def main():
        task = asyncio.create_task(the_app.run())
        for _ in range(100):
            await asyncio.sleep(0.02)
            if len(states(sent)) == 3:
                break
        task.cancel()

    try:
        asyncio.run(main())
    finally:
        uart.deinit()
        conn.close()
        server.close()
    assert states(sent) == [hanport.decode_frame(f) for f in frames]


def test_the_long_lived_buffers_made_first_are_the_ones_in_use(tmp_path, monkeypatch):
    # builder.build() makes them before reading the settings (a tidy heap on the board); their
    # sizes are named there so as not to load publisher.py and web/httpd.py that early.
    import builder
    import publisher
    from web import httpd

    assert builder._MESSAGE_MAX == publisher._MESSAGE_MAX
    assert builder._HEAD_MAX == httpd.HEAD_MAX and builder._HTTP_HEADS <= httpd.MAX_CLIENTS
    cfg = config.defaults()
    cfg["mqtt"]["host"] = "127.0.0.1"
    cfg["http"]["password"] = "a-password"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    made = []

    def recording_bytearray(size):
        made.append(bytearray(size))
        return made[-1]

    monkeypatch.setattr(builder, "bytearray", recording_bytearray, raising=False)
    the_app = app.build(str(path), str(tmp_path))
    assert len(the_app.reader._framer._buf) == uartsrc.FRAME_MAX
    assert len(the_app.publisher._out) == publisher._MESSAGE_MAX
    heads = [slot.head for slot in the_app.web._slots] + the_app.web._heads  # made, and waiting
    assert [len(h) for h in heads] == [httpd.HEAD_MAX] * builder._HTTP_HEADS
    assert len({id(h) for h in heads}) == builder._HTTP_HEADS  # one each, none shared
    in_use = [the_app.reader._framer._buf, the_app.publisher._out] + heads
    assert sorted(map(id, made)) == sorted(map(id, in_use))
    assert builder._frame is None and builder._message is None  # nothing kept for later


def test_build_survives_corrupt_config_and_missing_board(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text("{{{ not json")
    the_app = app.build(str(path), str(tmp_path), make_client=lambda: RecordingClient([]))
    out = capsys.readouterr().out
    assert "not valid JSON; using defaults" in out
    assert "no board file" in out
    assert the_app is not None and the_app.cfg == config.DEFAULTS


@pytest.mark.parametrize("name", ["ESP32C3 module with ESP32C3", "LOLIN_S2_MINI with ESP32-S2"])
def test_build_on_a_chip_without_uart2_uses_its_own_fallback(tmp_path, capsys, monkeypatch, name):
    import gpio
    import hw

    monkeypatch.setattr(hw, "machine_name", lambda: name)
    monkeypatch.setattr(hw, "make_led", lambda board: gpio.NoLED())  # the twins have no neopixel
    # No config file: the default board setting is the ESP32 DevKitC, whose file uses UART 2.
    the_app = app.build(str(tmp_path / "config.json"), str(ROOT / "boards"),
                        make_client=lambda: RecordingClient([]))
    assert the_app is not None and the_app.source._uart.id == 1
    assert "this is an esp32" in capsys.readouterr().out


def test_setup_button_held_at_boot_gives_safe_mode(tmp_path, capsys):
    # The twin's pulled-up input reads 1; a board whose button is active-high sees it pressed.
    (tmp_path / "held.json").write_text(
        json.dumps(dict(BOARD, name="held", button_active_low=False))
    )
    config.update({"board": "held"}, str(tmp_path / "config.json"))
    assert app.build(str(tmp_path / "config.json"), str(tmp_path)) is None
    assert "safe mode" in capsys.readouterr().out


def test_wifi_keeper_rejoins_with_backoff_after_link_loss():
    clock = [0]
    wlan = network.WLAN()
    network.WLAN._connected = False  # whatever an earlier test left
    keeper = WiFi(wlan, "home", "pw", clock=lambda: clock[0])
    keeper.step()  # joins
    keeper.step()  # sees the link
    assert keeper.up
    network.WLAN.link_up = False
    try:
        joins = []
        for _ in range(1200):  # two minutes in 100 ms passes
            before = keeper.joins
            keeper.step()
            if keeper.joins != before:
                joins.append(clock[0])
            clock[0] += 100
        assert not keeper.up and keeper.drops == 1
        gaps = [b - a for a, b in zip(joins, joins[1:])]
        assert gaps[:3] == [22000, 24000, 28000]  # 20 s join timeout + 2, 4, 8 s back-off
    finally:
        network.WLAN.link_up = True
    assert "wifijoin" in sys.modules  # the joining code, while the link is down
    for _ in range(1200):  # back within the longest back-off plus a join
        keeper.step()
        clock[0] += 100
    assert keeper.up and keeper.backoff.delay_ms == 0
    assert "wifijoin" not in sys.modules  # up: out of the heap


class BusyWLAN(network.WLAN):
    """The ESP32 driver after a drop: connect() raises while its own reconnect runs, unless
    disconnect() stopped it first."""

    reconnecting = True

    def disconnect(self):
        BusyWLAN.reconnecting = False
        super().disconnect()

    def connect(self, ssid=None, key=None, **kwargs):
        if BusyWLAN.reconnecting:
            raise OSError("Wifi Internal Error")
        super().connect(ssid, key, **kwargs)


def test_wifi_keeper_stops_the_drivers_own_reconnect_before_joining():
    clock = [0]
    keeper = WiFi(BusyWLAN(), "home", "pw", clock=lambda: clock[0])
    network.WLAN._connected = False
    keeper.step()  # must not raise "Wifi Internal Error"
    assert keeper.up or keeper.joins == 1
    keeper.step()
    assert keeper.up and keeper.failures == 0


class RefusingWLAN(network.WLAN):
    def connect(self, ssid=None, key=None, **kwargs):
        raise OSError("Wifi Internal Error")


def test_wifi_join_refused_by_the_driver_is_a_failure_with_back_off(capsys):
    clock = [0]
    keeper = WiFi(RefusingWLAN(), "home", "pw", clock=lambda: clock[0])
    network.WLAN._connected = False
    tries = 0
    for _ in range(300):  # 30 s in 100 ms passes, none raising
        before = keeper.joins
        keeper.step()
        tries += keeper.joins - before
        clock[0] += 100
    assert keeper.failures == tries and 2 <= tries <= 4  # 2, 4, 8 s back-off, not every pass
    assert "refused" in capsys.readouterr().out


def test_wifi_without_ssid_never_tries_and_says_so(capsys):
    keeper = WiFi(network.WLAN(), "")
    network.WLAN._connected = False
    keeper.step()
    keeper.step()
    assert keeper.joins == 0
    assert capsys.readouterr().out.count("wifi.ssid is not set") == 1


def test_watchdog_fed_only_while_the_reader_beats():
    clock = [0]
    wdt = machine.WDT(timeout=60000)
    health = Health(wdt, lambda: clock[0], stall_ms=5000)
    for _ in range(10):
        health.beat()
        health.step()
        clock[0] += 1000
    assert wdt.feeds == 10
    clock[0] += 6000
    health.step()
    assert wdt.feeds == 10 and health.starved == 1


def test_status_led_patterns():
    assert led.pattern(False, False, None) == (100, 100)
    assert led.pattern(True, False, None) == (0, 1000)
    assert led.pattern(True, False, 1000) == (500, 500)
    assert led.pattern(True, True, 1000) == (1000, 0)
    assert led.pattern(True, True, 120000) == (0, 1000)


def as_sent(obj):
    """What the diagnostics message or the status answer says: the JSON jsonout writes."""
    return json.loads(jsonout.dumps(obj))


def test_diagnostics_carry_health_counters_and_signal():
    the_app, uart, sent = make_app()
    uart.inject(frame(LIST2))
    the_app.read_meter()
    diag = as_sent(the_app.diagnostics())
    assert diag["frames_ok"] == 1 and diag["wifi_rssi"] == -55
    for key in ("uptime_s", "mem_free", "bytes_in", "fcs_errors", "published", "superseded"):
        assert key in diag


def test_telemetry_code_is_loaded_while_asked_for_and_leaves_when_idle(monkeypatch):
    clock = [0]
    cfg = config.defaults()
    uart = machine.UART(2, source="none", rxbuf=uartsrc.RXBUF)
    the_app = app.App(cfg, BOARD, uart, network.WLAN(), clock=lambda: clock[0])
    monkeypatch.delitem(sys.modules, "telemetry", raising=False)
    assert as_sent(the_app.status_info())["counters"]["frames_ok"] == 0
    assert "telemetry" in sys.modules
    for _ in range(9):  # asked every second (a page polling the status): stays
        clock[0] += 1000
        the_app.telemetry()
        the_app.check_health()
    assert "telemetry" in sys.modules and the_app.health.feeds == 9
    clock[0] += 10000
    the_app.check_health()
    assert "telemetry" not in sys.modules and the_app.health.feeds == 10
    diag = as_sent(the_app.diagnostics())
    assert "uptime_s" in diag and "telemetry" in sys.modules  # back when asked


def test_firmware_does_not_import_hardware_outside_hw():
    # failsafe.py may reset the chip even when hw.py cannot be imported; mqttclient.py is
    # the one place that makes umqtt clients, and mqttconnect.py gives umqtt.simple its
    # time-limited sockets at boot.
    allowed = {"hw.py": ("import machine", "import network"), "failsafe.py": ("import machine",),
               "mqttclient.py": ("from umqtt",), "mqttconnect.py": ("from umqtt",)}
    for path in (ROOT / "firmware").rglob("*.py"):
        text = path.read_text()
        for name in ("import machine", "import network", "from umqtt", "import umqtt"):
            if name not in allowed.get(path.name, ()):
                assert name not in text, "{} imports {}".format(path.name, name)


def test_an_app_that_stops_with_an_error_restarts_the_dongle(capsys):
    restarts = []
    failsafe.restart(ValueError("invalid pin"), reset=lambda: restarts.append(1), pause_ms=10)
    assert restarts == [1]
    assert "invalid pin" in capsys.readouterr().out


def test_bytes_without_frames_say_to_check_the_line_settings(capsys):
    the_app, uart, sent = make_app(discovery=False)
    # What a wrong baud or parity makes of real frames: bytes, but never a valid one.
    garbled = bytes(b ^ 0x5A for b in frame(LIST2)) * 40
    for i in range(0, len(garbled), 200):
        uart.inject(garbled[i : i + 200])
        the_app.read_meter()
    assert the_app.source.bytes_in >= 1024 and the_app.reader.stats.frames_ok == 0
    assert the_app.line_hint == uartsrc.LINE_HINT
    assert as_sent(the_app.diagnostics())["line_hint"] == uartsrc.LINE_HINT
    assert capsys.readouterr().out.count(uartsrc.LINE_HINT) == 1  # said once, not per pass


def test_good_frames_give_no_line_hint():
    the_app, uart, sent = make_app(discovery=False)
    data = frame(LIST2) * 30
    for i in range(0, len(data), 200):
        uart.inject(data[i : i + 200])
        the_app.read_meter()
    assert the_app.source.bytes_in >= 1024 and the_app.reader.stats.frames_ok > 0
    assert the_app.line_hint is None and as_sent(the_app.diagnostics())["line_hint"] is None


def test_a_full_uart_buffer_is_counted():
    the_app, uart, sent = make_app(discovery=False)
    uart.inject(frame(LIST2) * 200)  # more than the buffer holds: the loop was away too long
    assert uart.overruns > 0
    the_app.read_meter()
    the_app.read_meter()
    assert as_sent(the_app.diagnostics())["uart_buffer_full"] == 1


def test_meter_keys_from_the_settings_decrypt_ciphered_lists():
    key = bytes(range(16))
    cfg = config.defaults()
    cfg["meter"]["key"] = key.hex()
    cfg["meter"]["auth_key"] = key[::-1].hex()
    uart = machine.UART(2, source="none", rxbuf=uartsrc.RXBUF)
    the_app = app.App(cfg, BOARD, uart, network.WLAN())
    plain = hanencode.apdu("Aidon", AIDON_LIST2)[3:]
    ciphered = hanencode.glo_ciphering(plain, key, key[::-1], b"AIDON\x00\x00\x01", 7)
    uart.inject(hanencode.hdlc_frame(hanencode.llc_pdu(ciphered)))
    the_app.read_meter()
    assert the_app.reader.stats.frames_ok == 1 and the_app.meter.id == AIDON_LIST2["meter_id"]


def test_a_press_in_the_window_after_boot_gives_safe_mode(tmp_path, capsys, monkeypatch):
    # The boards' buttons are strapping pins: held at reset they start the ROM loader, so the
    # press that counts comes after boot, while the LED blinks fast.
    import gpio

    polls = []

    def pressed(button):
        polls.append(1)
        return len(polls) > 4  # released at power-on, pressed about 0.4 s later

    monkeypatch.setattr(gpio.Button, "pressed", pressed)
    config.update({"health": {"safe_window_s": 2}}, str(tmp_path / "config.json"))
    start = time.monotonic()
    assert app.build(str(tmp_path / "config.json"), str(ROOT / "boards")) is None
    assert time.monotonic() - start < 2 and "safe mode" in capsys.readouterr().out


def test_without_a_press_the_app_starts_after_the_window(tmp_path, monkeypatch):
    import gpio

    monkeypatch.setattr(gpio.Button, "pressed", lambda button: False)
    config.update({"health": {"safe_window_s": 1}}, str(tmp_path / "config.json"))
    start = time.monotonic()
    the_app = app.build(str(tmp_path / "config.json"), str(ROOT / "boards"),
                        make_client=lambda: RecordingClient([]))
    assert the_app is not None and time.monotonic() - start >= 1
