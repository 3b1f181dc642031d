"""Password guessing against the running app: slowed down per client, the owner still gets in,
and the log says it in a few lines (issue 9, item 15)."""

import http.client

import pytest
from webhost import AUTH, Dongle

WRONG = "Basic YWRtaW46d3Jvbmc="  # admin:wrong


@pytest.fixture
def dongle(tmp_path):
    d = Dongle(tmp_path)
    yield d
    d.stop()


def get_from(dongle, source, auth):
    conn = http.client.HTTPConnection(
        "127.0.0.1", dongle.port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request("GET", "/api/v1/config", headers={"Authorization": auth})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Retry-After")
    finally:
        conn.close()


def test_guessing_is_slowed_down_and_the_owner_still_gets_in(dongle):
    answers = [get_from(dongle, "127.0.0.1", WRONG) for _ in range(40)]
    statuses = [status for status, _ in answers]
    assert statuses[:4] == [401] * 4  # a few mistakes cost nothing
    assert statuses.count(401) <= 8  # then 1, 2, 4, 8 ... s between tries: not 40 guesses
    assert statuses.count(429) >= 32
    assert all(int(wait) >= 1 for status, wait in answers if status == 429)
    # The owner on their own device is not locked out.
    assert get_from(dongle, "127.0.0.2", AUTH)[0] == 200
    counters = dongle.json("/api/v1/status")["counters"]
    assert counters["http_wrong_passwords"] == statuses.count(401)
    assert counters["http_auth_throttled"] == statuses.count(429)
    dongle.stop()
    lines = [line for line in dongle.out_path.read_text().splitlines() if "wrong password" in line]
    assert 1 <= len(lines) <= 4, lines  # a summary, not a line per try
