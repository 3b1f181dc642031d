"""The firmware's MQTT client in the real MicroPython with the real umqtt.simple 1.4.0 and 1.8.0.

Why: the twin in tools/hosttwin/umqtt is kinder than the modules frozen into the ESP32 firmware
(it encodes str before taking lengths, tolerates a None password, has no settimeout in connect).
These tests run mqttclient.ClientFactory unchanged in the 32-bit unix port (mpunix.py) against a real
mosquitto, so the defects the board would show show here too.
"""

import json
import socket
import subprocess
import threading

import pytest

import mpunix

pytestmark = pytest.mark.parametrize("umqtt", mpunix.UMQTT_VERSIONS)


def probe(umqtt, broker_port, timeout=60, **settings):
    args = {"host": "127.0.0.1", "port": broker_port, "tls": False, "user": "",
            "password": "", "keepalive_s": 60, "client_id": "probe", "topic": "hanport/t/status"}
    args.update(settings)
    result = mpunix.run("mp_mqtt_probe.py", json.dumps(args), umqtt=umqtt, timeout=timeout)
    assert result.returncode == 0, result.stderr
    words = result.stdout.split(None, 2)
    return words[0], int(words[1]), words[2].strip() if len(words) > 2 else ""


def test_a_user_with_an_empty_password_connects(umqtt, mqtt_broker, mqtt_subscriber):
    # mosquitto 2 refuses an empty password from its password file, so an open broker takes
    # the user: what matters is that the CONNECT with user and empty password is built and sent.
    sub = mqtt_subscriber(mqtt_broker, "hanport/#")
    outcome, _, error = probe(umqtt, mqtt_broker.port, user="hanport", password="")
    assert outcome == "ok", error
    got = sub.wait_for(1, timeout=10)
    assert [(m.topic, m.payload) for m in got] == [("hanport/t/status", b"online")]
    assert "u'hanport'" in mqtt_broker.log


@pytest.fixture
def silent_server():
    """A TCP server that accepts every connection and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held = []

    def serve():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()
    for conn in held:
        conn.close()


def test_a_broker_that_never_answers_costs_one_bounded_pause(umqtt, silent_server):
    # umqtt.simple 1.5+ calls sock.settimeout(None) in connect(): that must not mean "forever".
    try:
        outcome, took_ms, error = probe(umqtt, silent_server, timeout=45, timeout_s=5)
    except subprocess.TimeoutExpired:
        pytest.fail("connect() blocked for more than 45 s against a silent broker")
    assert outcome == "error" and error.startswith("OSError"), error
    assert 4000 <= took_ms < 20000  # TIMEOUT_S is 5 s; a busy machine may stretch it


def test_non_ascii_prefix_client_id_and_password_connect(
    umqtt, mqtt_broker_factory, mqtt_subscriber
):
    # umqtt.simple measures str in characters; the broker counts UTF-8 bytes.
    broker = mqtt_broker_factory(users={"målar": "pässord", "reader": "r"})
    sub = mqtt_subscriber(broker, "hjem/måler/#", user="reader", password="r")
    outcome, _, error = probe(
        umqtt, broker.port, user="målar", password="pässord", client_id="hanport-ø",
        topic="hjem/måler/t/status",
    )
    assert outcome == "ok", error
    got = sub.wait_for(1, timeout=10)
    assert [(m.topic, m.payload) for m in got] == [("hjem/måler/t/status", b"online")]
