"""Setup mode: when the access point opens and closes, the DNS responder, the captive redirects.

The portal's decisions run against the `network` host twin with a fake clock; the DNS responder
answers real UDP queries on 127.0.0.1 (written in hex below); the captive-portal redirects are
checked over HTTP against run_host started without Wi-Fi settings (`--setup`).
"""

import socket
import struct
import sys

import pytest
from webhost import ROOT, Dongle, free_port

for sub in ("firmware", "tools/hosttwin"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

from web import dnsd  # noqa: E402
import network  # noqa: E402
from web import portal  # noqa: E402
from wifi import WiFi  # noqa: E402

# A standard query for connectivitycheck.gstatic.com, type A, class IN.
QUERY_A = bytes.fromhex(
    "1a2b"  # id
    "0100"  # flags: standard query, recursion desired
    "0001 0000 0000 0000".replace(" ", "")  # one question, no other records
    + "11" + b"connectivitycheck".hex()  # label "connectivitycheck"
    + "07" + b"gstatic".hex()  # label "gstatic"
    + "03" + b"com".hex()  # label "com"
    + "00"  # end of name
    "0001"  # qtype A
    "0001"  # qclass IN
)
QUERY_AAAA = QUERY_A[:-4] + bytes.fromhex("001c0001")  # same name, type AAAA


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


class Button:
    def __init__(self):
        self.held = False

    def pressed(self):
        return self.held


class FakeSocket:
    def __init__(self):
        self.closed = False

    def recvfrom(self, n):
        raise OSError(11)  # EAGAIN: nothing waiting

    def close(self):
        self.closed = True


def make_portal(ssid="home"):
    clock = Clock()
    wifi = WiFi(network.WLAN(network.STA_IF), ssid, "pw", clock=clock)
    ap = network.WLAN(network.AP_IF)
    button = Button()
    sockets = []

    def dns_socket():
        sockets.append(FakeSocket())
        return sockets[-1]

    p = portal.Portal(ap, wifi, "a1b2c3d4e5f6", button, clock, dns_socket)
    return p, clock, wifi, ap, button, sockets


def test_no_wifi_configured_opens_the_access_point_at_once():
    p, clock, wifi, ap, _, sockets = make_portal(ssid="")
    p.step()
    assert p.open and p.reason == "no_wifi"
    assert ap.active() and ap.config("ssid") == "hanport-d4e5f6"
    assert ap._config["key"] == portal.AP_PASSWORD and len(portal.AP_PASSWORD) >= 8
    assert p.dns is not None and p.dns.ip == bytes([127, 0, 0, 1])  # the twin's address


def test_ssid_is_unique_per_device():
    assert portal.ap_ssid("000000a1b2c3") != portal.ap_ssid("000000a1b2c4")


def test_button_held_for_three_seconds_opens_setup_mode():
    p, clock, wifi, ap, button, _ = make_portal()
    wifi.step()
    wifi.step()
    button.held = True
    p.step()
    clock.ms = portal.HOLD_MS - 100
    p.step()
    assert not p.open  # a short press does nothing
    button.held = False
    clock.ms += 200
    p.step()
    button.held = True
    clock.ms += 100
    p.step()
    clock.ms += portal.HOLD_MS
    p.step()
    assert p.open and p.reason == "button"


def test_network_lost_for_a_while_opens_setup_mode_and_closes_after_rejoining():
    p, clock, wifi, ap, _, sockets = make_portal()
    wifi.step()
    wifi.step()
    assert wifi.up
    network.WLAN.link_up = False
    try:
        for _ in range(portal.GIVE_UP_MS // 1000 - 1):
            clock.ms += 1000
            wifi.step()
            p.step()
        assert not p.open  # not yet: a short outage does not open it
        clock.ms += 2000
        wifi.step()
        p.step()
        assert p.open and p.reason == "wifi_failed"
    finally:
        network.WLAN.link_up = True
    # The network is back: the access point stays a while, then closes.
    for _ in range(200):
        clock.ms += 1000
        wifi.step()
        p.step()
        if not p.open:
            break
    assert not p.open and not ap.active() and sockets[0].closed
    assert p.opens == 1


def test_station_joins_are_held_while_a_phone_is_on_the_access_point():
    # One radio: a station scanning for the lost network would drop the phone from the AP.
    p, clock, wifi, ap, _, _ = make_portal()
    sta = wifi.wlan
    wifi.step()
    network.WLAN.link_up = False
    try:
        while not p.open:
            clock.ms += 1000
            wifi.step()
            p.step()
        ap.stations = [(b"\x02phone",)]
        clock.ms += 1000
        p.step()
        assert wifi.held
        disconnects = []
        stop = sta.disconnect
        sta.disconnect = lambda: (disconnects.append(clock.ms), stop())
        joins = sta.connects
        for _ in range(300):  # five minutes with the phone on the setup page
            clock.ms += 1000
            wifi.step()
            p.step()
        assert sta.connects == joins  # no join, no scan
        assert len(disconnects) == 1  # the driver's own reconnecting stopped, once
        assert p.open
    finally:
        network.WLAN.link_up = True
    ap.stations = []  # the phone left: the station tries again, and setup mode closes
    for _ in range(200):
        clock.ms += 1000
        wifi.step()
        p.step()
        if not p.open:
            break
    assert sta.connects > joins and wifi.up and not p.open and not wifi.held


def test_a_working_link_is_not_dropped_when_a_phone_joins():
    p, clock, wifi, ap, button, _ = make_portal()
    wifi.step()
    assert wifi.up
    button.held = True  # setup mode by the button, with the station up
    for _ in range(5):
        clock.ms += 1000
        p.step()
    assert p.open
    ap.stations = [(b"\x02phone",)]
    clock.ms += 1000
    p.step()
    wifi.step()
    assert wifi.held and wifi.up and wifi.wlan.isconnected()


# --- the DNS responder on a real UDP socket ---


@pytest.fixture
def responder():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    r = dnsd.DNSResponder(sock, "192.168.4.1")
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(2)
    yield r, client, sock.getsockname()
    client.close()
    r.close()


def ask(r, client, where, query):
    client.sendto(query, where)
    for _ in range(100):
        if r.poll():
            break
    return client.recvfrom(600)[0]


def test_every_a_question_is_answered_with_the_access_point_address(responder):
    r, client, where = responder
    answer = ask(r, client, where, QUERY_A)
    ident, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", answer[:12])
    assert ident == 0x1A2B and flags == 0x8580  # response, authoritative, RD, RA, NOERROR
    assert (qd, an, ns, ar) == (1, 1, 0, 0)
    assert answer[12 : len(QUERY_A)] == QUERY_A[12:]  # the question, echoed
    rr = answer[len(QUERY_A) :]
    assert rr[:2] == b"\xc0\x0c"  # name: pointer to the question
    assert struct.unpack(">HHIH", rr[2:12]) == (1, 1, 60, 4)
    assert socket.inet_ntoa(rr[12:16]) == "192.168.4.1"
    assert r.answered == 1


def test_other_types_get_an_empty_answer(responder):
    r, client, where = responder
    answer = ask(r, client, where, QUERY_AAAA)
    assert struct.unpack(">HH", answer[6:10]) == (0, 0) and answer[3] & 0x0F == 0
    assert len(answer) == len(QUERY_AAAA)


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        QUERY_A[:11],  # shorter than a header
        QUERY_A[:-3],  # question cut short
        QUERY_A[:2] + b"\x81\x80" + QUERY_A[4:],  # an answer, not a question
        QUERY_A[:4] + b"\x00\x02" + QUERY_A[6:],  # two questions
        QUERY_A[:12] + b"\x50" + QUERY_A[13:],  # label length 80 > 63
        QUERY_A + b"\x00" * 600,  # longer than a UDP DNS packet
    ],
)
def test_malformed_queries_are_dropped_and_counted(packet):
    r = dnsd.DNSResponder(FakeSocket(), "10.0.0.1")
    assert r.reply(packet) is None


def test_responder_keeps_answering_after_garbage(responder):
    r, client, where = responder
    client.sendto(b"\x00\x01garbage", where)
    for _ in range(20):
        r.poll()
    assert r.malformed == 1
    assert ask(r, client, where, QUERY_A)[-4:] == bytes([192, 168, 4, 1])


# --- the whole dongle in setup mode, over HTTP and DNS ---


@pytest.fixture(scope="module")
def setup_dongle(tmp_path_factory):
    dns_port = free_port(socket.SOCK_DGRAM)
    d = Dongle(tmp_path_factory.mktemp("setup"), extra=["--setup", "--dns-port", str(dns_port)])
    d.dns_port = dns_port
    d.wait_for(lambda: d.json("/api/v1/status")["setup"]["setup_mode"], what="setup mode")
    yield d
    d.stop()


@pytest.mark.parametrize(
    "path, host",
    [
        ("/generate_204", "connectivitycheck.gstatic.com"),  # Android
        ("/hotspot-detect.html", "captive.apple.com"),  # iOS, macOS
        ("/connecttest.txt", "www.msftconnecttest.com"),  # Windows
        ("/", "example.com"),  # any name that is not ours
    ],
)
def test_connectivity_checks_are_sent_to_the_settings_page(setup_dongle, path, host):
    status, headers, _ = setup_dongle.get(path, headers={"Host": host})
    assert status == 302
    assert headers["location"] == "http://127.0.0.1:{}/settings".format(setup_dongle.port)


def test_setup_mode_still_serves_the_page_and_api_by_address(setup_dongle):
    assert setup_dongle.get("/")[0] == 200
    status = setup_dongle.json("/api/v1/status")
    assert status["setup"]["setup_reason"] == "no_wifi"
    assert status["setup"]["ap_ssid"].startswith("hanport-")
    assert status["counters"]["frames_ok"] > 0  # the meter is read in setup mode too


def test_dongle_answers_dns_with_its_own_address(setup_dongle):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(3)
        client.sendto(QUERY_A, ("127.0.0.1", setup_dongle.dns_port))
        answer = client.recvfrom(600)[0]
    assert answer[:2] == QUERY_A[:2] and answer[-4:] == bytes([127, 0, 0, 1])


def test_an_idle_dns_responder_allocates_nothing_in_micropython():
    # Setup mode polls every 50 ms: a recvfrom() on the empty socket cost a 513-byte buffer
    # and an OSError each time.
    import json

    import mpunix

    result = mpunix.run("mp_dns_probe.py", free_port(socket.SOCK_DGRAM), timeout=60)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["answer_len"] == len(QUERY_A) + 16  # the question and one A record
    assert got["idle_bytes"] <= 64, got  # 100 polls
