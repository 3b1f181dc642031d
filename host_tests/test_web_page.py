"""The live page and the settings page in headless Debian chromium, against the running dongle.

The simulator's log says what the meter sent; the page, loaded over HTTP from the application
exactly as `make demo` serves it, must show those values and keep updating by itself. Also: the
gzip files the dongle serves are exactly the readable sources, and the pages use no external
assets.
"""

import gzip
import re
import sys
import time

import pytest
from cdp import Browser
from webhost import AUTH, ROOT, Dongle

sys.path.insert(0, str(ROOT / "tools"))
import gzwww  # noqa: E402

WWW = ROOT / "firmware" / "www"
PAGES = ("index.html", "settings.html")


def test_served_gzip_files_hold_exactly_the_page_sources():
    assert gzwww.stale() == [], "run `python tools/gzwww.py` and commit the .gz files"
    for name in PAGES:
        raw = (WWW / name).read_bytes()
        packed = (WWW / (name + ".gz")).read_bytes()
        assert gzip.decompress(packed) == raw
        print("page {}: {} bytes, {} gzipped".format(name, len(raw), len(packed)))
        assert len(packed) < 8192  # the budget: a few TCP segments from flash


def test_stale_gzip_is_detected(tmp_path):
    (tmp_path / "a.html").write_text("<p>new</p>")
    (tmp_path / "a.html.gz").write_bytes(gzwww.compress(b"<p>old</p>"))
    (tmp_path / "b.html").write_text("<p>no gz yet</p>")
    assert [p.rsplit("/", 1)[1] for p in gzwww.stale(str(tmp_path))] == ["a.html", "b.html"]


def test_pages_load_nothing_from_elsewhere():
    for name in PAGES:
        text = (WWW / name).read_text()
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", text), name
        assert "@import" not in text


@pytest.fixture(scope="module")
def dongle(tmp_path_factory):
    d = Dongle(tmp_path_factory.mktemp("page"), speed=5)
    d.wait_for(lambda: len(d.json("/api/v1/reading")["lists"]) == 3, what="lists 1-3")
    yield d
    d.stop()


@pytest.fixture
def browser():
    b = Browser(390, 844)  # a phone's viewport
    yield b
    b.close()


def shown(browser, *ids):
    return browser.evaluate(
        "JSON.stringify([{}].map(i => document.getElementById(i).textContent))".format(
            ",".join(repr(i) for i in ids)
        )
    )


def test_live_page_shows_what_the_simulator_sent_and_updates(dongle, browser, tmp_path):
    browser.goto("http://127.0.0.1:{}/".format(dongle.port))
    browser.wait_for("document.getElementById('voltage_l1').textContent !== '–'")
    sent = dongle.sent()
    full = [s["values"] for s in sent if s["list"] >= 2]
    # The page and the log are read at slightly different moments: accept the last two list 3s.
    last3 = [s["values"] for s in sent if s["list"] == 3][-2:]
    ids = ("meter", "voltage_l1", "current_l2", "import_kwh", "clock", "power")
    meter, volts, amps, kwh, clock, power = __import__("json").loads(shown(browser, *ids))
    assert full[-1]["meter_id"] in meter and "Aidon" in meter
    assert volts in {"{:.1f}".format(s["voltage_l1"]) for s in full[-3:]}
    assert amps in {"{:.1f}".format(s["current_l2"]) for s in full[-3:]}
    assert kwh in ["{:.1f}".format(v["active_power_import_total"] / 1000) for v in last3]
    assert clock in [v["meter_datetime"].replace("T", " ")[:19] for v in last3]
    assert int(power) in [s["values"]["active_power_import"] for s in sent]
    # It updates by itself: new polls, new chart points, and the power the meter sends now.
    # (the page shows the reading before its first status answer; updates counts whole polls)
    first_updates = int(browser.wait_for("document.body.dataset.updates"))
    browser.wait_for("document.getElementById('points').textContent >= 3", timeout=12)
    assert int(browser.evaluate("document.body.dataset.updates")) >= first_updates + 2
    later = dongle.sent()
    now_power = int(browser.evaluate("document.getElementById('power').textContent"))
    assert now_power in [s["values"]["active_power_import"] for s in later[len(sent) - 1 :]]
    line = browser.evaluate("document.getElementById('line').getAttribute('points')")
    assert len(line.split()) >= 3
    assert "frames" not in browser.evaluate("document.getElementById('frames_ok').textContent")
    assert int(browser.evaluate("document.getElementById('frames_ok').textContent")) > 0
    # uart.baud auto: the plain TCP twin reads at any setting, so the first one is found.
    browser.wait_for("document.getElementById('uart_line').textContent === '2400 8E1 (found)'")
    # Readable on a phone: nothing wider than the screen.
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390
    shot = ROOT / "build" / "web-page-phone.png"
    shot.parent.mkdir(exist_ok=True)
    browser.screenshot(str(shot))
    assert shot.stat().st_size > 10000


def test_settings_page_loads_masked_settings_and_reports_a_rejected_value(dongle, browser):
    # Credentials on the first navigation; the browser then sends them with the page's fetches.
    browser.send("Network.enable")
    browser.send(
        "Network.setExtraHTTPHeaders",
        headers={"Authorization": AUTH},
    )
    browser.goto("http://127.0.0.1:{}/settings".format(dongle.port))
    browser.wait_for("document.querySelector('[name=\"wifi.ssid\"]').value === 'host-twin'")
    assert browser.evaluate("document.querySelector('[name=\"uart.baud\"]').value") == "auto"
    browser.evaluate("document.querySelector('[name=\"mqtt.prefix\"]').value = 'a/#'")
    browser.evaluate("document.querySelector('button[type=submit]').click()")
    message = browser.wait_for(
        "document.getElementById('msg').textContent.startsWith('Not saved') && "
        "document.getElementById('msg').textContent"
    )
    assert "mqtt.prefix must be a non-empty topic" in message
    time.sleep(0.1)
    assert dongle.json("/api/v1/status")["counters"]["frames_ok"] > 0


def test_deploy_copies_the_served_gzip_pages_not_the_sources():
    import deploy

    session = deploy.deploy_commands("/dev/null", "esp32-devkitc")[-1]  # one mpremote session
    targets = [session[i + 2] for i, word in enumerate(session) if word == "cp"]
    for name in PAGES:
        assert ":www/{}.gz".format(name) in targets
        assert ":www/{}".format(name) not in targets
