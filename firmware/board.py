"""Board pin maps as data: one small JSON file per board in `boards/`, loaded by name.

Board differences (UART id, pins, LED kind and polarity, RX inversion) live in these files, not in
branches of the logic. A missing or broken board file falls back to the generic ESP32 DevKitC map
and says so, because a dongle that boots with the wrong LED pin is better than one that does not.
The fallback suits the chip the dongle runs on (the C3, C6 and S2 have no UART 2), and a board
file written for another chip is refused in favour of that fallback, for the same reason.
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

# Where GENERIC does not fit the chip, the pins of the board we ship for that chip.
_S3 = {"chip": "esp32s3", "flash_offset": "0x0", "uart_id": 1, "rx_pin": 18, "tx_pin": 17,
       "led_pin": 48, "led_kind": "neopixel"}
_S2 = {"chip": "esp32s2", "uart_id": 1, "rx_pin": 35, "tx_pin": 33, "led_pin": 15}
_RISCV = {"march": "rv32imc", "flash_offset": "0x0", "uart_id": 1, "rx_pin": 4, "tx_pin": 5,
          "led_pin": 8, "led_kind": "neopixel", "button_pin": 9}
_FALLBACKS = {"esp32s3": _S3, "esp32s2": _S2, "esp32c3": _RISCV, "esp32c6": _RISCV}

_PINS = ("rx_pin", "tx_pin", "led_pin", "button_pin")
# Highest GPIO number per chip (machine.Pin raises ValueError above it at boot).
_MAX_GPIO = {"esp32": 39, "esp32c3": 21, "esp32c6": 30, "esp32s2": 46, "esp32s3": 48}
# How many UARTs machine.UART offers per chip (UART 0 is the REPL on most boards).
_UARTS = {"esp32": 3, "esp32c3": 2, "esp32c6": 2, "esp32s2": 2, "esp32s3": 3}
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
    chip = board.get("chip", "esp32")
    uarts = _UARTS.get(chip, 3)
    uart_id = board.get("uart_id")
    if not isinstance(uart_id, int) or isinstance(uart_id, bool) or not 0 <= uart_id < uarts:
        problems.append(
            "uart_id must be {} on an {}".format("0, 1 or 2" if uarts == 3 else "0 or 1", chip)
        )
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


def fallback(chip=None):
    """The built-in pin map for `chip` ("esp32c3"; None or unknown: the generic ESP32 map)."""
    board = dict(GENERIC)
    if chip in _FALLBACKS:
        board.update(_FALLBACKS[chip])
        board["chip"] = chip
        board["name"] = chip + "-fallback"
        board["description"] = "built-in fallback for an " + chip
    return board


def chip_of(machine):
    """The chip named in os.uname().machine ("ESP32C3 module with ESP32C3" -> "esp32c3").

    None when the text names no ESP32 (a PC) or a chip this project has no pin data for.
    """
    name = machine.rpartition(" with ")[2].upper().replace("-", "")
    if not name.startswith("ESP32"):
        return None
    variant = name[5:7]
    if len(variant) == 2 and variant[0] in "CHPS" and variant[1] in "0123456789":
        chip = "esp32" + variant.lower()
        return chip if chip in _UARTS else None
    return "esp32"  # ESP32, ESP32-WROVER-B, ESP32D0WD...


def load(name, directory=DIR, chip=None):
    """Return (board map, problems); falls back to the chip's built-in map when the file is
    missing or bad, or (when `chip`, the chip running, is known) made for another chip."""
    path = "{}/{}.json".format(directory, name)
    spare = fallback(chip)
    what = "the built-in {} pin map".format(spare["chip"])
    try:
        with open(path) as f:
            board = json.loads(f.read())
    except OSError:
        return spare, ["no board file {}; using {}".format(path, what)]
    except ValueError:
        return spare, ["board file {} is not valid JSON; using {}".format(path, what)]
    problems = check(board)
    if not problems and chip is not None and board.get("chip", "esp32") != chip:
        problems = ["it is for an {}, this is an {}".format(board.get("chip", "esp32"), chip)]
    if problems:
        return spare, ["board {}: {}; using {}".format(path, p, what) for p in problems]
    merged = dict(GENERIC)
    merged.update(board)
    return merged, []
