"""The thin hardware layer: the only module that imports `machine` and `network`.

It turns config and board data into hardware objects (UART, LED, button, watchdog, WLAN, access
point) and hands them to the logic. It is needed only while the app is built: app.build() drops
it afterwards, so the objects it makes come from gpio.py and the drivers themselves. On a PC,
`tools/hosttwin/` provides `machine` and `network` with the same names, so this file and
everything above it run unchanged.
"""

import machine
import network

import gpio
from uartsrc import uart_settings


def make_uart(uart_cfg, board):
    return machine.UART(board["uart_id"], **uart_settings(uart_cfg, board, machine.UART.INV_RX))


def make_led(board):
    if board.get("led_pin") is None:
        return gpio.NoLED()
    if board.get("led_kind") == "neopixel":
        return gpio.PixelLED(machine, board["led_pin"])
    return gpio.PlainLED(machine, board["led_pin"], board.get("led_active_low", False))


def button_pressed(board):
    """True when the setup button is held (read once, at boot)."""
    button = make_button(board)
    return button is not None and button.pressed()


def make_button(board):
    """The setup button for polling while running (web/portal.py), or None when the board has
    none."""
    if board.get("button_pin") is None:
        return None
    return gpio.Button(machine, board["button_pin"], board.get("button_active_low", True))


def make_wdt(timeout_s):
    if not timeout_s:
        return None
    return machine.WDT(timeout=timeout_s * 1000)


def make_wlan():
    return network.WLAN(network.STA_IF)


def make_ap():
    """The access-point interface setup mode opens (web/portal.py)."""
    return network.WLAN(network.AP_IF)


def machine_name():
    """What the firmware says it runs on ("ESP32C3 module with ESP32C3"); "" when it cannot say."""
    import os

    try:
        return os.uname().machine
    except AttributeError:  # ports without os.uname
        return ""


def reset_function():
    """machine.reset itself, for the parts that restart the dongle after boot (web/routes.py)."""
    return machine.reset


def device_id():
    """Hex of the chip's unique id: the default MQTT client id suffix."""
    return "".join("{:02x}".format(b) for b in machine.unique_id())
