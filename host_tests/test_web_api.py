"""The HTTP API on real parts: simulator -> run_host (firmware + host twins) -> HTTP on 127.0.0.1.

Every endpoint, the password, bad JSON, malformed/oversized requests, slow clients and many
clients at once. Each misbehaviour must get a clean answer (or a clean refusal) while the meter
reader keeps counting frames.
"""

import json
import math
import re
import socket
import sys
import threading
import time

import pytest
from webhost import AUTH, PASSWORD, ROOT, Dongle, read_all, status_of

sys.path.insert(0, str(ROOT / "firmware"))
import config  # noqa: E402

SECRETS = {"wifi": "wifi-secret", "mqtt": "mqtt-secret"}


@pytest.fixture(scope="module")
def dongle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    cfg = config.defaults()
    cfg["wifi"]["ssid"] = "host-twin"
    cfg["wifi"]["password"] = SECRETS["wifi"]
    cfg["mqtt"]["password"] = SECRETS["mqtt"]
    cfg["http"]["password"] = PASSWORD
    cfg["health"]["watchdog_s"] = 0
    path = tmp / "config.json"
    config.save(cfg, str(path))
    d = Dongle(tmp, config=path)
    d.config_path = path
    # Lists 1, 2 and 3 have arrived (Aidon sends list 3 at 10 s past the hour).
    d.wait_for(lambda: len(d.json("/api/v1/reading")["lists"]) == 3, what="lists 1-3")
    yield d
    d.stop()


def test_reading_keeps_every_key_the_simulator_sent_and_when_each_list_came(dongle):
    snap = dongle.json("/api/v1/reading")
    sent = dongle.sent()
    reading = snap["reading"]
    # Identity, currents, voltages and energy persist while list 1 updates the power.
    last2 = [s["values"] for s in sent if s["list"] >= 2][-3:]
    assert any(all(reading[k] == v for k, v in s.items() if k != "active_power_import")
               for s in last2), (reading, last2)
    last3 = [s["values"] for s in sent if s["list"] == 3][-1]
    for key in ("active_power_import_total", "reactive_power_export_total", "meter_datetime"):
        assert reading[key] == last3[key]
    assert reading["active_power_import"] in [s["values"]["active_power_import"] for s in sent]
    lists = snap["lists"]
    assert set(lists) == {"1", "2", "3"}
    assert lists["3"]["meter_datetime"] == last3["meter_datetime"]
    assert lists["1"]["count"] >= 1 and lists["2"]["count"] >= 1
    for info in lists.values():
        assert 0 <= info["age_ms"] <= snap["uptime_ms"]
    assert snap["readings"] == sum(info["count"] for info in lists.values())


def test_status_reports_device_link_and_counters(dongle):
    status = dongle.json("/api/v1/status")
    assert re.fullmatch(r"\d+\.\d+\.\d+", status["firmware"])
    assert status["board"] == "esp32-devkitc"
    assert status["wifi"] == {"connected": True, "ssid": "host-twin", "ip": "127.0.0.1",
                              "rssi": -55}
    assert status["mqtt"]["enabled"] and status["mqtt"]["connected"]  # the printing client
    counters = status["counters"]
    assert counters["frames_ok"] > 0 and counters["fcs_errors"] == 0
    assert status["meter"]["manufacturer"] == "Aidon" and status["meter"]["id"]
    assert counters["http_requests"] > 0
    assert status["setup"]["setup_mode"] is False
    assert status["gauges"]["uptime_s"] >= 0 and "mem_free" in status["gauges"]


def test_status_diagnostics_and_metrics_show_the_same_counters(dongle):
    """One telemetry snapshot (telemetry.py): every counter in /api/v1/status is a metric."""
    status = dongle.json("/api/v1/status")
    _, _, text = dongle.get("/metrics")
    samples, types = parse_prometheus(text.decode())
    for name in status["counters"]:
        assert types.get("hanport_{}_total".format(name)) == "counter", name
    for name in ("watchdog_starved", "wifi_drops", "state_dropped_keys", "meter_changes",
                 "abandoned", "push_frames", "http_refused"):
        assert name in status["counters"], name


# --- Prometheus text format, checked by a strict parser of version 0.0.4 ---

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(
    r"(?P<name>{n})(?:\{{(?P<labels>[^}}]*)\}})? (?P<value>\S+)$".format(n=_NAME)
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_prometheus(text):
    """{(name, frozenset(labels)): value}, {family: type}; AssertionError on any deviation."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    samples, types, helps = {}, {}, set()
    family = None
    for line in text.split("\n")[:-1]:
        assert line, "empty line"
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert re.fullmatch(_NAME, name) and name not in helps, line
            helps.add(name)
            family = name
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name == family and name not in types, "TYPE without its HELP: " + line
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
        else:
            assert not line.startswith("#"), line
            m = _SAMPLE.match(line)
            assert m, "not a sample line: " + line
            assert m["name"] == family and family in types, "sample outside its family: " + line
            labels = []
            rest = m["labels"] or ""
            while rest:
                lm = _LABEL.match(rest)
                assert lm, "bad labels: " + line
                labels.append((lm[1], lm[2]))
                rest = rest[lm.end():]
            value = float(m["value"])
            assert not math.isnan(value), line
            key = (m["name"], frozenset(labels))
            assert key not in samples, "duplicate series: " + line
            samples[key] = value
    assert helps == set(types), "every family needs HELP and TYPE"
    return samples, types


def test_metrics_parse_as_prometheus_text_with_the_meter_values(dongle):
    status, headers, body = dongle.get("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4")
    samples, types = parse_prometheus(body.decode())
    reading = dongle.json("/api/v1/reading")["reading"]

    def value(name, **labels):
        return samples[(name, frozenset(labels.items()))]

    assert types["hanport_active_power_import_watts"] == "gauge"
    assert types["hanport_active_energy_import_watthours_total"] == "counter"
    assert value("hanport_voltage_volts", phase="l1") == reading["voltage_l1"]
    assert value("hanport_current_amperes", phase="l3") == reading["current_l3"]
    assert value("hanport_active_energy_import_watthours_total") == (
        reading["active_power_import_total"]
    )
    assert value("hanport_frames_ok_total") > 0
    assert types["hanport_fcs_errors_total"] == "counter"
    assert types["hanport_http_requests_total"] == "counter"
    assert value("hanport_wifi_rssi_dbm") == -55
    assert ("hanport_mem_free_bytes", frozenset()) not in samples  # unknown on CPython
    assert value("hanport_meter_info", manufacturer="Aidon", type=reading["meter_type"],
                 id=reading["meter_id"], list=reading["list_ver_id"]) == 1


def test_strict_prometheus_parser_rejects_what_scrapers_reject():
    good = "# HELP a_total x\n# TYPE a_total counter\na_total 1\n"
    parse_prometheus(good)
    for bad in (
        "a_total 1\n",  # no HELP/TYPE
        good + 'a_total{x="1} 2\n',  # unterminated label
        good + "a_total 1\n",  # duplicate series
        "# HELP b y\n# TYPE b gauge\nb one\n",  # not a number
        good[:-1],  # no final newline
    ):
        with pytest.raises((AssertionError, ValueError)):
            parse_prometheus(bad)


def test_live_page_is_served_gzip_compressed(dongle):
    status, headers, body = dongle.get("/", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert headers["content-type"].startswith("text/html")
    assert int(headers["content-length"]) == len(body)
    assert body[:2] == b"\x1f\x8b"
    assert headers["connection"] == "close"


def test_head_answers_headers_without_a_body(dongle):
    status, headers, body = dongle.get("/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1000


def test_unknown_paths_and_wrong_methods_are_refused(dongle):
    assert dongle.get("/nope")[0] == 404
    status, headers, _ = dongle.get("/api/v1/reading", method="POST", body=b"{}")
    assert status == 405 and headers["allow"] == "GET"


# --- settings: password, masking, validation, atomic save ---


def post_config(dongle, body, auth=AUTH):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    return dongle.get("/api/v1/config", method="POST", body=body, headers=headers)


def test_settings_need_the_password(dongle):
    for path in ("/api/v1/config", "/settings"):
        status, headers, _ = dongle.get(path)
        assert status == 401 and headers["www-authenticate"].startswith("Basic realm=")
        wrong = "Basic " + __import__("base64").b64encode(b"admin:guess").decode()
        assert dongle.get(path, headers={"Authorization": wrong})[0] == 401
        assert dongle.get(path, headers={"Authorization": AUTH})[0] == 200
    assert post_config(dongle, b'{"wifi": {"ssid": "x"}}', auth=None)[0] == 401
    assert config.load(str(dongle.config_path))[0]["wifi"]["ssid"] == "host-twin"


def test_config_never_sends_secrets_back(dongle):
    status, _, body = dongle.get("/api/v1/config", headers={"Authorization": AUTH})
    assert status == 200
    for secret in SECRETS.values():
        assert secret.encode() not in body
    cfg = json.loads(body)
    assert cfg["wifi"]["password"] == cfg["mqtt"]["password"] == cfg["http"]["password"]
    assert cfg["wifi"]["password"] == "********"
    assert cfg["wifi"]["ssid"] == "host-twin" and cfg["mqtt"]["port"] == 1883


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"mqtt": {"port": "x"}, "wifi": {"ssid": "half"}}', "mqtt.port must be a whole"),
        (b'{"uart": {"parity": "Q"}}', "uart.parity must be one of"),
        (b'{"wifi": {"colour": "red"}}', "unknown setting wifi.colour"),
        (b'{"http": {"password": ""}}', "http.password must not be empty"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_bad_settings_are_rejected_with_a_reason_and_nothing_is_saved(dongle, body, message):
    before = dongle.config_path.read_bytes()
    status, headers, answer = post_config(dongle, body)
    assert status == 400 and headers["content-type"] == "application/json"
    assert message in json.loads(answer)["error"]
    assert dongle.config_path.read_bytes() == before


def test_valid_settings_are_saved_and_masked_secrets_kept(dongle):
    body = {"mqtt": {"host": "10.0.0.2", "port": 1884, "password": "********"},
            "wifi": {"password": "********"}}
    status, _, answer = post_config(dongle, json.dumps(body).encode())
    assert status == 200, answer
    result = json.loads(answer)
    assert result["saved"] and result["restart_needed"]
    assert result["config"]["mqtt"]["password"] == "********"
    stored, problems = config.load(str(dongle.config_path))
    assert stored["mqtt"]["host"] == "10.0.0.2" and stored["mqtt"]["port"] == 1884
    assert stored["mqtt"]["password"] == SECRETS["mqtt"]
    assert stored["wifi"]["password"] == SECRETS["wifi"]
    assert not problems


def test_a_new_page_password_takes_effect_at_once(dongle):
    new = "Basic " + __import__("base64").b64encode(b"admin:n3w-pass").decode()
    assert post_config(dongle, b'{"http": {"password": "n3w-pass"}}')[0] == 200
    try:
        assert dongle.get("/api/v1/config", headers={"Authorization": AUTH})[0] == 401
        assert dongle.get("/api/v1/config", headers={"Authorization": new})[0] == 200
    finally:
        back = json.dumps({"http": {"password": PASSWORD}}).encode()
        assert post_config(dongle, back, auth=new)[0] == 200


# --- malformed, oversized, slow and many clients ---


@pytest.mark.parametrize(
    "request_bytes, expected",
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /\r\n\r\n", 400),  # HTTP/0.9 style, no version
        (b"BREW /pot HTTP/1.1\r\n\r\n", 501),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 3000 + b"\r\n\r\n", 431),
        (b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n", 431),
        (b"POST /api/v1/config HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 413),
        (b"POST /api/v1/config HTTP/1.1\r\n\r\n", 411),
        (b"POST /api/v1/config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"GET / HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
        (b"GET /\xff\xfe HTTP/1.1\r\n\r\n", 400),
    ],
)
def test_malformed_and_oversized_requests_get_a_clean_error(dongle, request_bytes, expected):
    before = dongle.json("/api/v1/status")["counters"]
    answer = dongle.raw(request_bytes)
    assert status_of(answer) == expected, answer[:200]
    assert b"Connection: close" in answer
    after = dongle.json("/api/v1/status")["counters"]
    counter = "http_too_large" if expected in (413, 431) else "http_bad_requests"
    assert after[counter] == before[counter] + 1


def test_a_client_that_hangs_up_midway_does_not_disturb_the_server(dongle):
    partials = (b"GET /api/v1/rea", b"POST /api/v1/config HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
    for partial in partials:
        with socket.create_connection(("127.0.0.1", dongle.port)) as s:
            s.sendall(partial)
    assert dongle.get("/api/v1/reading")[0] == 200


def test_slow_clients_get_408_while_the_meter_reader_keeps_counting(dongle):
    frames_before = dongle.frames_ok()
    slow = []
    # As many as the server serves at once. One client may hold all slots but one (the last
    # is kept for a new client): the fourth comes from another address.
    for source in ("127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"):
        s = socket.create_connection(("127.0.0.1", dongle.port), timeout=15,
                                     source_address=(source, 0))
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\n")
        slow.append(s)
    time.sleep(0.3)
    # Every slot is taken by a slow client: a fifth is refused at once, not queued.
    t0 = time.monotonic()
    assert status_of(dongle.raw(b"GET /api/v1/status HTTP/1.1\r\n\r\n")) == 503
    assert time.monotonic() - t0 < 2.5  # at once: well before a slot's 5 s deadline
    for _ in range(3):  # keep dribbling, a header line a second: slowloris
        time.sleep(1)
        for s in slow:
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass
    answers = [read_all(s) for s in slow]
    for s in slow:
        s.close()
    assert [status_of(a) for a in answers] == [408] * 4
    # The meter reader went on all along: about 2 list-1 frames a second at speed 5.
    assert dongle.frames_ok() >= frames_before + 5
    assert dongle.json("/api/v1/reading")["lists"]["1"]["age_ms"] < 2000


def test_many_clients_at_once_are_answered_or_refused_cleanly(dongle):
    before = dongle.json("/api/v1/status")
    results = []
    lock = threading.Lock()

    def client():
        try:
            status = dongle.get("/api/v1/reading", timeout=10)[0]
        except OSError as exc:
            status = repr(exc)
        with lock:
            results.append(status)

    threads = [threading.Thread(target=client) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 60
    assert set(results) <= {200, 503}, results
    assert results.count(200) >= 4
    after = dongle.json("/api/v1/status")
    assert after["counters"]["http_refused"] - before["counters"]["http_refused"] == results.count(
        503
    )
    assert after["counters"]["http_errors"] == before["counters"]["http_errors"]
    frames = before["counters"]["frames_ok"]
    dongle.wait_for(lambda: dongle.frames_ok() > frames, timeout=5, what="frames after the storm")


def test_restart_answers_first_then_resets_the_device(tmp_path):
    # On a PC the host twin's machine.reset() ends the program, as a reset ends the firmware.
    d = Dongle(tmp_path)
    try:
        assert d.get("/api/v1/restart", method="POST", body=b"{}")[0] == 401
        status, _, body = d.get(
            "/api/v1/restart", method="POST", body=b"{}", headers={"Authorization": AUTH}
        )
        assert status == 200 and json.loads(body)["restarting"]
        assert d.app.poll() is None  # the answer went out before the reset
        d.app.wait(10)
        assert "machine.reset()" in d.out_path.read_text()
    finally:
        d.stop()
