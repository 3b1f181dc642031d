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


class SlowBroker:
    """Accepts connections; answers CONNACK after `connack_s` (never when None), then nothing
    more: no SUBACK, no PINGRESP."""

    def __init__(self, connack_s):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.connack_s = connack_s
        self.conns = []
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            conn.recv(1024)
            if self.connack_s is not None and not self._stop.wait(self.connack_s):
                conn.sendall(b"\x20\x02\x00\x00")
        except OSError:
            pass

    def close(self):
        self._stop.set()
        self.listener.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def slow_broker():
    made = []

    def make(connack_s):
        made.append(SlowBroker(connack_s))
        return made[-1]

    yield make
    for broker in made:
        broker.close()


def test_tls_reads_are_bounded_as_on_the_board(umqtt, slow_broker):
    # modtls_mbedtls.c passes setblocking(True) to the TCP socket: without the wrap, wait_msg()
    # after check_msg() waits forever for a broker that says nothing more.
    broker = slow_broker(0)
    args = {"host": "127.0.0.1", "port": broker.port, "tls": True, "user": "", "password": "",
            "keepalive_s": 60, "client_id": "tls", "timeout_s": 2}
    try:
        result = mpunix.run("mp_tls_probe.py", json.dumps(args), umqtt=umqtt, timeout=45)
    except subprocess.TimeoutExpired:
        pytest.fail("wait_msg() over TLS blocked for more than 45 s")
    assert result.returncode == 0, result.stderr
    outcome, took_ms, error = result.stdout.split(None, 2)
    assert outcome == "error" and error.startswith("OSError"), result.stdout
    assert 1500 <= int(took_ms) < 20000


def stall_probe(umqtt, port, baud, run_ms, host="localhost"):
    args = {"host": host, "port": port, "tls": False, "user": "", "password": "",
            "keepalive_s": 60, "uart_baud": baud, "run_ms": run_ms}
    try:
        result = mpunix.run("mp_stall_probe.py", json.dumps(args), umqtt=umqtt,
                            timeout=run_ms / 1000 + 60)
    except subprocess.TimeoutExpired:
        pytest.fail("a publisher pass blocked for more than a minute")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_pass_blocks_longer_than_the_uart_buffer_lasts(umqtt, slow_broker):
    # At 9600 baud the 4096-byte UART buffer fills in 4.7 s. A broker that takes 2 s to accept
    # the session and never confirms the subscription made one pass block for 2 s + 5 s.
    broker = slow_broker(2)
    got = stall_probe(umqtt, broker.port, 9600, 12000)
    buffer_ms = 4096 * 11 * 1000 // 9600
    assert got["failures"] >= 2, got
    assert got["longest_ms"] < buffer_ms, got
    assert got["pass_ms"] == 3520
    # "localhost" was looked up once, in a pass that did nothing else; the retries used it.
    assert got["lookups"] == 1, got
