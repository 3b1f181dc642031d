"""Board pin maps: every shipped board file is valid; bad or missing files fall back safely."""

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "firmware"))

import board  # noqa: E402

BOARD_FILES = sorted((ROOT / "boards").glob("*.json"))


def test_ships_the_boards_the_issue_asks_for():
    names = {p.stem for p in BOARD_FILES}
    assert {"esp32-devkitc", "esp32c3-devkitm", "esp32s3-devkitc"} <= names


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_shipped_board_file_is_valid_and_named_after_its_file(path):
    loaded, problems = board.load(path.stem, str(ROOT / "boards"))
    assert problems == []
    assert loaded["name"] == path.stem
    assert set(json.loads(path.read_text())) == set(board.GENERIC)
    assert loaded["march"] in ("xtensawin", "rv32imc")


def test_missing_board_falls_back_to_generic_and_says_so(tmp_path):
    loaded, problems = board.load("nosuch", str(tmp_path))
    assert loaded == board.GENERIC
    assert "no board file" in problems[0]


def test_broken_board_file_falls_back_to_generic(tmp_path):
    (tmp_path / "b.json").write_text("{not json")
    loaded, problems = board.load("b", str(tmp_path))
    assert loaded == board.GENERIC and "not valid JSON" in problems[0]


def test_board_file_that_is_not_utf8_falls_back_to_generic(tmp_path):
    (tmp_path / "b.json").write_bytes('{"name": "bø"}'.encode("latin-1"))
    loaded, problems = board.load("b", str(tmp_path))
    assert loaded == board.GENERIC and "not valid JSON" in problems[0]


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"rx_pin": None}, "rx_pin must be a GPIO number"),
        ({"rx_pin": 99}, "rx_pin must be a GPIO number"),
        ({"uart_id": 3}, "uart_id must be 0, 1 or 2"),
        ({"led_kind": "rgb"}, "led_kind must be plain or neopixel"),
        ({"invert_rx": "yes"}, "invert_rx must be true or false"),
        ({"ledpin": 2}, "unknown board key ledpin"),
    ],
)
def test_rejects_invalid_board_with_clear_message(tmp_path, change, fragment):
    data = dict(board.GENERIC, name="x")
    data.update(change)
    (tmp_path / "x.json").write_text(json.dumps(data))
    loaded, problems = board.load("x", str(tmp_path))
    assert loaded == board.GENERIC
    assert any(fragment in p for p in problems), problems


def test_led_and_button_may_be_absent(tmp_path):
    data = dict(board.GENERIC, name="bare", led_pin=None, button_pin=None)
    (tmp_path / "bare.json").write_text(json.dumps(data))
    loaded, problems = board.load("bare", str(tmp_path))
    assert problems == [] and loaded["led_pin"] is None


def test_pins_are_checked_against_the_chip():
    esp32 = dict(board.GENERIC, rx_pin=45)
    assert any("0..39 on an esp32" in p for p in board.check(esp32))
    s3 = dict(board.GENERIC, chip="esp32s3", rx_pin=45)
    assert board.check(s3) == []
    c3 = dict(board.GENERIC, chip="esp32c3", uart_id=1, rx_pin=4, led_pin=30)
    assert any(p.startswith("led_pin must be a GPIO number 0..21") for p in board.check(c3))


CHIPS = ("esp32", "esp32c3", "esp32c6", "esp32s2", "esp32s3")


@pytest.mark.parametrize("chip", CHIPS)
def test_the_fallback_fits_the_chip_it_runs_on(chip):
    spare = board.fallback(chip)
    assert spare["chip"] == chip and board.check(spare) == []
    if chip in ("esp32c3", "esp32c6", "esp32s2"):
        assert spare["uart_id"] == 1  # these chips have no UART 2


@pytest.mark.parametrize("chip", ("esp32c3", "esp32c6", "esp32s2"))
def test_uart_ids_the_chip_lacks_are_refused(chip):
    spare = board.fallback(chip)
    problems = board.check(dict(spare, uart_id=2))
    assert problems == ["uart_id must be 0 or 1 on an {}".format(chip)]


def test_a_c3_without_a_valid_board_setting_gets_a_c3_map(tmp_path):
    boards_dir = str(ROOT / "boards")
    # The default setting names the ESP32 DevKitC: on a C3 its UART 2 does not exist.
    loaded, problems = board.load("esp32-devkitc", boards_dir, chip="esp32c3")
    assert loaded["chip"] == "esp32c3" and loaded["uart_id"] == 1
    assert "it is for an esp32, this is an esp32c3" in problems[0]
    loaded, problems = board.load("nosuch", str(tmp_path), chip="esp32s2")
    assert loaded["chip"] == "esp32s2" and loaded["uart_id"] == 1 and problems
    loaded, problems = board.load("esp32c3-devkitm", boards_dir, chip="esp32c3")
    assert problems == [] and loaded["name"] == "esp32c3-devkitm"
    # A PC (chip unknown) trusts the file, as before.
    assert board.load("esp32-devkitc", boards_dir, chip=None)[1] == []


@pytest.mark.parametrize(
    "machine, chip",
    [
        ("Generic ESP32 module with ESP32", "esp32"),
        ("ESP32C3 module with ESP32C3", "esp32c3"),
        ("Seeed Studio XIAO ESP32C3 with ESP32-C3FN4", "esp32c3"),
        ("LOLIN_S2_MINI with ESP32-S2", "esp32s2"),
        ("ESP32S3 module (spiram) with ESP32S3", "esp32s3"),
        ("ESP32C6 module with ESP32C6", "esp32c6"),
        ("TinyPICO with ESP32-PICO-D4", "esp32"),
        ("Generic ESP32P4 module with ESP32P4", None),
        ("x86_64", None),
        ("", None),
    ],
)
def test_chip_is_read_from_the_firmwares_machine_name(machine, chip):
    assert board.chip_of(machine) == chip
