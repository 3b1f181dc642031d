"""A broker that goes silent costs the dongle's loop a bounded pause, never a hang."""

import socket
import sys
import threading

import pytest

import corpus

sys.path.insert(0, str(corpus.ROOT / "tools" / "hosttwin"))

import mqttclient  # noqa: E402
import timedsock  # noqa: E402
from umqtt import simple  # noqa: E402

CONNACK = b"\x20\x02\x00\x00"


def mqtt_cfg(port, tls=False):
    return {"host": "127.0.0.1", "port": port, "tls": tls, "user": "", "password": "",
            "keepalive_s": 60}


class FakeBroker:
    """Accepts connections; answers CONNACK only if told to, then says nothing more."""

    def __init__(self, connack):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.connack = connack
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.connack:
                conn.recv(1024)
                conn.sendall(CONNACK)

    def close(self):
        for conn in self.conns:
            conn.close()
        self.listener.close()


def raised_within(call, seconds):
    """The exception call() raised, failing the test if it ran longer than `seconds`."""
    outcome = []

    def run():
        try:
            call()
            outcome.append(None)
        except Exception as err:  # the OSError we expect, or anything else to report
            outcome.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "blocked for more than %s s" % seconds
    return outcome[0]


@pytest.fixture
def silent_broker():
    broker = FakeBroker(connack=False)
    yield broker
    broker.close()


@pytest.fixture
def quiet_broker():
    broker = FakeBroker(connack=True)
    yield broker
    broker.close()


def test_connect_to_a_broker_that_never_answers_fails_in_bounded_time(silent_broker):
    make = mqttclient.ClientFactory(mqtt_cfg(silent_broker.port), "t1", timeout_s=0.5)
    client = make()
    assert isinstance(raised_within(client.connect, 3), OSError)


def test_blocking_reads_after_check_msg_are_bounded(quiet_broker):
    client = mqttclient.ClientFactory(mqtt_cfg(quiet_broker.port), "t2", timeout_s=0.5)()
    client.connect()
    assert client.check_msg() is None  # non-blocking: nothing there
    # umqtt.simple switched the socket back to "blocking": still bounded
    assert isinstance(raised_within(client.wait_msg, 3), OSError)


def test_limit_is_idempotent_and_keeps_the_real_module():
    timedsock.limit(simple, socket, 1)
    timedsock.limit(simple, socket, 2)
    assert simple.socket._real is socket
    assert simple.socket.getaddrinfo is socket.getaddrinfo


def test_tls_sockets_are_not_wrapped_but_start_limited():
    timedsock.limit(simple, socket, 1.5, tls=True)
    sock = simple.socket.socket()
    try:
        assert isinstance(sock, socket.socket) and sock.gettimeout() == 1.5
    finally:
        sock.close()
        timedsock.limit(simple, socket)
