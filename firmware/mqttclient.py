"""Makes umqtt.simple clients for the publisher: settings from config, sockets with time limits,
the broker's address looked up rarely (timedsock.py).

Why a module: the publisher makes a fresh client at every reconnect, long after boot, so this
stays loaded while the boot-time hardware code (hw.py) is dropped. umqtt.simple is imported on
first use, so a dongle without a broker never loads it.
"""

import log
import timedsock
from uartsrc import RXBUF


def _utf8(text):
    return text.encode() if isinstance(text, str) else text


class ClientFactory:
    """A no-argument callable that makes a fresh, unconnected umqtt.simple.MQTTClient whose
    socket never blocks the loop for more than timeout_s (see timedsock.py), and which sends
    every str as UTF-8 bytes: umqtt.simple measures a str in characters, so a topic, client id,
    user or password with "å" in it gave the broker a malformed packet.

    The clients count the broker's answers to ping() in `pongs`: umqtt.simple's wait_msg()
    returns None both for "nothing waiting" and for a PINGRESP, so the socket counts what it
    reads (timedsock.TimedSocket.received), and a None after bytes were read is the PINGRESP
    (the publisher's dead-session check).

    The publisher calls `pass_begins()` at the start of every pass: the blocking socket operations
    of one pass share a budget of 3/4 of the time the UART buffer takes to fill at `baud` (no
    single one longer than timeout_s), so no pass loses meter bytes. It calls `lookup()` before
    a connect: the broker's name is looked up then, in a pass of its own, only when due.
    """

    def __init__(self, mqtt_cfg, client_id, timeout_s=timedsock.TIMEOUT_S, baud=2400, wlan=None):
        import socket

        from umqtt import simple

        if not isinstance(baud, int):  # "auto": the line is found at run time; the HAN port's
            baud = 2400  # 2400 baud is a stream, a P1 port's 115200 comes in bursts
        pass_ms = timedsock.stall_ms(RXBUF, baud)
        if pass_ms < 1000:
            log.warning("mqtt", "at {} baud a pass may block only {} ms: use a broker nearby",
                        baud, pass_ms)
        context = _tls_context() if mqtt_cfg["tls"] else None
        self.sockets = sockets = timedsock.limit(
            simple, socket, pass_ms, int(timeout_s * 1000), context
        )

        class MQTTClient(simple.MQTTClient):
            pongs = 0

            def connect(self, *args):
                try:
                    return super().connect(*args)
                except Exception:
                    sockets.stale = True  # the broker may have moved: look it up again
                    raise

            def wait_msg(self):
                sock = self.sock
                before = sock.received
                op = super().wait_msg()
                if op is None and sock.received != before:
                    self.pongs += 1
                return op

            def set_last_will(self, topic, msg, retain=False, qos=0):
                super().set_last_will(_utf8(topic), _utf8(msg), retain, qos)

            def publish(self, topic, msg, retain=False, qos=0):
                super().publish(_utf8(topic), _utf8(msg), retain, qos)

            def subscribe(self, topic, qos=0):
                super().subscribe(_utf8(topic), qos)

        self._client = MQTTClient
        self._wlan = wlan  # the station: where its DNS server is
        self._cfg = mqtt_cfg
        self._client_id = client_id.encode()
        # umqtt.simple takes len() of the password whenever a user is set: never None.
        self._user = mqtt_cfg["user"].encode() or None
        self._password = mqtt_cfg["password"].encode()
        self._ssl = None
        self._port = mqtt_cfg["port"]
        if context is not None:
            self._ssl = sockets  # its wrap_socket() keeps the TLS socket's time limits
            if self._port == 1883:
                self._port = 8883

    def pass_begins(self):
        self.sockets.start()

    def lookup(self):
        """Look the broker's name up when due; True when this pass went to it (a step of a
        non-blocking DNS query, or a blocking getaddrinfo when no DNS server is known)."""
        import mqttconnect  # the code of an unconnected publisher: it drops it once connected

        host = self._cfg["host"]
        if not mqttconnect.lookup_due(self.sockets, host, self._port):
            return False
        mqttconnect.lookup(self.sockets, host, self._port, mqttconnect.dns_server(self._wlan))
        return True

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
