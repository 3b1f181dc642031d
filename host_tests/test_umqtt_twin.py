"""The host twin of umqtt.simple against a real mosquitto: the contract the app relies on.

Messages are checked with mosquitto's own clients (mosquitto_sub/mosquitto_pub), so the twin
is never its own witness.
"""

import pathlib
import select
import ssl
import subprocess
import sys
import time

import pytest
from brokers import find_tool, free_port

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "hosttwin"))

from umqtt.simple import MQTTClient, MQTTException  # noqa: E402

WAIT_S = 5.0


def mosquitto_pub(broker, topic, payload, qos=0, retain=False):
    argv = [find_tool("mosquitto_pub"), "-h", broker.host, "-p", str(broker.port)]
    argv += ["-t", topic, "-m", payload, "-q", str(qos)]
    if retain:
        argv.append("-r")
    subprocess.run(argv, check=True, timeout=WAIT_S)


def wait_msg_within(client, timeout=WAIT_S):
    """wait_msg(), but fail instead of hanging when nothing arrives in time."""
    readable, _, _ = select.select([client.sock], [], [], timeout)
    assert readable, f"nothing received within {timeout} s"
    return client.wait_msg()


def wait_for_log(broker, text, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while text not in broker.log:
        assert time.monotonic() < deadline, f"broker never logged {text!r}:\n{broker.log}"
        time.sleep(0.02)


@pytest.fixture
def clients():
    """Connect-later clients that are closed after the test, whatever state they are in."""
    made = []

    def make(broker, client_id="twin", **kwargs):
        client = MQTTClient(client_id, broker.host, broker.port, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        if client.sock is not None:
            client.sock.close()


def test_published_message_reaches_subscriber(mqtt_broker, mqtt_subscriber, clients):
    sub = mqtt_subscriber(mqtt_broker, "han/#")
    client = clients(mqtt_broker)
    assert client.connect() == 0
    client.publish(b"han/power", b'{"active_power_import": 1234}')
    client.publish("han/text", "str topic and message")
    client.disconnect()
    got = sub.wait_for(2)
    assert [(m.topic, m.payload, m.retain) for m in got] == [
        ("han/power", b'{"active_power_import": 1234}', False),
        ("han/text", b"str topic and message", False),
    ]


def test_large_payload_uses_multibyte_length(mqtt_broker, mqtt_subscriber, clients):
    sub = mqtt_subscriber(mqtt_broker, "big")
    client = clients(mqtt_broker)
    client.connect()
    payload = bytes(range(256)) * 80  # 20480 bytes: a three-byte remaining length
    client.publish(b"big", payload)
    got = sub.wait_for(1)
    assert [m.payload for m in got] == [payload]


def test_subscribed_messages_go_to_callback(mqtt_broker, clients):
    received = []
    client = clients(mqtt_broker)
    client.set_callback(lambda topic, msg: received.append((topic, msg)))
    client.connect()
    client.subscribe(b"cmd/#")
    mosquitto_pub(mqtt_broker, "cmd/relay", "on")
    assert wait_msg_within(client) == 0x30
    mosquitto_pub(mqtt_broker, "cmd/relay", "off", qos=1)
    assert wait_msg_within(client) & 0xF6 == 0x30  # QoS 0 delivery: subscription is QoS 0
    assert received == [(b"cmd/relay", b"on"), (b"cmd/relay", b"off")]


def test_qos1_subscription_gets_qos1_delivery_and_acks_it(mqtt_broker, clients):
    received = []
    client = clients(mqtt_broker, client_id="acker")
    client.set_callback(lambda topic, msg: received.append((topic, msg)))
    client.connect(clean_session=False)
    client.subscribe("cmd", qos=1)
    mosquitto_pub(mqtt_broker, "cmd", "q1", qos=1)
    assert wait_msg_within(client) & 0xF6 == 0x32
    assert received == [(b"cmd", b"q1")]
    client.ping()  # PINGRESP comes after our PUBACK has been handled
    assert wait_msg_within(client) is None
    client.disconnect()
    # An unacknowledged message would be sent again right after CONNACK, before the PINGRESP.
    assert client.connect(clean_session=False) == 1
    client.ping()
    while wait_msg_within(client) is not None:
        pass
    assert received == [(b"cmd", b"q1")]


def test_subscribe_without_callback_is_refused(mqtt_broker, clients):
    client = clients(mqtt_broker)
    client.connect()
    with pytest.raises(AssertionError):
        client.subscribe(b"x")


def test_check_msg_returns_none_when_idle(mqtt_broker, clients):
    received = []
    client = clients(mqtt_broker)
    client.set_callback(lambda topic, msg: received.append(msg))
    client.connect()
    client.subscribe(b"t")
    assert client.check_msg() is None
    mosquitto_pub(mqtt_broker, "t", "late")
    select.select([client.sock], [], [], WAIT_S)
    assert client.check_msg() == 0x30
    assert received == [b"late"]


def test_ping_response_is_consumed_by_wait_msg(mqtt_broker, clients):
    client = clients(mqtt_broker, keepalive=30)
    client.connect()
    wait_for_log(mqtt_broker, "as twin (p2, c1, k30)")  # MQTT 3.1.1, clean session, 30 s
    client.ping()
    assert wait_msg_within(client) is None
    client.ping()
    assert wait_msg_within(client) is None


def test_retained_message_reaches_later_subscriber(mqtt_broker, mqtt_subscriber, clients):
    client = clients(mqtt_broker)
    client.connect()
    client.publish(b"homeassistant/sensor/han/config", b'{"name": "power"}', retain=True)
    client.publish(b"plain", b"not kept")
    client.disconnect()
    sub = mqtt_subscriber(mqtt_broker, "homeassistant/#", "plain")
    got = sub.wait_for(1)
    assert [(m.topic, m.payload, m.retain) for m in got] == [
        ("homeassistant/sensor/han/config", b'{"name": "power"}', True)
    ]


def test_qos1_publish_returns_after_puback(mqtt_broker, mqtt_subscriber, clients):
    sub = mqtt_subscriber(mqtt_broker, "q", qos=1)
    client = clients(mqtt_broker)
    client.connect()
    for n in range(3):
        client.publish(b"q", b"m%d" % n, qos=1)
    assert client.pid == 3
    got = sub.wait_for(3)
    assert [(m.payload, m.qos) for m in got] == [(b"m0", 1), (b"m1", 1), (b"m2", 1)]


def test_qos1_publish_delivers_messages_that_arrive_before_puback(mqtt_broker, clients):
    received = []
    client = clients(mqtt_broker)
    client.set_callback(lambda topic, msg: received.append(msg))
    client.connect()
    client.subscribe(b"echo")
    client.publish(b"echo", b"to myself", qos=1)
    if not received:  # the broker may send PUBACK before our own copy
        wait_msg_within(client)
    assert received == [b"to myself"]


def test_qos2_publish_is_refused(mqtt_broker, clients):
    client = clients(mqtt_broker)
    client.connect()
    with pytest.raises(AssertionError):
        client.publish(b"t", b"m", qos=2)


def test_last_will_published_when_socket_drops(mqtt_broker, mqtt_subscriber, clients):
    sub = mqtt_subscriber(mqtt_broker, "han/status")
    client = clients(mqtt_broker, keepalive=60)
    client.set_last_will(b"han/status", b"offline", retain=True, qos=1)
    client.connect()
    client.publish(b"han/status", b"online", retain=True)
    client.sock.close()  # power cut: no DISCONNECT packet
    got = sub.wait_for(2)
    assert [(m.payload, m.retain) for m in got] == [(b"online", False), (b"offline", False)]
    late = mqtt_subscriber(mqtt_broker, "han/status")
    assert [(m.payload, m.retain) for m in late.wait_for(1)] == [(b"offline", True)]


def test_clean_disconnect_suppresses_last_will(mqtt_broker, mqtt_subscriber, clients):
    sub = mqtt_subscriber(mqtt_broker, "han/#")
    client = clients(mqtt_broker, client_id="willful")
    client.set_last_will(b"han/status", b"offline")
    client.connect()
    client.disconnect()
    wait_for_log(mqtt_broker, "Client willful disconnected.")
    mosquitto_pub(mqtt_broker, "han/marker", "after")
    got = sub.wait_for(1, topic="han/marker")
    assert got and [m.topic for m in sub.messages] == ["han/marker"]


def test_persistent_session_is_reported_on_reconnect(mqtt_broker, clients):
    client = clients(mqtt_broker, client_id="keeper")
    assert client.connect(clean_session=False) == 0
    client.disconnect()
    assert client.connect(clean_session=False) == 1
    client.disconnect()
    assert client.connect(clean_session=True) == 0


USERS = {"dongle": "s3cret"}


def test_good_credentials_connect(mqtt_broker_factory, mqtt_subscriber, clients):
    broker = mqtt_broker_factory(users=USERS)
    sub = mqtt_subscriber(broker, "auth", user="dongle", password="s3cret")
    client = clients(broker, user="dongle", password="s3cret")
    assert client.connect() == 0
    client.publish(b"auth", b"ok")
    assert [m.payload for m in sub.wait_for(1)] == [b"ok"]


@pytest.mark.parametrize(
    "user, password",
    [("dongle", "wrong"), ("nobody", "s3cret"), (None, None)],
    ids=["bad-password", "unknown-user", "anonymous"],
)
def test_refused_login_raises_mqtt_exception_with_connack_code(
    mqtt_broker_factory, clients, user, password
):
    broker = mqtt_broker_factory(users=USERS)
    client = clients(broker, user=user, password=password)
    with pytest.raises(MQTTException) as refused:
        client.connect()
    # mosquitto answers MQTT 3.1.1 logins it rejects with 5 (not authorised).
    assert refused.value.args == (5,)


def test_broker_down_gives_oserror(mqtt_broker, clients):
    mqtt_broker.stop()
    client = clients(mqtt_broker)
    with pytest.raises(OSError) as fault:
        client.connect()
    assert not isinstance(fault.value, MQTTException)


def test_broker_stop_surfaces_as_oserror_on_connected_client(mqtt_broker, clients):
    client = clients(mqtt_broker)
    client.set_callback(lambda topic, msg: None)
    client.connect()
    mqtt_broker.stop()
    with pytest.raises(OSError):
        wait_msg_within(client)
    with pytest.raises(OSError):
        for _ in range(100):  # the first writes may still land in the kernel's buffer
            client.publish(b"t", b"into the void")
            time.sleep(0.01)


def test_reconnect_after_broker_restart_works(mqtt_broker, mqtt_subscriber, clients):
    client = clients(mqtt_broker)
    client.connect()
    client.publish(b"r", b"before")
    mqtt_broker.restart()
    with pytest.raises(OSError):
        client.publish(b"r", b"lost", qos=1)
    sub = mqtt_subscriber(mqtt_broker, "r")
    assert client.connect() == 0
    client.publish(b"r", b"after", qos=1)
    assert [m.payload for m in sub.wait_for(1)] == [b"after"]
    assert mqtt_broker.starts == 2


@pytest.fixture
def tls_broker(mqtt_broker_factory, tmp_path):
    """An anonymous broker with a plain listener (.port) and a TLS one (.tls_port, .cert_pem)."""
    openssl = find_tool("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: run `make debs`")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-nodes", "-days", "2", "-subj", "/CN=localhost"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    tls_port = free_port()
    broker = mqtt_broker_factory(
        extra_conf=f"listener {tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}"
    )
    broker.tls_port = tls_port
    broker.cert_pem = cert.read_text()
    return broker


def verifying_context(cadata):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cadata:
        ctx.load_verify_locations(cadata=cadata)
    return ctx


@pytest.mark.parametrize(
    "make_ssl",
    [
        lambda pem: {"ssl": True},
        lambda pem: {"ssl": verifying_context(pem)},
        lambda pem: {
            "ssl": True,
            "ssl_params": {
                "cert_reqs": ssl.CERT_REQUIRED,
                "cadata": pem,
                "server_hostname": "127.0.0.1",
            },
        },
    ],
    ids=["unverified-like-device", "sslcontext", "ssl-params"],
)
def test_tls_connection_publishes(tls_broker, mqtt_subscriber, make_ssl):
    sub = mqtt_subscriber(tls_broker, "tls")
    client = MQTTClient("tls", "127.0.0.1", tls_broker.tls_port, **make_ssl(tls_broker.cert_pem))
    try:
        client.connect()
        client.publish(b"tls", b"secret", qos=1)
        client.disconnect()
    finally:
        client.sock.close()
    assert [m.payload for m in sub.wait_for(1)] == [b"secret"]


def test_untrusted_tls_certificate_gives_oserror(tls_broker):
    client = MQTTClient("tls", "127.0.0.1", tls_broker.tls_port, ssl=verifying_context(None))
    with pytest.raises(OSError) as fault:
        client.connect()
    assert isinstance(fault.value, ssl.SSLCertVerificationError)
