"""Config: defaults, validation messages, fallback on broken files, atomic writes."""

import json
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))

import config  # noqa: E402
import mpunix  # noqa: E402


def test_missing_file_gives_defaults_and_says_so(tmp_path):
    cfg, problems = config.load(str(tmp_path / "nope.json"))
    assert cfg == config.DEFAULTS
    assert problems and "no config file" in problems[0]


def test_defaults_are_sensible():
    cfg = config.defaults()
    assert cfg["uart"] == {
        "baud": "auto", "bits": 8, "parity": "E", "stop": 1, "invert_rx": None, "found": ""
    }
    assert cfg["mqtt"]["prefix"] == "hanport"
    assert cfg["mqtt"]["port"] == 1883
    assert cfg["publish"]["discovery_prefix"] == "homeassistant"
    assert cfg["publish"]["per_value_topics"] is False


def test_corrupt_json_falls_back_to_defaults(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"wifi": {"ssid": "home"')  # cut off mid-write
    cfg, problems = config.load(str(path))
    assert cfg == config.DEFAULTS
    assert "not valid JSON" in problems[0]


# Files a flash fault, an editor or a wrong upload could leave: none may stop the boot.
UNREADABLE = {
    "latin-1": '{"mqtt": {"host": "hæst"}}'.encode("latin-1"),
    "utf-16": '{"mqtt": {"host": "h"}}'.encode("utf-16"),
    "binary": bytes(range(256)) * 4,
    "nul": b"\0" * 64,
    "nested": b"[" * 20000,
    "huge": b" " * 40000 + b"{}",
}


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_unreadable_file_falls_back_to_defaults(tmp_path, kind):
    path = tmp_path / "config.json"
    path.write_bytes(UNREADABLE[kind])
    cfg, problems = config.load(str(path))
    assert cfg == config.DEFAULTS
    assert problems and "using defaults" in problems[0]


def test_unreadable_files_never_stop_the_boot_in_micropython(tmp_path):
    paths = []
    for kind in sorted(UNREADABLE):
        paths.append(tmp_path / kind)
        paths[-1].write_bytes(UNREADABLE[kind])
    result = mpunix.run("mp_config_probe.py", *paths)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["defaults"] * len(paths), result.stdout


def test_non_object_file_falls_back_to_defaults(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[1, 2]")
    cfg, problems = config.load(str(path))
    assert cfg == config.DEFAULTS
    assert "JSON object" in problems[0]


def test_bad_values_keep_defaults_but_good_values_survive(tmp_path):
    path = tmp_path / "config.json"
    stored = {
        "wifi": {"ssid": "home", "password": "secret"},
        "mqtt": {"port": 99999, "host": "broker.lan", "tls": "yes", "hots": "x"},
        "uart": {"parity": "X", "invert_rx": True},
    }
    path.write_text(json.dumps(stored))
    cfg, problems = config.load(str(path))
    assert cfg["wifi"]["ssid"] == "home"
    assert cfg["mqtt"]["host"] == "broker.lan"
    assert cfg["mqtt"]["port"] == 1883
    assert cfg["mqtt"]["tls"] is False
    assert cfg["uart"]["parity"] == "E"
    assert cfg["uart"]["invert_rx"] is True
    text = " | ".join(problems)
    assert "mqtt.port must be between 1 and 65535, not 99999" in text
    assert "mqtt.tls must be true or false" in text
    assert "unknown setting mqtt.hots (typo?)" in text
    assert "uart.parity must be one of E, N, O" in text
    assert len(problems) == 4


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("mqtt.prefix", "a/#", "without #"),
        ("mqtt.prefix", "", "non-empty"),
        ("publish.discovery_prefix", "/ha", "leading/trailing"),
        ("uart.baud", 2400.0, "whole number"),
        ("uart.baud", True, "whole number"),
        ("uart.baud", "fast", "auto or a whole number"),
        ("uart.found", "2400 7E1", "must be one of"),
        ("uart.stop", 3, "between 1 and 2"),
        ("uart.invert_rx", "no", "true, false or null"),
        ("log.level", "loud", "one of debug"),
        ("wifi.ssid", 5, "must be a string"),
        ("wifi.ssid", "x" * 200, "longer than 128"),
        ("nosuch", 1, "unknown setting nosuch"),
        ("wifi", "x", "unknown setting wifi"),
    ],
)
def test_rejects_invalid_value_with_clear_message(name, value, fragment):
    problem = config.check_value(name, value)
    assert problem is not None and fragment in problem


def test_accepts_valid_values():
    assert config.check_value("mqtt.port", 8883) is None
    assert config.check_value("uart.invert_rx", None) is None
    assert config.check_value("uart.parity", "N") is None
    assert config.check_value("board", "esp32c3-devkitm") is None


def test_update_writes_and_merges_with_stored_file(tmp_path):
    path = str(tmp_path / "config.json")
    config.update({"wifi": {"ssid": "home"}}, path)
    cfg = config.update({"mqtt": {"host": "10.0.0.2"}}, path)
    assert cfg["wifi"]["ssid"] == "home"
    again, problems = config.load(path)
    assert problems == []
    assert again == cfg
    assert again["mqtt"]["host"] == "10.0.0.2"


def test_update_refuses_bad_values_and_writes_nothing(tmp_path):
    path = tmp_path / "config.json"
    config.update({"wifi": {"ssid": "home"}}, str(path))
    before = path.read_text()
    with pytest.raises(ValueError, match="mqtt.port must be between"):
        config.update({"mqtt": {"port": 0}, "wifi": {"ssid": "other"}}, str(path))
    assert path.read_text() == before


def test_save_leaves_no_temporary_file_and_replaces_atomically(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")
    cfg = config.defaults()
    cfg["board"] = "esp32s3-devkitc"
    config.save(cfg, str(path))
    assert json.loads(path.read_text())["board"] == "esp32s3-devkitc"
    assert os.listdir(tmp_path) == ["config.json"]


def test_interrupted_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    config.update({"wifi": {"ssid": "home"}}, str(path))

    def power_cut(*args):
        raise OSError("power cut")

    monkeypatch.setattr(config.os, "rename", power_cut)
    monkeypatch.setattr(config.os, "remove", power_cut)
    with pytest.raises(OSError):
        config.update({"wifi": {"ssid": "other"}}, str(path))
    cfg, problems = config.load(str(path))
    assert problems == [] and cfg["wifi"]["ssid"] == "home"


def test_half_finished_replace_recovers_from_temporary_file(tmp_path):
    # FAT path: the old file was removed but the rename never happened.
    path = tmp_path / "config.json"
    cfg = config.defaults()
    cfg["wifi"]["ssid"] = "home"
    (tmp_path / "config.json.tmp").write_text(json.dumps(cfg))
    loaded, problems = config.load(str(path))
    assert loaded["wifi"]["ssid"] == "home"
    assert "recovered" in problems[0]


def test_watchdog_is_off_or_long_enough_to_survive_a_connect():
    assert config.check_value("health.watchdog_s", 0) is None
    assert config.check_value("health.watchdog_s", 30) is None
    for short in (1, 2, 29):
        assert "at least 30" in config.check_value("health.watchdog_s", short)


def test_meter_keys_are_hex_secrets(tmp_path):
    path = str(tmp_path / "config.json")
    with pytest.raises(ValueError, match="32 hex digits"):
        config.update({"meter": {"key": "00112233"}}, path)
    key = "000102030405060708090A0B0C0D0E0F"
    cfg = config.update({"meter": {"key": key, "auth_key": key.lower()}}, path)
    assert cfg["meter"]["key"] == key
    assert config.masked(cfg)["meter"] == {"key": config.MASK, "auth_key": config.MASK}
    assert config.parse("meter.key", key) == key


def test_the_page_password_is_never_empty_whichever_way_it_is_set(tmp_path):
    with pytest.raises(ValueError, match="http.password must not be empty"):
        config.parse("http.password", "")  # make config
    with pytest.raises(ValueError, match="http.password must not be empty"):
        config.update({"http": {"password": ""}}, str(tmp_path / "config.json"))  # the page


def test_baud_is_auto_or_a_number_and_found_one_of_the_searched_lines():
    assert config.parse("uart.baud", "auto") == "auto"
    assert config.parse("uart.baud", "115200") == 115200
    assert config.check_value("uart.found", "115200 8N1 inverted") is None
    assert config.check_value("uart.found", "") is None
