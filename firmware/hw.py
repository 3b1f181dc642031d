"""The thin hardware layer: the only module that imports `machine`, `network` and `umqtt`.

It turns config and board data into hardware objects (UART, LED, button, watchdog, WLAN, access
point, MQTT client factory) and hands them to the logic. On a PC, `tools/hosttwin/` provides
modules with the same names, so this file and everything above it run unchanged.
"""

import machine
import network

import timedsock
from uartsrc import uart_settings


class _NoLED:
    def on(self):
        pass

    def off(self):
        pass


class _PixelLED:
    """A WS2812 status LED driven as on/off (green)."""

    def __init__(self, pin):
        import neopixel  # only boards with an RGB LED need it

        self._np = neopixel.NeoPixel(machine.Pin(pin, machine.Pin.OUT), 1)

    def on(self):
        self._np[0] = (0, 16, 0)
        self._np.write()

    def off(self):
        self._np[0] = (0, 0, 0)
        self._np.write()


class _PlainLED:
    def __init__(self, pin, active_low):
        self._pin = machine.Pin(pin, machine.Pin.OUT, value=1 if active_low else 0)
        self._on = 0 if active_low else 1

    def on(self):
        self._pin.value(self._on)

    def off(self):
        self._pin.value(1 - self._on)


def make_uart(uart_cfg, board):
    return machine.UART(board["uart_id"], **uart_settings(uart_cfg, board, machine.UART.INV_RX))


def make_led(board):
    if board.get("led_pin") is None:
        return _NoLED()
    if board.get("led_kind") == "neopixel":
        return _PixelLED(board["led_pin"])
    return _PlainLED(board["led_pin"], board.get("led_active_low", False))


def button_pressed(board):
    """True when the setup button is held (read once, at boot)."""
    if board.get("button_pin") is None:
        return False
    pin = machine.Pin(board["button_pin"], machine.Pin.IN, machine.Pin.PULL_UP)
    return pin.value() == (0 if board.get("button_active_low", True) else 1)


class _Button:
    def __init__(self, pin, level):
        self._pin = pin
        self._level = level

    def pressed(self):
        return self._pin.value() == self._level


def make_button(board):
    """The setup button for polling while running (portal.py), or None when the board has none."""
    if board.get("button_pin") is None:
        return None
    pin = machine.Pin(board["button_pin"], machine.Pin.IN, machine.Pin.PULL_UP)
    return _Button(pin, 0 if board.get("button_active_low", True) else 1)


def make_wdt(timeout_s):
    if not timeout_s:
        return None
    return machine.WDT(timeout=timeout_s * 1000)


def make_wlan():
    return network.WLAN(network.STA_IF)


def make_ap():
    """The access-point interface setup mode opens (portal.py)."""
    return network.WLAN(network.AP_IF)


def machine_name():
    """What the firmware says it runs on ("ESP32C3 module with ESP32C3"); "" when it cannot say."""
    import os

    try:
        return os.uname().machine
    except AttributeError:  # ports without os.uname
        return ""


def restart():
    machine.reset()


def device_id():
    """Hex of the chip's unique id: the default MQTT client id suffix."""
    return "".join("{:02x}".format(b) for b in machine.unique_id())


def _utf8(text):
    return text.encode() if isinstance(text, str) else text


def mqtt_factory(mqtt_cfg, client_id, timeout_s=timedsock.TIMEOUT_S):
    """A no-argument callable that makes a fresh, unconnected umqtt.simple.MQTTClient whose
    socket never blocks the loop for more than timeout_s (see timedsock.py), and which sends
    every str as UTF-8 bytes: umqtt.simple measures a str in characters, so a topic, client id,
    user or password with "å" in it gave the broker a malformed packet."""
    import socket

    from umqtt import simple  # imported on first use: a config without MQTT skips it

    timedsock.limit(simple, socket, timeout_s, bool(mqtt_cfg["tls"]))

    class MQTTClient(simple.MQTTClient):
        def set_last_will(self, topic, msg, retain=False, qos=0):
            super().set_last_will(_utf8(topic), _utf8(msg), retain, qos)

        def publish(self, topic, msg, retain=False, qos=0):
            super().publish(_utf8(topic), _utf8(msg), retain, qos)

        def subscribe(self, topic, qos=0):
            super().subscribe(_utf8(topic), qos)

    ssl = None
    port = mqtt_cfg["port"]
    if mqtt_cfg["tls"]:
        ssl = _tls_context()
        if port == 1883:
            port = 8883
    # umqtt.simple takes len() of the password whenever a user is set: never None.
    user = mqtt_cfg["user"].encode() or None
    password = mqtt_cfg["password"].encode()

    def make():
        return MQTTClient(
            client_id.encode(),
            mqtt_cfg["host"],
            port,
            user,
            password,
            mqtt_cfg["keepalive_s"],
            ssl=ssl,
        )

    return make


def _tls_context():
    import ssl  # only when TLS is on: the module and its context cost RAM

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.check_hostname = False  # CPython needs this before CERT_NONE; MicroPython has none
    except AttributeError:
        pass
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
