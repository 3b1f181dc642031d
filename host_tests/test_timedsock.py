"""A broker that goes silent costs the dongle's loop a bounded pause, never a hang."""

import socket
import sys
import threading

import pytest

import corpus

sys.path.insert(0, str(corpus.ROOT / "tools" / "hosttwin"))

import mqttclient  # noqa: E402
import mqttconnect  # noqa: E402
import timedsock  # noqa: E402
from test_umqtt_twin import tls_broker  # noqa: E402,F401  (the fixture)
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
    timedsock.limit(simple, socket, 1000)
    timedsock.limit(simple, socket, 2000)
    assert simple.socket._real is socket
    assert simple.socket.pass_ms == 2000
    assert simple.socket.AF_INET == socket.AF_INET


class FakeClock:
    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


class SlowResolver:
    """A `socket` module whose name lookups are counted and can fail."""

    SOCK_STREAM = socket.SOCK_STREAM

    def __init__(self):
        self.asked = []
        self.fail = False

    def getaddrinfo(self, host, port, *args):
        self.asked.append(host)
        if self.fail:
            raise OSError(-202, "no answer from the DNS servers")
        return [(2, 1, 0, "", ("192.0.2.7", port))]


def test_the_broker_name_is_looked_up_once_and_again_only_after_failures_rate_limited(
    monkeypatch,
):
    clock = FakeClock()
    monkeypatch.setattr(mqttconnect, "ticks_ms", clock)
    resolver = SlowResolver()
    sockets = timedsock.Sockets(resolver, 1000)
    assert mqttconnect.lookup_due(sockets, "broker.lan", 1883)
    mqttconnect.lookup(sockets, "broker.lan", 1883)
    assert sockets.getaddrinfo("broker.lan", 1883)[0][-1] == ("192.0.2.7", 1883)
    assert resolver.asked == ["broker.lan"]  # umqtt.simple's own lookup came from the cache
    clock.now = 10 * mqttconnect.LOOKUP_MIN_MS
    assert not mqttconnect.lookup_due(sockets, "broker.lan", 1883)  # it works: never again
    sockets.stale = True  # a connect failed
    assert mqttconnect.lookup_due(sockets, "broker.lan", 1883)
    resolver.fail = True
    mqttconnect.lookup(sockets, "broker.lan", 1883)  # no answer: the old address stays
    assert sockets.getaddrinfo("broker.lan", 1883)[0][-1] == ("192.0.2.7", 1883)
    clock.now += mqttconnect.LOOKUP_MIN_MS - 1
    assert not mqttconnect.lookup_due(sockets, "broker.lan", 1883)  # at most once a minute
    clock.now += 1
    assert mqttconnect.lookup_due(sockets, "broker.lan", 1883)
    assert not mqttconnect.lookup_due(sockets, "192.168.1.10", 1883)  # an address needs no lookup


def test_a_failed_first_lookup_raises():
    resolver = SlowResolver()
    resolver.fail = True
    sockets = timedsock.Sockets(resolver, 1000)
    with pytest.raises(OSError):
        mqttconnect.lookup(sockets, "broker.lan", 1883)
    assert mqttconnect.lookup_due(sockets, "broker.lan", 1883)


def test_the_pass_budget_follows_the_uart_buffer():
    # 4096 bytes at 2400 baud, 11 bits a byte, fill in 18.8 s; a pass may take 3/4 of that
    assert timedsock.stall_ms(4096, 2400) == 14080
    assert timedsock.stall_ms(4096, 9600) == 3520
    budget = timedsock.Sockets(socket, timedsock.stall_ms(4096, 2400))
    assert budget.op_ms == 5000
    assert budget.left_s() == 5.0


def test_a_spent_budget_fails_the_next_blocking_operation(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(timedsock, "ticks_ms", clock)
    budget = timedsock.Sockets(socket, 3000, 5000)
    budget.start()
    assert budget.left_s() == 3.0
    clock.now = 2500
    assert budget.left_s() == 0.5
    clock.now = 3000
    with pytest.raises(OSError):
        budget.left_s()


def test_tls_reads_are_bounded_when_the_broker_freezes(tls_broker):
    # CPython's SSL socket, like MicroPython's, turns setblocking(True) into "wait forever".
    client = mqttclient.ClientFactory(
        mqtt_cfg(tls_broker.tls_port, tls=True), "tls-freeze", timeout_s=1
    )()
    client.connect()
    assert client.check_msg() is None
    tls_broker.pause()
    try:
        client.ping()
        assert isinstance(raised_within(client.wait_msg, 10), OSError)
    finally:
        tls_broker.resume()


def test_an_auto_line_budgets_for_the_han_ports_2400_baud():
    make = mqttclient.ClientFactory(mqtt_cfg(1883), "auto", baud="auto")
    assert make.sockets.pass_ms == timedsock.stall_ms(4096, 2400)
