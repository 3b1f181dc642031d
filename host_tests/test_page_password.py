"""No shared default password (issue 9 item 16): the owner chooses the page's password.

Until one is set, the settings, config and update endpoints answer only in setup mode and only
to clients of the dongle's own access point (the host twin's access point is 127.0.0.1/8, so
the tests' requests come from it); the readings stay open. Checked over HTTP against run_host
started with `--page-password ""`, as a new dongle starts, and on the routes' rule directly.
"""

import base64
import json
import sys

import pytest
from webhost import ROOT, Dongle

for sub in ("firmware", "tools/hosttwin"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

import config  # noqa: E402
from web import admin, routes  # noqa: E402

CLOSED = ("/settings", "/api/v1/config", "/api/v1/update")


def basic(user, password):
    return "Basic " + base64.b64encode("{}:{}".format(user, password).encode()).decode()


def post(d, body, auth=None):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    return d.get("/api/v1/config", method="POST", body=json.dumps(body).encode(), headers=headers)


def test_defaults_have_no_password_and_the_old_shared_one_is_refused(tmp_path):
    assert config.defaults()["http"]["password"] == ""
    assert "choose your own" in config.check_value("http.password", "hanport")
    with pytest.raises(ValueError, match="must not be empty"):
        config.parse("http.password", "")
    path = str(tmp_path / "config.json")
    old = config.defaults()
    old["http"]["password"] = "hanport"  # a dongle set up before there was no default
    with open(path, "w") as f:
        json.dump(old, f)
    cfg, problems = config.load(path)
    assert cfg["http"]["password"] == "" and any("choose your own" in p for p in problems)
    config.save(config.defaults(), path)  # the unset password is saved as "" and loads quietly
    assert config.load(path) == (config.defaults(), [])


def test_without_a_password_the_settings_are_closed_outside_setup_mode(tmp_path):
    d = Dongle(tmp_path, extra=["--page-password", ""])
    try:
        for path in CLOSED:
            status, _, body = d.get(path)
            assert status == 403 and b"setup mode" in body, path
        assert post(d, {"wifi": {"ssid": "x"}})[0] == 403
        assert d.get("/api/v1/update/begin?bytes=9", method="POST", body=b"")[0] == 403
        assert d.get("/api/v1/reading")[0] == 200 and d.get("/api/v1/status")[0] == 200
    finally:
        d.stop()


def test_setup_mode_asks_for_the_password_before_it_saves_wifi(tmp_path):
    d = Dongle(tmp_path, extra=["--setup", "--page-password", ""])
    try:
        d.wait_for(lambda: d.json("/api/v1/status")["setup"]["setup_mode"], what="setup mode")
        for path in CLOSED:
            assert d.get(path)[0] == 200, path  # on the access point, no password yet
        status, _, body = post(d, {"wifi": {"ssid": "home", "password": "wifi-pass"}})
        assert status == 400 and b"choose a password for this page" in body
        status, _, body = post(d, {"http": {"password": "hanport"}, "wifi": {"ssid": "home"}})
        assert status == 400 and b"choose your own" in body
        mine = {"http": {"password": "cabinet-42"}, "wifi": {"ssid": "home"}}
        assert post(d, mine)[0] == 200
        # Chosen: from now on the password is needed, on the access point too.
        assert d.get("/api/v1/config")[0] == 401
        status, _, body = d.get("/api/v1/config", headers={"Authorization": basic("admin", "cabinet-42")})
        assert status == 200 and json.loads(body)["wifi"]["ssid"] == "home"
    finally:
        d.stop()


class _Portal:
    def __init__(self, reason, open_=True):
        self.open = open_
        self.reason = reason
        self.ip = "192.168.4.1"
        self.netmask = "255.255.255.0"


class _Req:
    def __init__(self, peer):
        self.peer = peer


@pytest.mark.parametrize(
    "password, reason, peer, open_, allowed",
    [
        ("", "no_wifi", "192.168.4.2", True, True),  # a new dongle, phone on its access point
        ("", "no_wifi", "10.0.0.7", True, False),  # the home network: never without a password
        ("", "no_wifi", "192.168.4.2", False, False),  # setup mode closed
        ("set-one", "no_wifi", "192.168.4.2", True, False),  # chosen: the password is needed
        ("set-one", "wifi_failed", "192.168.4.2", True, False),
        ("set-one", "button", "192.168.4.2", True, True),  # someone at the cabinet: reset it
        ("", "button", None, True, False),  # no peer address known
    ],
)
def test_which_clients_need_no_password(password, reason, peer, open_, allowed):
    web = routes.Web.__new__(routes.Web)
    web.password = password
    web.portal = _Portal(reason, open_)
    assert admin.setup_client(web, _Req(peer)) is allowed
