"""MQTT publishing with umqtt.simple: latest readings out, reconnect with back-off, never blocking
the meter reader.

The meter reader hands readings over with `offer()`, which only stores them: one slot per list
(1, 2, 3), so a burst of list 1 never pushes out the hourly list 3 with the energy totals. A newer
reading of the same list replaces an unsent one and is counted in `superseded`, so nothing is
published twice or lost silently. `step()` runs in the publisher's own task and does one short
pass: connect when due, handle incoming messages without blocking, send what is waiting.

Before the first list 2/3 tells the meter id, readings are held (the slot keeps the newest list 1
and counts the ones it replaced): an invented id would make a phantom device in Home Assistant,
and the id arrives within 10 s. The MQTT connection is opened only then, because the Last Will
goes to `<prefix>/<meter_id>/status`.

Faults: `OSError` (network) and the broker's refusal (umqtt's `MQTTException`) close the
connection and schedule a reconnect with exponential back-off; the unsent readings stay in their
slots. umqtt.simple's connect and write block; the UART's receive buffer (two largest frames,
about 18 s at 2400 baud) holds the meter's bytes meanwhile, so no frame is lost.
"""

import jsonout

import log
from backoff import Backoff
from compat import ticks_add, ticks_diff, ticks_ms
from discovery import config_payload, config_topic
from meter import LIST_FULL, LIST_POWER, LIST_TOTALS, list_of

_SLOTS = (LIST_POWER, LIST_FULL, LIST_TOTALS)
_DISCOVERY_BATCH = 4  # discovery configs sent per pass, so one pass stays short
_MESSAGE_MAX = 2048  # a state with every key is about 1.2 KB, the diagnostics about 1 KB

# CONNACK return codes (MQTT 3.1.1 section 3.2.2.3) as umqtt's MQTTException carries them.
_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def _always():
    return True


def refusal_text(exc):
    """Say what went wrong in words, for the log."""
    if type(exc).__name__ == "MQTTException" and exc.args:
        code = exc.args[0]
        return "broker refused the connection: {} (code {})".format(
            _REFUSALS.get(code, "unknown reason"), code
        )
    return "{}: {}".format(type(exc).__name__, exc)


class Publisher:
    def __init__(
        self,
        make_client,
        meter,
        prefix="hanport",
        discovery=None,
        state=True,
        per_value_topics=False,
        keepalive_s=60,
        clock=ticks_ms,
        backoff=None,
        network_up=None,
        diagnostics=None,
        diagnostics_ms=0,
    ):
        self._make_client = make_client
        self.meter = meter
        self.prefix = prefix
        self.discovery = discovery
        self.state = state
        self.per_value_topics = per_value_topics
        self.keepalive_ms = keepalive_s * 1000
        self._clock = clock
        self.backoff = backoff or Backoff(1000, 120000)
        self.client = None
        self.topic_id = None  # meter id the connection's Last Will was set for
        self.network_up = network_up or _always  # the Wi-Fi keeper's state, in the app
        self.diagnostics = diagnostics  # a callable returning the diagnostics dict
        self.diagnostics_ms = diagnostics_ms
        self._slots = [None, None, None]
        self._out = bytearray(_MESSAGE_MAX)  # every JSON message is written here
        self.oversized_messages = 0
        self._seq = 0
        self._next_try = None
        self._last_tx = 0
        self._last_diag = None
        self.last_error = None
        # counters
        self.published = 0
        self.superseded = 0
        self.connects = 0
        self.failures = 0
        self.births = 0

    @property
    def connected(self):
        return self.client is not None

    def pending(self):
        return sum(1 for s in self._slots if s is not None)

    def offer(self, reading):
        """Keep the reading for the next pass (called from the meter reader; never blocks)."""
        index = _SLOTS.index(list_of(reading))
        if self._slots[index] is not None:
            self.superseded += 1
        self._seq += 1
        self._slots[index] = (self._seq, reading)

    def step(self):
        """One pass: connect if due, read incoming messages, send what waits. Never raises."""
        try:
            self._step()
        except Exception as exc:  # any fault means the connection is in an unknown state
            self._drop(exc)

    def _step(self):
        meter_id = self.meter.id
        if meter_id is None:
            return
        if self.client is not None and self.topic_id != meter_id:
            log.warning("mqtt", "meter id changed to {}; reconnecting", meter_id)
            self.close()
            if self.discovery is not None:
                self.discovery.forget()  # the new meter's sensors are announced as they come
        if self.client is None:
            if not self._connect_due():
                return
            self._connect(meter_id)
        self.client.check_msg()
        if self.discovery is not None and self.discovery.due:
            self._announce()
        self._send_readings()
        self._send_diagnostics()
        if self.keepalive_ms and ticks_diff(self._clock(), self._last_tx) > self.keepalive_ms // 2:
            self.client.ping()
            self._last_tx = self._clock()

    def _connect_due(self):
        if not self.network_up():
            return False
        return self._next_try is None or ticks_diff(self._clock(), self._next_try) >= 0

    def _connect(self, meter_id):
        base = "{}/{}".format(self.prefix, meter_id)
        client = self._make_client()
        client.set_callback(self._on_message)
        client.set_last_will(base + "/status", "offline", retain=True)
        self.client = client  # so a failure below closes its socket
        self.topic_id = meter_id
        client.connect()
        client.publish(base + "/status", "online", retain=True)
        if self.discovery is not None:
            client.subscribe(self.discovery.birth_topic)
            self.discovery.announce_all()
        self.connects += 1
        self.backoff.reset()
        self._next_try = None
        self._last_tx = self._clock()
        self.last_error = None
        log.info("mqtt", "connected; publishing to {}/", base)

    def _on_message(self, topic, msg):
        if self.discovery is None:
            return
        if isinstance(topic, bytes):
            topic = topic.decode()
        if isinstance(msg, bytes):
            msg = msg.decode()
        if self.discovery.on_message(topic, msg):
            self.births += 1
            log.info("mqtt", "Home Assistant came online; announcing sensors again")

    def _announce(self):
        disc = self.discovery
        for _ in range(_DISCOVERY_BATCH):
            if not disc.due:
                return
            key = disc.due[0]
            self.client.publish(
                config_topic(disc.prefix, self.meter.id, key),
                config_payload(key, self.meter, self.prefix).encode(),
                retain=True,
            )
            disc.due.pop(0)
            disc.announced += 1
            self._last_tx = self._clock()

    def _send_readings(self):
        base = "{}/{}".format(self.prefix, self.meter.id)
        while True:
            index = self._oldest()
            if index < 0:
                return
            reading = self._slots[index][1]
            if self.discovery is not None:
                self.discovery.see(reading)
            if self.state:
                # bytes: umqtt.simple takes len() of what it sends, and a str may hold non-ASCII
                self.client.publish(base + "/state", self._json(reading))
            if self.per_value_topics:
                for key in reading:
                    value = reading[key]
                    text = value if isinstance(value, str) else jsonout.number(value)
                    self.client.publish("{}/{}".format(base, key), text.encode())
            self._slots[index] = None  # only now: a failed publish keeps it for the next try
            self.published += 1
            self._last_tx = self._clock()

    def _json(self, obj):
        """The message text of obj in the one preallocated buffer (a view of it), so a message
        needs no heap of its size; a message that does not fit is built the plain way."""
        n = jsonout.into(self._out, obj)
        if n < 0:
            self.oversized_messages += 1
            return jsonout.dumps(obj).encode()
        return memoryview(self._out)[:n]

    def _oldest(self):
        best = -1
        for i in range(len(self._slots)):
            slot = self._slots[i]
            if slot is not None and (best < 0 or slot[0] < self._slots[best][0]):
                best = i
        return best

    def _send_diagnostics(self):
        if self.diagnostics is None or not self.diagnostics_ms:
            return
        now = self._clock()
        if self._last_diag is not None and ticks_diff(now, self._last_diag) < self.diagnostics_ms:
            return
        self._last_diag = now
        topic = "{}/{}/diagnostics".format(self.prefix, self.meter.id)
        self.client.publish(topic, self._json(self.diagnostics()))

    def _drop(self, exc):
        self.failures += 1
        self.last_error = refusal_text(exc)
        delay = self.backoff.fail()
        self._next_try = ticks_add(self._clock(), delay)
        log.error("mqtt", "{}; retry in {} s", self.last_error, delay // 1000)
        self.close()

    def close(self):
        """Forget the connection (the broker publishes the Last Will)."""
        client = self.client
        self.client = None
        if client is not None and client.sock is not None:
            try:
                client.sock.close()
            except Exception:  # already broken; nothing more to do
                pass
