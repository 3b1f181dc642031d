"""Board pin maps as data: one small JSON file per board in `boards/`, loaded by name.

Board differences (UART id, pins, LED kind and polarity, RX inversion) live in these files, not in
branches of the logic. A missing or broken board file falls back to the generic ESP32 DevKitC map
and says so, because a dongle that boots with the wrong LED pin is better than one that does not.
"""

import json

DIR = "boards"

GENERIC = {
    "name": "esp32-devkitc",
    "description": "built-in fallback: generic ESP32 DevKitC",
    "chip": "esp32",
    "march": "xtensawin",
    "flash_offset": "0x1000",
    "uart_id": 2,
    "rx_pin": 16,
    "tx_pin": 17,
    "invert_rx": False,
    "led_pin": 2,
    "led_kind": "plain",
    "led_active_low": False,
    "button_pin": 0,
    "button_active_low": True,
    "notes": "",
}

_PINS = ("rx_pin", "tx_pin", "led_pin", "button_pin")
# Highest GPIO number per chip (machine.Pin raises ValueError above it at boot).
_MAX_GPIO = {"esp32": 39, "esp32c3": 21, "esp32c6": 30, "esp32s2": 46, "esp32s3": 48}
_BOOLS = ("invert_rx", "led_active_low", "button_active_low")
_LED_KINDS = ("plain", "neopixel")


def check(board):
    """Return the list of problems in a board map (empty when valid)."""
    problems = []
    if not isinstance(board, dict):
        return ["a board file must hold a JSON object"]
    for key in board:
        if key not in GENERIC:
            problems.append("unknown board key {}".format(key))
    uart_id = board.get("uart_id")
    if not isinstance(uart_id, int) or isinstance(uart_id, bool) or not 0 <= uart_id <= 2:
        problems.append("uart_id must be 0, 1 or 2")
    chip = board.get("chip", "esp32")
    top = _MAX_GPIO.get(chip, 48)
    for key in _PINS:
        pin = board.get(key)
        if pin is None and key != "rx_pin":
            continue
        if not isinstance(pin, int) or isinstance(pin, bool) or not 0 <= pin <= top:
            problems.append(
                "{} must be a GPIO number 0..{} on an {}{}".format(
                    key, top, chip, "" if key == "rx_pin" else " or null"
                )
            )
    for key in _BOOLS:
        if not isinstance(board.get(key, False), bool):
            problems.append("{} must be true or false".format(key))
    if board.get("led_kind", "plain") not in _LED_KINDS:
        problems.append("led_kind must be plain or neopixel")
    return problems


def load(name, directory=DIR):
    """Return (board map, problems); falls back to GENERIC when the file is missing or bad."""
    path = "{}/{}.json".format(directory, name)
    try:
        with open(path) as f:
            board = json.loads(f.read())
    except OSError:
        return dict(GENERIC), ["no board file {}; using the generic ESP32 pin map".format(path)]
    except ValueError:
        return dict(GENERIC), [
            "board file {} is not valid JSON; using the generic map".format(path)
        ]
    problems = check(board)
    if problems:
        return dict(GENERIC), [
            "board {}: {}; using the generic map".format(path, p) for p in problems
        ]
    merged = dict(GENERIC)
    merged.update(board)
    return merged, []
