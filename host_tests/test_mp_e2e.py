"""End to end in the real MicroPython interpreter: the unchanged firmware (staged as .mpy, run via
main.py, heap fixed with -X heapsize) with the real umqtt.simple of both frozen versions, a real
mosquitto, the HTTP API and the live page in headless chromium, and faults from outside: broker
stopped and restarted, a broker that never answers, the Wi-Fi link lost and back.

Skipped, saying why, when no MicroPython interpreter or umqtt.simple is at hand
(../shared/micropython builds both; see tools/run_mp.py).
"""

import json
import socket
import time

import pytest
from mphost import MpDongle, device_config, need_umqtt
from test_app_e2e import ENERGY_KEYS, numeric_keys, same_values

UMQTT = ("1.4.0", "1.8.0")
START = "2024-03-01T12:59:35"  # the hourly list 3 comes 35-45 meter seconds in


def states_of(sub, meter_id):
    topic = "hanport/{}/state".format(meter_id)
    return [json.loads(m.payload) for m in sub.messages if m.topic == topic]


def diagnostics(sub):
    return [json.loads(m.payload) for m in sub.messages if m.topic.endswith("/diagnostics")]


def meter_id_of(sent):
    return next(s["values"]["meter_id"] for s in sent if "meter_id" in s["values"])


def in_order(states, sent):
    """Every state is one sent reading, in order; returns the lists they came from."""
    position = 0
    lists = set()
    for state in states:
        while position < len(sent) and not same_values(state, sent[position]["values"]):
            position += 1
        assert position < len(sent), "state not sent (or out of order): {}".format(state)
        lists.add(sent[position]["list"])
    return lists


@pytest.mark.parametrize("umqtt", UMQTT)
@pytest.mark.parametrize("meter", ["aidon", "kaifa", "kamstrup"])
def test_meter_readings_and_discovery_reach_mosquitto(
    meter, umqtt, tmp_path, mqtt_broker, mqtt_subscriber
):
    need_umqtt(umqtt)
    sub = mqtt_subscriber(mqtt_broker, "hanport/#", "homeassistant/#")
    d = MpDongle(tmp_path, device_config(mqtt_broker), meter, speed=20, start=START, umqtt=umqtt)
    try:
        want = {2, 3} if meter == "kamstrup" else {1, 2, 3}
        d.wait_for(
            lambda: {s["list"] for s in d.sent() if s["wall"] < time.time() - 1} >= want,
            timeout=30,
            what="lists {} sent".format(sorted(want)),
        )
        sent = d.sent()
        meter_id = meter_id_of(sent)
        settled = [s for s in sent if s["list"] >= 2 and s["wall"] < time.time() - 1]
        d.wait_for(
            lambda: len([s for s in states_of(sub, meter_id) if "meter_id" in s]) >= len(settled),
            timeout=20,
            what="every list 2/3 reading at the broker",
        )
        d.assert_clean()
    finally:
        d.stop()
    sent = d.sent()
    assert in_order(states_of(sub, meter_id), sent) == want
    status = [m for m in sub.messages if m.topic == "hanport/{}/status".format(meter_id)]
    assert status[0].payload == b"online"
    # The process is gone: the broker holds the Last Will and the discovery configs, retained.
    late = mqtt_subscriber(
        mqtt_broker,
        "hanport/{}/status".format(meter_id),
        "homeassistant/sensor/hanport_{}/+/config".format(meter_id),
    )
    retained = late.wait_for(1 + len(numeric_keys(sent) | ENERGY_KEYS), timeout=10)
    assert all(m.retain for m in retained)
    assert [m.payload for m in retained if m.topic.endswith("/status")] == [b"offline"]
    configs = {
        m.topic.split("/")[3]: json.loads(m.payload)
        for m in sub.messages
        if m.topic.startswith("homeassistant/sensor/hanport_{}/".format(meter_id))
    }
    assert set(configs) == numeric_keys(sent) | ENERGY_KEYS
    total = configs["active_power_import_total"]
    assert total["state_class"] == "total_increasing"
    assert total["device"]["serial_number"] == meter_id
    diags = diagnostics(sub)
    assert diags and diags[-1]["fcs_errors"] == 0 and diags[-1]["task_errors"] == 0


def test_http_api_and_live_page_in_chromium(tmp_path):
    from cdp import Browser

    d = MpDongle(tmp_path, device_config(), "aidon", speed=5, start=START)
    browser = None
    try:
        d.wait_for(lambda: len(d.json("/api/v1/reading")["lists"]) == 3, timeout=30, what="lists")
        reading = d.json("/api/v1/reading")
        sent = d.sent()
        assert reading["reading"]["meter_id"] == meter_id_of(sent)
        assert d.frames_ok() > 0
        code, headers, body = d.get("/metrics")
        assert code == 200 and b"hanport_active_power_import_watts" in body
        browser = Browser(390, 844)
        browser.goto("http://127.0.0.1:{}/".format(d.port))
        browser.wait_for("document.getElementById('voltage_l1').textContent !== '–'", timeout=20)
        count = "(+document.body.dataset.updates || 0)"
        first = browser.evaluate(count)
        browser.wait_for("{} >= {}".format(count, first + 2), timeout=20)
        meter = browser.evaluate("document.getElementById('meter').textContent")
        assert meter_id_of(sent) in meter
        d.assert_clean()
    finally:
        if browser is not None:
            browser.close()
        d.stop()


@pytest.mark.parametrize("umqtt", UMQTT)
def test_broker_stopped_and_restarted(umqtt, tmp_path, mqtt_broker, mqtt_subscriber):
    need_umqtt(umqtt)
    d = MpDongle(tmp_path, device_config(mqtt_broker), "kaifa", speed=4, umqtt=umqtt)
    try:
        sub = mqtt_subscriber(mqtt_broker, "hanport/+/state")
        assert sub.wait_for(2, timeout=30), d.output
        mqtt_broker.stop()
        before = d.frames_ok()
        d.wait_for(lambda: d.frames_ok() >= before + 3, timeout=30, what="frames while away")
        mqtt_broker.start()
        after = mqtt_subscriber(mqtt_broker, "hanport/+/state", "hanport/+/diagnostics")
        d.wait_for(
            lambda: [m for m in after.messages if m.topic.endswith("/state")]
            and [x for x in diagnostics(after) if x["mqtt_connects"] >= 2 and x["mqtt_failures"]],
            timeout=60,
            what="state and diagnostics after the restart",
        )
        d.assert_clean()
        assert "retry in" in d.output
    finally:
        d.stop()


@pytest.mark.parametrize("umqtt", UMQTT)
def test_silent_broker_does_not_stop_the_meter_or_http(umqtt, tmp_path):
    need_umqtt(umqtt)
    silent = socket.create_server(("127.0.0.1", 0))
    held = []
    silent.settimeout(0.2)

    class Where:
        host = "127.0.0.1"
        port = silent.getsockname()[1]

    d = MpDongle(tmp_path, device_config(Where), "aidon", speed=5, umqtt=umqtt)
    try:
        deadline = time.monotonic() + 40
        first = d.frames_ok()
        while time.monotonic() < deadline and len(held) < 2:
            try:
                held.append(silent.accept()[0])  # accept, never answer
            except OSError:
                pass
        assert len(held) >= 2, "no second connect attempt:\n" + d.output
        d.wait_for(lambda: d.frames_ok() >= first + 5, timeout=30, what="frames meanwhile")
        assert d.frames_ok() > first
        d.assert_clean()
    finally:
        d.stop()
        for s in held:
            s.close()
        silent.close()


def test_wifi_lost_and_back(tmp_path, mqtt_broker, mqtt_subscriber):
    need_umqtt("1.8.0")
    d = MpDongle(tmp_path, device_config(mqtt_broker), "aidon", speed=5, umqtt="1.8.0")
    try:
        sub = mqtt_subscriber(mqtt_broker, "hanport/+/state", "hanport/+/diagnostics")
        assert sub.wait_for(2, timeout=30), d.output
        d.link_down()
        d.wait_output("wifi: link to host-twin lost")
        before = d.frames_ok()  # HTTP on the twin's loopback still answers
        d.wait_for(lambda: d.frames_ok() >= before + 3, timeout=30, what="frames while down")
        d.link_up()
        d.wait_for(
            lambda: [x for x in diagnostics(sub) if x["wifi_drops"] >= 1],
            timeout=60,
            what="diagnostics counting the drop",
        )
        count = len([m for m in sub.messages if m.topic.endswith("/state")])
        d.wait_for(
            lambda: len([m for m in sub.messages if m.topic.endswith("/state")]) > count + 1,
            timeout=30,
            what="states after the link came back",
        )
        d.assert_clean()
    finally:
        d.stop()


@pytest.mark.parametrize("umqtt", UMQTT)
def test_frozen_broker_list3_arrives_after_it_resumes(
    umqtt, tmp_path, mqtt_broker, mqtt_subscriber
):
    """mosquitto frozen (SIGSTOP) longer than 1.5 x keepalive, list 3 sent meanwhile: the kernel
    keeps taking QoS 0 messages, and on resume mosquitto drops the session unread. The dongle must
    see the unanswered ping, reconnect, deliver list 3, and count as published only what arrived."""
    need_umqtt(umqtt)
    key = "active_power_import_total"
    cfg = device_config(mqtt_broker)
    cfg["mqtt"]["keepalive_s"] = 10
    sub = mqtt_subscriber(mqtt_broker, "hanport/+/state", "hanport/+/diagnostics", qos=1)
    d = MpDongle(tmp_path, cfg, "aidon", speed=2, start="2024-03-01T12:59:25", umqtt=umqtt)
    try:
        d.wait_for(lambda: [m for m in sub.messages if m.topic.endswith("/state")], timeout=60)
        frozen_at = time.time()
        mqtt_broker.pause()
        try:
            list3 = d.wait_for(
                lambda: [s for s in d.sent() if s["list"] == 3], timeout=90, what="list 3 sent"
            )
            assert list3[0]["wall"] > frozen_at, "list 3 came before the broker was frozen"
            # frozen past 1.5 x keepalive (mosquitto then drops the session) and a ping timeout
            d.wait_for(lambda: time.time() > max(frozen_at + 25, list3[0]["wall"] + 12), 60)
            assert d.frames_ok() > 0
        finally:
            mqtt_broker.resume()
        total = list3[0]["values"]["active_power_import_total"]
        meter_id = meter_id_of(d.sent())
        d.wait_for(
            lambda: [s for s in states_of(sub, meter_id) if s.get(key) == total],
            timeout=120,
            what="list 3 at the broker after it resumed",
        )
        # published counts only what the broker had: every one of them is at the subscriber
        last = d.wait_for(lambda: diagnostics(sub)[-1:], timeout=30, what="diagnostics")[0]
        d.wait_for(
            lambda: len(states_of(sub, meter_id)) >= last["published"],
            timeout=30,
            what="{} published states at the broker".format(last["published"]),
        )
        assert last["mqtt_failures"] >= 1
        d.assert_clean()
    finally:
        d.stop()


def home_assistant_view(messages, meter_id):
    """What Home Assistant's sensors would show, replaying the messages in the broker's order:
    a sensor takes a state only after its discovery config (as Home Assistant documents); a
    restart (the birth message) forgets the states, while the sensors come back at once from the
    retained configs. Returns (states taken per key, keys whose value passed before their
    config)."""
    state_topic = "hanport/{}/state".format(meter_id)
    config_prefix = "homeassistant/sensor/hanport_{}/".format(meter_id)
    configured = set()
    taken = {}
    missed = []
    for m in messages:
        if m.topic == "homeassistant/status" and m.payload == b"online":
            taken = {}  # restarted: no values until states come again
        elif m.topic.startswith(config_prefix):
            configured.add(m.topic.split("/")[3])
        elif m.topic == state_topic:
            for key, value in json.loads(m.payload).items():
                if key in configured:
                    taken.setdefault(key, []).append(value)
                elif isinstance(value, (int, float)):
                    missed.append(key)
    return taken, missed


@pytest.mark.parametrize("umqtt", UMQTT)
def test_home_assistant_gets_the_energy_totals_at_once_also_after_it_restarts(
    umqtt, tmp_path, mqtt_broker, mqtt_subscriber
):
    from test_umqtt_twin import mosquitto_pub

    need_umqtt(umqtt)
    key = "active_power_import_total"
    topics = ("hanport/+/state", "homeassistant/#")
    sub = mqtt_subscriber(mqtt_broker, *topics, qos=1)
    d = MpDongle(tmp_path, device_config(mqtt_broker), "aidon", speed=5, start=START, umqtt=umqtt)
    try:
        meter_id = d.wait_for(
            lambda: [s["values"]["meter_id"] for s in d.sent() if s["list"] == 3],
            timeout=60,
            what="list 3 sent",
        )[0]
        # The first list 3 after start: its totals reach the sensors (configs came first).
        taken, missed = d.wait_for(
            lambda: (lambda v: v if key in v[0] else None)(
                home_assistant_view(sub.messages, meter_id)
            ),
            timeout=60,
            what="the energy total taken by its sensor",
        )
        assert missed == [], "states before their sensor's config: {}".format(missed)
        # Home Assistant restarts: it must not wait an hour (12 min here) for the next list 3.
        mosquitto_pub(mqtt_broker, "homeassistant/status", "online")
        d.wait_for(
            lambda: any(m.topic == "homeassistant/status" for m in sub.messages),
            timeout=30,
            what="the birth message",
        )
        taken, missed = d.wait_for(
            lambda: (lambda v: v if key in v[0] else None)(
                home_assistant_view(sub.messages, meter_id)
            ),
            timeout=60,
            what="the energy total again after Home Assistant's restart",
        )
        assert missed == []
        d.assert_clean()
    finally:
        d.stop()
    states = [json.loads(m.payload) for m in sub.messages if m.topic.endswith("/state")]
    totals = [s[key] for s in states if key in s]
    assert totals == sorted(totals), "a total_increasing value went back"
