"""Publisher: latest-reading slots, hold until the meter id is known, back-off, never raising."""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))

from backoff import Backoff  # noqa: E402
from discovery import Discovery  # noqa: E402
from meter import Meter  # noqa: E402
from publisher import Publisher  # noqa: E402

LIST1 = {"active_power_import": 1500}
LIST2 = {
    "meter_manufacturer": "Aidon",
    "meter_type": "6525",
    "meter_id": "7359992890941742",
    "list_ver_id": "AIDON_V0001",
    "active_power_import": 1510,
    "current_l1": 2.5,
    "voltage_l1": 230.1,
}
LIST3 = dict(LIST2, active_power_import_total=123456, meter_datetime="2022-10-15T20:00:00")


def pending(pub):
    """Readings waiting in the publisher's slots (a re-send of the last totals not counted)."""
    return sum(1 for slot in pub._slots if slot is not None and not slot[2])


class MQTTException(Exception):
    """Same name and shape as umqtt.simple's exception."""


class FakeSock:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


class FakeClient:
    """Records what the publisher does; `fail` makes the next calls raise."""

    def __init__(self, broker):
        self.broker = broker
        self.sock = None
        self.cb = None
        self.will = None
        self.pongs = 0
        self.pinged = False

    def set_callback(self, cb):
        self.cb = cb

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.will = (topic, msg, retain)

    def connect(self, clean_session=True):
        self.broker.connect_attempts += 1
        if self.broker.refuse is not None:
            raise MQTTException(self.broker.refuse)
        if self.broker.down:
            raise OSError(111, "ECONNREFUSED")
        if self.broker.frozen:  # the kernel accepts; the CONNACK never comes
            raise OSError(110, "ETIMEDOUT")
        self.sock = FakeSock()
        return 0

    def publish(self, topic, msg, retain=False, qos=0):
        if self.broker.down:
            raise OSError(104, "ECONNRESET")
        if self.broker.frozen:  # into the socket buffer, never read; QoS 1 waits for PUBACK
            if qos:
                raise OSError(110, "ETIMEDOUT")
            return
        # A copy, as the wire has it: the publisher writes every message in one reused buffer.
        self.broker.messages.append((topic, bytes(msg) if isinstance(msg, memoryview) else msg,
                                     retain))
        self.broker.qos.append(qos)

    def subscribe(self, topic, qos=0):
        self.broker.subscriptions.append(topic)

    def check_msg(self):
        if self.broker.down:
            raise OSError(-1)
        if self.broker.frozen:
            return
        if self.pinged:
            self.pinged = False
            self.pongs += 1
        while self.broker.inbox:
            self.cb(*self.broker.inbox.pop(0))

    def ping(self):
        self.pinged = True


class FakeBroker:
    def __init__(self):
        self.down = False
        self.frozen = False  # accepts and reads nothing (SIGSTOP)
        self.refuse = None
        self.connect_attempts = 0
        self.messages = []
        self.qos = []
        self.subscriptions = []
        self.inbox = []

    def topics(self):
        return [m[0] for m in self.messages]


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def make(discovery=False, **kwargs):
    broker = FakeBroker()
    clock = Clock()
    meter = Meter()
    pub = Publisher(
        lambda: FakeClient(broker),
        meter,
        prefix="han",
        clock=clock,
        discovery=Discovery() if discovery else None,
        **kwargs,
    )
    return pub, meter, broker, clock


def feed(pub, meter, reading):
    meter.update(reading)
    pub.offer(reading)


def test_holds_list1_until_meter_id_known_then_publishes_in_order():
    pub, meter, broker, clock = make()
    feed(pub, meter, LIST1)
    feed(pub, meter, dict(LIST1, active_power_import=1600))
    pub.step()
    assert broker.connect_attempts == 0 and broker.messages == []
    assert pub.superseded == 1
    feed(pub, meter, LIST2)
    pub.step()
    states = [json.loads(m[1]) for m in broker.messages if m[0] == "han/7359992890941742/state"]
    assert states == [{"active_power_import": 1600}, LIST2]
    assert pub.published == 0 and pending(pub) == 0  # sent, not yet confirmed
    pub.step()  # the PINGRESP to the ping that followed them
    assert pub.published == 2


def test_status_online_retained_with_offline_last_will():
    pub, meter, broker, clock = make()
    feed(pub, meter, LIST2)
    pub.step()
    assert ("han/7359992890941742/status", "online", True) in broker.messages
    assert pub.client.will == ("han/7359992890941742/status", "offline", True)


def test_newer_reading_supersedes_unsent_one_of_same_list_only():
    pub, meter, broker, clock = make()
    broker.down = True
    feed(pub, meter, LIST3)
    for power in (1, 2, 3):
        feed(pub, meter, {"active_power_import": power})
    feed(pub, meter, LIST2)
    pub.step()
    assert pub.superseded == 2 and pending(pub) == 3
    broker.down = False
    clock.ms += 10_000
    pub.step()
    states = [json.loads(m[1]) for m in broker.messages if m[0].endswith("/state")]
    assert states == [LIST3, {"active_power_import": 3}, LIST2]


def test_per_value_topics_when_enabled():
    pub, meter, broker, clock = make(per_value_topics=True, state=False)
    feed(pub, meter, LIST2)
    pub.step()
    assert ("han/7359992890941742/current_l1", b"2.5", False) in broker.messages
    assert "han/7359992890941742/state" not in broker.topics()


def connect_gaps(pub, broker, clock, passes=400):
    """Run `passes` publisher passes 100 ms apart: the ms between its connect attempts."""
    attempts_at = []
    for _ in range(passes):
        before = broker.connect_attempts
        pub.step()
        if broker.connect_attempts != before:
            attempts_at.append(clock.ms)
        clock.ms += 100
    return [b - a for a, b in zip(attempts_at, attempts_at[1:])]


def test_reconnect_backs_off_exponentially_and_never_raises():
    pub, meter, broker, clock = make(backoff=Backoff(1000, 8000))
    broker.down = True
    feed(pub, meter, LIST2)
    assert connect_gaps(pub, broker, clock)[:5] == [1000, 2000, 4000, 8000, 8000]
    assert pending(pub) == 1 and not pub.connected
    broker.down = False
    clock.ms += 8000
    pub.step()
    pub.step()
    assert pub.connected and pub.published == 1 and pub.backoff.delay_ms == 0


def test_bad_credentials_give_clear_error_and_keep_retrying():
    pub, meter, broker, clock = make()
    broker.refuse = 5
    feed(pub, meter, LIST2)
    pub.step()
    assert pub.last_error == "broker refused the connection: not authorised (code 5)"
    clock.ms += 1000
    pub.step()
    assert broker.connect_attempts == 2 and pub.failures == 2


def test_the_code_that_opens_a_session_is_in_memory_only_while_not_connected(monkeypatch):
    monkeypatch.delitem(sys.modules, "mqttconnect", raising=False)
    pub, meter, broker, clock = make()
    broker.refuse = 5
    feed(pub, meter, LIST2)
    pub.step()
    assert not pub.connected and "mqttconnect" in sys.modules  # retrying: it stays
    broker.refuse = None
    clock.ms += 2000
    pub.step()
    assert pub.connected and "mqttconnect" not in sys.modules
    assert broker.topics()[-1] == "han/7359992890941742/state"


def test_connection_lost_mid_publish_keeps_reading_for_next_connection():
    pub, meter, broker, clock = make()
    feed(pub, meter, LIST2)
    pub.step()
    first = pub.client
    broker.down = True
    feed(pub, meter, dict(LIST2, active_power_import=7))
    pub.step()
    assert not pub.connected and first.sock.closed and pending(pub) == 1
    broker.down = False
    clock.ms += 1000
    pub.step()
    assert json.loads(broker.messages[-1][1])["active_power_import"] == 7


def test_waits_for_network_before_connecting():
    pub, meter, broker, clock = make()
    up = [False]
    pub.network_up = lambda: up[0]
    feed(pub, meter, LIST2)
    pub.step()
    assert broker.connect_attempts == 0
    up[0] = True
    pub.step()
    assert pub.connected


def test_a_wifi_drop_closes_the_connection_and_the_link_back_reconnects_at_once():
    # A socket on a dead link only waits (over TLS, on the ESP32, forever): close it at once.
    pub, meter, broker, clock = make()
    up = [True]
    pub.network_up = lambda: up[0]
    feed(pub, meter, LIST2)
    pub.step()
    sock = pub.client.sock
    up[0] = False
    pub.step()
    assert not pub.connected and sock.closed
    assert pub.failures == 0  # not the broker's fault: no back-off
    up[0] = True
    pub.step()
    assert pub.connected and broker.connect_attempts == 2


class Factory:
    """A client factory with the hooks of mqttclient.ClientFactory, recording their calls."""

    def __init__(self, broker):
        self.broker = broker
        self.calls = []
        self.lookup_due = True

    def __call__(self):
        self.calls.append("client")
        return FakeClient(self.broker)

    def pass_begins(self):
        self.calls.append("pass")

    def lookup(self):
        due = self.lookup_due
        self.lookup_due = False
        if due:
            self.calls.append("lookup")
        return due


def test_every_pass_starts_the_budget_and_the_lookup_has_a_pass_of_its_own():
    broker = FakeBroker()
    factory = Factory(broker)
    meter = Meter()
    pub = Publisher(factory, meter, prefix="han", clock=Clock())
    feed(pub, meter, LIST2)
    pub.step()
    assert factory.calls == ["pass", "lookup"] and not pub.connected
    pub.step()
    assert factory.calls == ["pass", "lookup", "pass", "client"] and pub.connected


def test_announces_discovery_and_again_on_home_assistant_birth():
    pub, meter, broker, clock = make(discovery=True)
    feed(pub, meter, LIST2)
    for _ in range(3):
        pub.step()
    configs = [t for t in broker.topics() if t.endswith("/config")]
    assert broker.subscriptions == ["homeassistant/status"]
    assert len(configs) == 3  # active_power_import, current_l1, voltage_l1
    broker.inbox.append((b"homeassistant/status", b"online"))
    pub.step()
    pub.step()
    assert len([t for t in broker.topics() if t.endswith("/config")]) == 6
    assert pub.births == 1
    feed(pub, meter, LIST3)
    for _ in range(3):
        clock.ms += 2000
        pub.step()
    assert (
        broker.topics().count(
            "homeassistant/sensor/hanport_7359992890941742/active_power_import_total/config"
        )
        == 1
    )


def test_the_configs_code_is_loaded_only_while_there_is_something_to_announce(monkeypatch):
    class Spy:  # records every import that is not already in sys.modules
        names = []

        def find_spec(self, name, path=None, target=None):
            self.names.append(name)
            return None

    for name in ("discovery", "sensors"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [Spy()] + sys.meta_path)
    pub, meter, broker, clock = make(discovery=True)
    assert Spy.names.count("discovery") == 1  # at boot, for its names (qstrs), and out again
    assert "discovery" not in sys.modules and "sensors" not in sys.modules
    feed(pub, meter, LIST2)
    for _ in range(3):
        clock.ms += 2000
        pub.step()
    assert broker.topics()[-1] == "han/7359992890941742/state"
    assert Spy.names.count("discovery") == 2  # once, for the whole announcement
    assert "discovery" not in sys.modules and "sensors" not in sys.modules  # out again
    for reading in (LIST1, LIST2, LIST1):  # known keys, sensors or not: no configs' code
        feed(pub, meter, reading)
        pub.step()
    assert Spy.names.count("discovery") == 2
    assert broker.topics().count("han/7359992890941742/state") == 4
    feed(pub, meter, LIST3)  # a new key: loaded, announced, out again; the totals kept
    for _ in range(3):
        clock.ms += 2000
        pub.step()
    assert Spy.names.count("discovery") == 3 and "discovery" not in sys.modules
    assert broker.topics()[-1] == "han/7359992890941742/state"
    assert pub._totals == {"active_power_import_total": 123456}


def test_diagnostics_published_at_interval():
    pub, meter, broker, clock = make()
    pub.diagnostics = lambda: {"uptime_s": clock.ms // 1000}
    pub.diagnostics_ms = 60_000
    feed(pub, meter, LIST2)
    for _ in range(130):
        pub.step()
        clock.ms += 1000
    diags = [m for m in broker.messages if m[0] == "han/7359992890941742/diagnostics"]
    assert [json.loads(m[1])["uptime_s"] for m in diags] == [0, 60, 120]


def test_meter_id_change_reconnects_with_new_last_will():
    pub, meter, broker, clock = make()
    feed(pub, meter, LIST2)
    pub.step()
    feed(pub, meter, dict(LIST2, meter_id="999"))
    pub.step()
    assert pub.client.will[0] == "han/999/status"
    assert broker.messages[-1][0] == "han/999/state"


def test_a_new_meter_gets_only_its_own_sensors_announced():
    pub, meter, broker, clock = make(discovery=True)
    feed(pub, meter, dict(LIST2, current_l3=1.0))
    for _ in range(20):
        pub.step()
    other = {k: v for k, v in LIST2.items() if k != "current_l3"}
    feed(pub, meter, dict(other, meter_id="999"))
    for _ in range(20):
        pub.step()
    announced = [t for t, *_ in broker.messages if "/hanport_999/" in t and t.endswith("/config")]
    assert announced and not any("/current_l3/" in t for t in announced)
    assert "current_l3" not in pub.discovery.known


def states_of(broker):
    return [json.loads(m[1]) for m in broker.messages if m[0].endswith("/state")]


def run(pub, clock, seconds, step_ms=100):
    for _ in range(seconds * 1000 // step_ms):
        pub.step()
        clock.ms += step_ms


def test_frozen_broker_is_detected_by_an_unanswered_ping_and_nothing_is_counted_published():
    pub, meter, broker, clock = make(backoff=Backoff(1000, 4000))
    feed(pub, meter, LIST2)
    run(pub, clock, 1)
    assert pub.published == 1
    broker.frozen = True
    for power in range(5):
        feed(pub, meter, dict(LIST1, active_power_import=power))
        run(pub, clock, 2)
    assert pub.published == 1, "readings written into a frozen session were counted"
    run(pub, clock, 10)
    assert pub.failures >= 1 and "no answer to a ping" in (pub.last_error or "") or (
        not pub.connected
    )
    assert pub.lost == 5 and pub.published == 1
    broker.frozen = False
    feed(pub, meter, dict(LIST1, active_power_import=99))
    run(pub, clock, 6)
    assert pub.connected and pub.published == 2
    assert {"active_power_import": 99} in states_of(broker)


def test_list3_goes_with_qos1_and_stays_until_acknowledged_across_reconnects():
    pub, meter, broker, clock = make(backoff=Backoff(1000, 2000))
    feed(pub, meter, LIST2)
    run(pub, clock, 1)
    broker.frozen = True
    feed(pub, meter, LIST3)
    run(pub, clock, 20)  # PUBACK never comes, reconnects time out
    assert LIST3 not in states_of(broker) and pending(pub) == 1 and pub.failures >= 2
    broker.frozen = False
    run(pub, clock, 5)
    assert states_of(broker).count(LIST3) == 1 and pending(pub) == 0
    at = [m[1] for m in broker.messages].index(json.dumps(LIST3).encode())
    assert broker.qos[at] == 1
    assert pub.published == 2 and pub.lost == 0


def configs_before_states(broker):
    """Home Assistant's rule: a state reaches a sensor only if its config came first."""
    announced = set()
    late = []
    for topic, payload, _ in broker.messages:
        if topic.endswith("/config"):
            announced.add(topic.split("/")[-2])
        elif topic.endswith("/state"):
            late += [k for k in json.loads(payload) if k not in announced and k != "meter_id"]
    return late


def test_new_keys_are_announced_before_the_first_state_that_carries_them():
    pub, meter, broker, clock = make(discovery=True)
    feed(pub, meter, LIST2)
    run(pub, clock, 3)
    feed(pub, meter, LIST3)
    run(pub, clock, 3)
    assert LIST3 in states_of(broker)
    from discovery import kind_of

    late = [k for k in configs_before_states(broker) if kind_of(k) is not None]
    assert late == []


def test_home_assistant_restart_gets_the_last_totals_after_the_configs_never_an_older_one():
    pub, meter, broker, clock = make(discovery=True)
    feed(pub, meter, LIST2)
    feed(pub, meter, LIST3)
    run(pub, clock, 3)
    del broker.messages[:]
    broker.inbox.append((b"homeassistant/status", b"online"))  # Home Assistant restarted
    run(pub, clock, 3)
    assert pub.births == 1 and {"active_power_import_total": 123456} in states_of(broker)
    total = [m[0] for m in broker.messages].index(
        "homeassistant/sensor/hanport_7359992890941742/active_power_import_total/config"
    )
    assert any(m[0].endswith("/state") for m in broker.messages[total:])
    assert pub.resent == 1
    # A newer total waiting when Home Assistant comes back replaces the re-send.
    newer = dict(LIST3, active_power_import_total=123999)
    broker.inbox.append((b"homeassistant/status", b"online"))
    pub.step()
    feed(pub, meter, newer)
    run(pub, clock, 3)
    key = "active_power_import_total"
    totals = [s[key] for s in states_of(broker) if key in s]
    assert totals == sorted(totals) and totals[-1] == 123999
    assert pub.superseded == 0


def test_a_message_larger_than_the_buffer_still_goes_out_and_is_counted():
    pub, meter, broker, _ = make()
    pub._out = bytearray(16)  # smaller than any state message
    feed(pub, meter, {"meter_id": "m1", "active_power_import": 1234, "voltage_l1": 230.1})
    pub.step()
    states = [m for t, m, r in broker.messages if t.endswith("/state")]
    assert states and json.loads(states[-1])["voltage_l1"] == 230.1
    assert pub.oversized_messages == 1


def test_out_of_memory_while_announcing_keeps_the_session_and_backs_off_instead_of_hammering():
    # A heap too small for announcing: building a config runs out of memory. The session stays
    # (no reconnect, no new announcement), the configs are tried again after 1, 2, 4 ... s, and
    # discovery.py is not held in the heap meanwhile.
    pub, meter, broker, clock = make(discovery=True, backoff=Backoff(1000, 8000))
    short = [True]
    publish = FakeClient.publish

    def publish_or_fail(self, topic, msg, retain=False, qos=0):
        if short[0] and topic.endswith("/config"):
            raise MemoryError("memory allocation failed, allocating 148 bytes")
        publish(self, topic, msg, retain, qos)

    FakeClient.publish = publish_or_fail
    try:
        feed(pub, meter, LIST2)
        failed_at = []
        for _ in range(400):
            before = pub.failures
            pub.step()
            if pub.failures != before:
                failed_at.append(clock.ms)
                assert "discovery" not in sys.modules
            clock.ms += 100
        gaps = [b - a for a, b in zip(failed_at, failed_at[1:])]
        assert gaps[:5] == [1000, 2000, 4000, 8000, 8000]
        assert broker.connect_attempts == 1 and pub.connected
        assert pub.last_error.startswith("MemoryError")
        short[0] = False  # memory again: announced, published, the back-off starts over
        run(pub, clock, 12)
        assert pub.connected and pub.published == 1 and pub.backoff.delay_ms == 0
        assert pub.last_error is None and broker.connect_attempts == 1
    finally:
        FakeClient.publish = publish


def test_a_session_that_fails_at_once_after_each_connect_backs_off():
    # Each connect works and the first publish finds the connection reset: only a pass that
    # sent what was due starts the back-off over, so the connects spread out.
    pub, meter, broker, clock = make(backoff=Backoff(1000, 8000))
    publish = FakeClient.publish

    def reset(self, topic, msg, retain=False, qos=0):
        raise OSError(104, "ECONNRESET")

    FakeClient.publish = reset
    try:
        feed(pub, meter, LIST2)
        assert connect_gaps(pub, broker, clock)[:5] == [1000, 2000, 4000, 8000, 8000]
    finally:
        FakeClient.publish = publish
    run(pub, clock, 10)
    assert pub.connected and pub.published == 1 and pub.backoff.delay_ms == 0
