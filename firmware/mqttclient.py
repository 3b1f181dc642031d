"""Makes umqtt.simple clients for the publisher: settings from config, sockets with time limits.

Why a module: the publisher makes a fresh client at every reconnect, long after boot, so this
stays loaded while the boot-time hardware code (hw.py) is dropped. umqtt.simple is imported on
first use, so a dongle without a broker never loads it.
"""

import timedsock


def _utf8(text):
    return text.encode() if isinstance(text, str) else text


class ClientFactory:
    """A no-argument callable that makes a fresh, unconnected umqtt.simple.MQTTClient whose
    socket never blocks the loop for more than timeout_s (see timedsock.py), and which sends
    every str as UTF-8 bytes: umqtt.simple measures a str in characters, so a topic, client id,
    user or password with "å" in it gave the broker a malformed packet."""

    def __init__(self, mqtt_cfg, client_id, timeout_s=timedsock.TIMEOUT_S):
        import socket

        from umqtt import simple

        timedsock.limit(simple, socket, timeout_s, bool(mqtt_cfg["tls"]))

        class MQTTClient(simple.MQTTClient):
            def set_last_will(self, topic, msg, retain=False, qos=0):
                super().set_last_will(_utf8(topic), _utf8(msg), retain, qos)

            def publish(self, topic, msg, retain=False, qos=0):
                super().publish(_utf8(topic), _utf8(msg), retain, qos)

            def subscribe(self, topic, qos=0):
                super().subscribe(_utf8(topic), qos)

        self._client = MQTTClient
        self._cfg = mqtt_cfg
        self._client_id = client_id.encode()
        # umqtt.simple takes len() of the password whenever a user is set: never None.
        self._user = mqtt_cfg["user"].encode() or None
        self._password = mqtt_cfg["password"].encode()
        self._ssl = None
        self._port = mqtt_cfg["port"]
        if mqtt_cfg["tls"]:
            self._ssl = _tls_context()
            if self._port == 1883:
                self._port = 8883

    def __call__(self):
        cfg = self._cfg
        return self._client(
            self._client_id,
            cfg["host"],
            self._port,
            self._user,
            self._password,
            cfg["keepalive_s"],
            ssl=self._ssl,
        )


def _tls_context():
    import ssl  # only when TLS is on: the module and its context cost RAM

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        ctx.check_hostname = False  # CPython needs this before CERT_NONE; MicroPython has none
    except AttributeError:
        pass
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
