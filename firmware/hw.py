"""The thin hardware layer: the only module that imports `machine` and `network`.

It turns config and board data into hardware objects (UART, LED, button, watchdog, WLAN, access
point) and hands them to the logic. It is needed only while the app is built: app.build() drops
it afterwards, so the objects it makes come from gpio.py and the drivers themselves. On a PC,
`tools/hosttwin/` provides `machine` and `network` with the same names, so this file and
everything above it run unchanged.
"""

import time

import machine
import network

import gpio
from uartsrc import LineSetter, line_index, uart_settings


def make_uart(uart_cfg, board):
    return machine.UART(board["uart_id"], **uart_settings(uart_cfg, board, machine.UART.INV_RX))


def make_line_setter(uart, uart_cfg, board):
    """What switches `uart` between the line settings "auto" tries; None for a baud set by hand."""
    if line_index(uart_cfg) is None:
        return None
    return LineSetter(uart, uart_cfg, board, machine.UART.INV_RX)


def make_led(board):
    if board.get("led_pin") is None:
        return gpio.NoLED()
    if board.get("led_kind") == "neopixel":
        from pixelled import PixelLED  # only boards with an RGB LED keep its code

        return PixelLED(machine, board["led_pin"])
    return gpio.PlainLED(machine, board["led_pin"], board.get("led_active_low", False))


def safe_mode_asked(board, window_s):
    """True when the setup button is held at power-on or pressed within window_s seconds after.

    The boards' buttons are strapping pins (GPIO0, GPIO9 on the C3): held while the chip resets
    they start the ROM download mode, not MicroPython. So the LED blinks fast for the window
    after boot, and a press then is what asks for safe mode."""
    button = make_button(board)
    if button is None:
        return False
    if button.pressed():
        return True
    led = make_led(board) if window_s else None
    for tick in range(window_s * 10):
        if tick % 2:
            led.off()
        else:
            led.on()
        time.sleep(0.1)
        if button.pressed():
            led.off()
            return True
    if led is not None:
        led.off()
    return False


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
    """The access-point interface setup mode opens (web/setupmode.py)."""
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
