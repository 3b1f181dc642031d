"""The broker's name looked up without blocking (firmware/resolve.py, mqttconnect.lookup).

Against a DNS responder on 127.0.0.1 (dnsresponder.py): an answer, a CNAME chain with compressed
names, no answer at all (the lookup ends after its bound and no poll blocks), garbage (counted,
never a crash), NXDOMAIN, mDNS for `.local`; in CPython and in the real 32-bit MicroPython, whose
heap cost is measured; and the app in MicroPython reaching mosquitto by a name only the responder
knows.
"""

import json
import os
import random
import socket
import subprocess
import sys
import time

import mpunix
import mqttconnect
import pytest
import resolve
import timedsock
from dnsresponder import Responder

sys.path.insert(0, str(mpunix.ROOT / "tools"))
import run_mp  # noqa: E402


@pytest.fixture
def responder():
    made = []

    def make(mode="answer"):
        made.append(Responder(mode))
        return made[-1]

    yield make
    for one in made:
        one.close()


def server_of(resp):
    return ("127.0.0.1", resp.port, ("127.0.0.1", resp.port))


def run_query(resp, name):
    """Polls a Query until it ends: (address or the OSError, longest poll in ms, the query)."""
    query = resolve.Query(socket, name, server_of(resp))
    longest = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            start = time.monotonic()
            try:
                found = query.poll()
            except OSError as exc:
                return exc, longest, query
            longest = max(longest, time.monotonic() - start)
            if found is not None:
                return found, longest, query
            time.sleep(0.01)
    finally:
        query.close()
    raise AssertionError("the query never ended")


def test_an_answer_gives_the_address(responder):
    resp = responder("answer")
    found, _, _ = run_query(resp, "broker.test")
    assert found == "127.0.0.1"
    query = resp.queries[0]
    assert query[2] & 0x01  # recursion desired
    assert b"\x06broker\x04test\x00\x00\x01\x00\x01" in query


def test_a_cname_chain_gives_the_first_a_record(responder):
    resp = responder("cname")
    resp.address = b"\x0a\x01\x02\x03"
    found, _, query = run_query(resp, "broker.test")
    assert found == "10.1.2.3" and query.malformed == 0


def test_no_such_name_fails_at_once(responder):
    resp = responder("nxdomain")
    found, _, _ = run_query(resp, "broker.test")
    assert isinstance(found, OSError) and len(resp.queries) == 1


def test_no_answer_fails_after_the_bound_and_no_poll_blocks(responder):
    resp = responder("silent")
    begin = time.monotonic()
    found, longest, _ = run_query(resp, "broker.test")
    took = time.monotonic() - begin
    assert isinstance(found, OSError)
    assert len(resp.queries) == len(resolve.RETRY_MS)  # asked again, a bounded number of times
    # The query counts whole ms ticks from a tick read after `begin`: it can give up up to one
    # tick (1 ms) before TOTAL_MS of real time has passed (4.9996 s seen in a full run).
    assert (resolve.TOTAL_MS - 1) / 1000 <= took < resolve.TOTAL_MS / 1000 + 30
    assert longest < 0.5  # generous for a loaded machine: a poll only looks and returns


def test_garbage_is_counted_and_never_crashes(responder):
    resp = responder("garbage")
    found, _, query = run_query(resp, "broker.test")
    assert isinstance(found, OSError)  # nothing readable came: no answer in time
    assert query.malformed == len(resp.queries) >= 3


def test_a_local_name_is_asked_once_by_mdns_with_the_qu_bit(responder):
    resp = responder("answer")
    found, _, _ = run_query(resp, "hub.local")
    assert found == "127.0.0.1"
    resp.mode = "silent"
    found, _, _ = run_query(resp, "hub.local")
    assert isinstance(found, OSError) and len(resp.queries) == 2  # one each: no retries
    query = resp.queries[0]
    assert query[2] & 0x01 == 0  # no recursion in mDNS
    assert query.endswith(b"\x03hub\x05local\x00\x00\x01\x80\x01")  # QU: unicast answer


def test_any_damage_to_an_answer_is_malformed_or_an_error_never_a_crash():
    resp = Responder.__new__(Responder)  # its reply() alone, no socket
    resp.mode, resp.address, resp._garbage = "cname", b"\x7f\x00\x00\x01", 0
    good = resp.reply(bytes(resolve.question(0x1234, "broker.test")))
    assert resolve.answer(good, 0x1234) == "127.0.0.1"
    rng = random.Random(7)
    for n in range(3000):
        bad = bytearray(good)
        if n % 3 == 0:
            bad = bad[: rng.randrange(len(bad))]
        for _ in range(1 + n % 4):
            if bad:
                bad[rng.randrange(len(bad))] = rng.randrange(256)
        try:
            got = resolve.answer(bytes(bad), 0x1234)
        except (resolve.Malformed, OSError):
            continue
        assert got is None or len(got.split(".")) == 4


def test_sockets_keep_the_address_and_retry_at_most_once_a_minute(responder, monkeypatch):
    monkeypatch.setattr(resolve, "TOTAL_MS", 500)  # CPython: the bound is a plain global
    clock = [0]
    monkeypatch.setattr(mqttconnect, "ticks_ms", lambda: clock[0])
    resp = responder("answer")
    server = server_of(resp)
    sockets = timedsock.Sockets(socket, 1000)
    assert mqttconnect.lookup_due(sockets, "broker.test", 1883)
    deadline = time.monotonic() + 60
    while mqttconnect.lookup(sockets, "broker.test", 1883, server):  # True while the answer is awaited
        assert mqttconnect.lookup_due(sockets, "broker.test", 1883)
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert sockets.getaddrinfo("broker.test", 1883)[0][-1] == ("127.0.0.1", 1883)
    assert sockets.lookups == 1 and not mqttconnect.lookup_due(sockets, "broker.test", 1883)
    resp.mode = "silent"
    sockets.stale = True
    clock[0] = mqttconnect.LOOKUP_MIN_MS
    assert mqttconnect.lookup_due(sockets, "broker.test", 1883)
    while mqttconnect.lookup(sockets, "broker.test", 1883, server):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert sockets.getaddrinfo("broker.test", 1883)[0][-1] == ("127.0.0.1", 1883)  # kept
    assert not mqttconnect.lookup_due(sockets, "broker.test", 1883)
    clock[0] += mqttconnect.LOOKUP_MIN_MS
    assert mqttconnect.lookup_due(sockets, "broker.test", 1883) and sockets.lookups == 2


def test_a_first_lookup_without_an_answer_raises(responder, monkeypatch):
    monkeypatch.setattr(resolve, "TOTAL_MS", 300)
    resp = responder("silent")
    sockets = timedsock.Sockets(socket, 1000)
    deadline = time.monotonic() + 60
    with pytest.raises(OSError):
        while mqttconnect.lookup(sockets, "broker.test", 1883, server_of(resp)):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    assert mqttconnect.lookup_due(sockets, "broker.test", 1883)


def mp_probe(resp, host, pass_ms=3520):
    """The probe in the 32-bit MicroPython, the firmware as .mpy as on the board (heap figures)."""
    interp = mpunix.require()
    args = {"host": host, "dns_port": resp.port, "pass_ms": pass_ms}
    path = ":".join([str(mpunix.STUBS), ".frozen", run_mp.compile_firmware(), str(mpunix.FIRMWARE)])
    result = subprocess.run(
        [interp, "-X", "heapsize=96k", str(mpunix.ROOT / "host_tests" / "mp_resolve_probe.py"),
         json.dumps(args)],
        env=dict(os.environ, MICROPYPATH=path), capture_output=True, text=True, timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["answer", "cname"])
def test_micropython_resolves_and_states_its_heap(responder, mode):
    mpunix.require()
    resp = responder(mode)
    got = mp_probe(resp, "broker.test")
    print(got)
    assert got.get("address") == "127.0.0.1", got
    assert got["numeric_bytes"] < 64, got  # nothing imported, nothing kept
    assert got["heap_after"] < 400, got  # the kept address; the module is dropped
    assert not got["resolve_loaded"], got
    print("heap while resolving", got["heap_resolving"], "after", got["heap_after"])


def test_micropython_without_an_answer_never_stalls_and_gives_up(responder):
    mpunix.require()
    resp = responder("silent")
    # 9600 baud: the pass budget is 3520 ms; the getaddrinfo of old waited up to 5 s + 7 s.
    got = mp_probe(resp, "broker.test", pass_ms=3520)
    print(got)
    assert "error" in got and "OSError" in got["error"], got
    assert got["longest_ms"] < 3520, got
    assert resolve.TOTAL_MS <= got["took_ms"] < resolve.TOTAL_MS + 30000, got
    assert len(resp.queries) == len(resolve.RETRY_MS)
    assert got["polls"] > 1 and got["heap_resolving"] < 4000, got  # module, query, socket
    assert not got["resolve_loaded"], got


def test_micropython_counts_garbage(responder):
    mpunix.require()
    resp = responder("garbage")
    got = mp_probe(resp, "hub.local")
    assert "error" in got, got
    assert got["malformed"] == len(resp.queries) == 1, got
    assert got["longest_ms"] < 3520, got


def test_the_app_reaches_mosquitto_by_a_name_only_the_responder_knows(
    tmp_path, responder, mqtt_broker, mqtt_subscriber, monkeypatch
):
    from mphost import MpDongle, device_config

    mpunix.require()
    resp = responder("answer")
    monkeypatch.setenv("HANPORT_DNS_PORT", str(resp.port))  # the twin WLAN's DNS server
    sub = mqtt_subscriber(mqtt_broker, "hanport/#")
    cfg = device_config(mqtt_broker, http=False)
    cfg["mqtt"]["host"] = "broker.hanport.test"  # no DNS but the responder knows it
    d = MpDongle(tmp_path, cfg, "aidon", speed=20, start="2024-03-01T12:59:35")
    try:
        d.wait_for(
            lambda: any(m.topic.endswith("/state") for m in sub.messages),
            timeout=90,
            what="a state at the broker",
        )
        d.assert_clean()
    finally:
        d.stop()
    assert any(b"\x06broker\x07hanport\x04test\x00" in q for q in resp.queries)


def test_the_publisher_never_stalls_on_a_dns_server_that_never_answers(responder):
    # At 9600 baud a pass may block 3520 ms; getaddrinfo used to wait 5 s and more per server.
    mpunix.require("1.8.0")
    resp = responder("silent")
    args = {"host": "broker.test", "port": 1883, "tls": False, "user": "", "password": "",
            "keepalive_s": 60, "uart_baud": 9600, "run_ms": 12000, "dns_port": resp.port}
    result = mpunix.run("mp_stall_probe.py", json.dumps(args), umqtt="1.8.0", timeout=120)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    print(got)
    assert got["pass_ms"] == 3520 and got["longest_ms"] < 3520, got
    # Each lookup ends after its bound and fails the pass; the publisher tries again later.
    assert 2 <= got["lookups"] <= 3, got
    assert got["lookups"] - 1 <= got["failures"] <= got["lookups"], got  # the last may go on
    assert len(resp.queries) >= len(resolve.RETRY_MS) * 2
