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
about 18 s at 2400 baud) holds the meter's bytes meanwhile, so no frame is lost. Every socket
operation is bounded (timedsock.py): one pass's operations share a budget of 3/4 of the time the
UART buffer takes to fill, and the broker's name is looked up in a pass of its own, rarely. When
Wi-Fi drops, the connection is closed at once and opened again when the link is back.

A broker that hangs (frozen, or the path to it dead without a reset) accepts QoS 0 messages into
the socket buffer and says nothing. So a PINGREQ follows every batch of QoS 0 readings (and one
goes out every keepalive/2 when idle), at most one at a time: its PINGRESP proves that the broker
read everything before it, and only then are those readings counted in `published`. A ping not
answered within PONG_WAIT_MS means the session is dead: reconnect, and the readings it was to
confirm are counted in `lost`. The hourly list 3 (the energy totals) goes with QoS 1 and leaves
its slot only when the broker's PUBACK came, so it is re-sent after a reconnect until
acknowledged; umqtt.simple waits for that PUBACK inside publish(), for at most the socket's
5 s limit.

Home Assistant takes a state only once the sensor's discovery config was processed. Readings
therefore wait in their slots while discovery configs are due (new keys, a reconnect, Home
Assistant's birth message) and for SETTLE_MS after the last one. After a reconnect or a birth,
the energy totals of the last list 3 go out again (unless a newer list 3 waits in its slot,
which then goes instead; a newer one also replaces a queued re-send), so a Home Assistant that
(re)started has them without waiting an hour, and no total goes back; lists 1 and 2 bring the
other values within seconds. Only the few totals are kept for this, not the whole reading.
"""

import sys

import jsonout
import log
from backoff import Backoff
from compat import const, ticks_add, ticks_diff, ticks_ms
from meter import LIST_FULL, LIST_POWER, LIST_TOTALS, list_of

_SLOTS = (LIST_POWER, LIST_FULL, LIST_TOTALS)
PONG_WAIT_MS = const(10000)  # a ping unanswered this long (or keepalive, if less) = dead session
SETTLE_MS = const(1000)  # after a discovery config, before states: Home Assistant adds the sensor
_MAX_SENSORS = 80  # bound on announced keys; the whole vocabulary has about 60
_MAX_OTHERS = 24  # bound on the remembered keys that are not sensors (ids, clock, texts)
_MESSAGE_MAX = 2048  # a state with every key is about 1.2 KB, the diagnostics about 1 KB

_loaded_sensors = [False]  # whether _configs() brought sensors.py in (then it takes it out)


def _configs():
    """discovery.py, which writes the sensors' configs from sensors.py's table: imported when a
    key is new, a config is due or a list 3's totals are kept, and dropped again once nothing is
    due (Publisher._configs_done), so its code and the table (about 5 KB) are in the heap only
    then."""
    if "discovery" not in sys.modules:
        _loaded_sensors[0] = "sensors" not in sys.modules
    import discovery

    return discovery


class Discovery:
    """Which Home Assistant sensors are known and which still need announcing; the publisher
    sends their configs (discovery.py) a few per pass.

    Only this bookkeeping stays in the heap. Keys that are not sensors (the meter id, its clock)
    are remembered too, so a reading of known keys never needs discovery.py. Home Assistant's
    birth is heard by Publisher._on_message, a new meter forgotten by mqttconnect.forget."""

    def __init__(self, discovery_prefix="homeassistant"):
        self.prefix = discovery_prefix
        self.birth_topic = discovery_prefix + "/status"
        self.known = []  # sensor keys seen, in order; bounded by _MAX_SENSORS
        self.others = []  # keys seen that are no sensor; bounded by _MAX_OTHERS
        self.due = []  # keys to announce next
        self.announced = 0
        self.overflows = 0
        self.extra = ()

    def see(self, reading):
        """Queue any sensor key this reading carries that was not seen before."""
        for key in reading:
            if key in self.known or key in self.others:
                continue
            if _configs().kind_of(key) is None:
                if len(self.others) < _MAX_OTHERS:
                    self.others.append(key)
            elif len(self.known) >= _MAX_SENSORS:
                self.overflows += 1
            else:
                self.known.append(key)
                self.due.append(key)

    def add(self, rows):
        """Announce these sensors of other topics too (rows as discovery.config_payload's
        `extra`: the energy mode's)."""
        self.extra = rows
        for row in rows:
            if row[0] not in self.known:
                self.known.append(row[0])
                self.due.append(row[0])


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
        out=None,
    ):
        self._make_client = make_client
        # The umqtt factory's hooks (mqttclient.py); a plain callable has none.
        self._pass_begins = getattr(make_client, "pass_begins", None)
        self._lookup = getattr(make_client, "lookup", None)
        self.meter = meter
        self.prefix = prefix
        self.discovery = discovery
        self.state = state
        self.per_value_topics = per_value_topics
        self.keepalive_ms = keepalive_s * 1000
        self._clock = clock
        self.backoff = backoff or Backoff(1000, 120000)
        self.client = None
        self.connected = False  # from a connect that worked until close()
        self.topic_id = None  # meter id the connection's Last Will was set for
        self.network_up = network_up  # the Wi-Fi keeper's state, in the app; None: always up
        self.diagnostics = diagnostics  # a callable returning the diagnostics dict
        self.diagnostics_ms = diagnostics_ms
        self.energy = None  # energymode.EnergyMode, when that mode is on (energymode.attach)
        self._slots = [None, None, None]  # type: list  # (seq, reading, is_resend) per list
        self._totals = None  # the energy totals of the last list 3 sent, to send again
        # Every JSON message is written here; the app makes it early at boot (builder.py).
        self._out = bytearray(_MESSAGE_MAX) if out is None else out
        self.oversized_messages = 0
        self._seq = 0
        self._next_try = None
        self._last_ping = 0
        self._ping_at = None  # when the unanswered ping went out
        self._pongs = 0  # client.pongs when it went out
        self._unconfirmed = 0  # QoS 0 readings written since the last ping
        self._awaiting = 0  # QoS 0 readings that the unanswered ping will confirm
        self._settle_until = None
        self._last_diag = None
        self.last_error = None
        # counters
        self.published = 0  # readings the broker is known to have received
        self.superseded = 0
        self.lost = 0  # QoS 0 readings written into a session that died before confirming them
        self.resent = 0  # last readings sent again for a (re)started Home Assistant
        self.connects = 0
        self.failures = 0  # failed passes (network, broker, out of memory): each backs off
        self.births = 0
        self.energy_messages = 0
        if discovery is not None:
            # discovery.py and sensors.py once now, while the boot's heap is tidy, and out again
            # at once: their names are interned for good (qstrs are never freed), so the first
            # announcement needs no new qstr chunks in a heap that is full and fragmented.
            _configs()
            self._configs_done()

    def offer(self, reading):
        """Keep the reading for the next pass (called from the meter reader; never blocks)."""
        index = _SLOTS.index(list_of(reading))
        slot = self._slots[index]
        if slot is not None and not slot[2]:
            self.superseded += 1
        self._seq += 1
        self._slots[index] = (self._seq, reading, False)

    def step(self):
        """One pass: connect if due, read incoming messages, send what waits. Never raises.

        A fault leaves the connection in an unknown state: it is closed, and the next connect
        waits the back-off. Running out of memory while connected is different: it comes while
        a message is built or code is loaded, between packets (a packet cut short would fail
        the next ping), so the session stays and only the sending waits the back-off, counted
        and logged. The back-off starts over only after a pass that sent what was due, so a
        heap too small for announcing means ever longer waits (up to 2 minutes), not a
        reconnect and a reloaded discovery.py every second."""
        try:
            self._step()
        except Exception as exc:
            self.failures += 1
            delay = self.backoff.fail()
            self._next_try = ticks_add(self._clock(), delay)
            if not (self.connected and isinstance(exc, MemoryError)):
                self.close()
            if type(exc).__name__ == "MQTTException":  # umqtt.simple's: the broker refused
                import mqttconnect  # the words for it; stays until connected again

                self.last_error = mqttconnect.refusal_text(exc)
            else:  # no import here: after a MemoryError the heap has no room for more code
                self.last_error = "{}: {}".format(type(exc).__name__, exc)
            log.error("mqtt", "{}; retry in {} s", self.last_error, delay // 1000)
        self._configs_done()

    def _announcing(self):
        """Sensors' configs are due, or the states wait SETTLE_MS after them."""
        disc = self.discovery
        if disc is None:
            return False
        if disc.due:
            return True
        settle = self._settle_until
        return settle is not None and ticks_diff(self._clock(), settle) < 0

    def _configs_done(self):
        """discovery.py (and sensors.py, when it brought it in) out of sys.modules once the
        configs and the states after them went (a list 3's totals are kept then), or when the
        connection is gone or waits after a MemoryError: it comes back with the next
        announcement."""
        if self.discovery is not None and "discovery" in sys.modules:
            if self.client is None or self._next_try is not None or not self._announcing():
                sys.modules.pop("discovery")
                if _loaded_sensors[0]:  # else someone else uses it (web/metrics.py)
                    sys.modules.pop("sensors", None)

    def _step(self):
        if self._pass_begins is not None:
            self._pass_begins()  # the socket operations of this pass share one time budget
        meter_id = self.meter.id
        if meter_id is None:
            return
        up = self.network_up is None or self.network_up()
        if self.client is not None and not up:
            log.warning("mqtt", "Wi-Fi down; connection closed")
            self.close()  # a socket on a dead link only waits; a fresh one follows the link
        if self.client is not None and self.topic_id != meter_id:
            log.warning("mqtt", "meter id changed to {}; reconnecting", meter_id)
            self.close()  # the connect forgets the old meter's sensors and totals
        if self.client is None:
            waiting = self._next_try is not None and ticks_diff(self._clock(), self._next_try) < 0
            if waiting or not up:
                return
            if self._lookup is not None and self._lookup():
                return  # the name lookup had this pass; connecting waits for the next
            import mqttconnect  # the code that opens a session: in the heap only while unconnected

            self.client = self._make_client()  # set first, so a failure closes its socket
            mqttconnect.connect(self, meter_id)
            sys.modules.pop("mqttconnect")  # connected: out of the heap before the configs come in
            del mqttconnect  # this name too, or the module lives on until the pass ends
        self.client.check_msg()
        if self._next_try is None or ticks_diff(self._clock(), self._next_try) >= 0:
            if self.discovery is not None and self.discovery.due:
                _configs().announce(self)  # a few configs, written into self._out
            self._send_readings()  # each after the configs of its keys, and SETTLE_MS
            if not self._announcing():  # the energy message and diagnostics too
                self._configs_done()  # before the diagnostics: never both codes in the heap
                self._send_extras()
            if self._next_try is not None:  # what was due went: the back-off starts over
                self._next_try = None
                self.last_error = None
                self.backoff.reset()
        self._keep_alive()

    def _send_again(self):
        """Queue the last energy totals again, unless a newer list 3 waits; the energy message
        too (from the present state, so never older than the one the broker may hold)."""
        if self.energy is not None:
            self.energy.again()
        index = _SLOTS.index(LIST_TOTALS)
        if self._slots[index] is None and self._totals is not None:
            self._seq += 1
            self._slots[index] = (self._seq, self._totals, True)

    def _on_message(self, topic, msg):
        """Home Assistant coming online (its birth message) queues every known sensor again, as
        a connect does, and the last totals."""
        disc = self.discovery
        if disc is None:
            return
        if isinstance(topic, bytes):
            topic = topic.decode()
        if isinstance(msg, bytes):
            msg = msg.decode()
        if topic == disc.birth_topic and msg == "online":
            disc.due = list(disc.known)
            self.births += 1
            self._send_again()
            log.info("mqtt", "Home Assistant came online; announcing sensors again")

    def _send_readings(self):
        """The waiting readings, oldest first, each once its keys' configs went."""
        disc = self.discovery
        slots = self._slots
        while True:
            index = -1
            for i in range(len(slots)):
                if slots[i] is not None and (index < 0 or slots[i][0] < slots[index][0]):
                    index = i
            if index < 0:
                return
            reading = slots[index][1]
            if disc is not None:
                disc.see(reading)  # new keys: their configs go out before this state
                if disc.due:
                    return
            if self._settle_until is not None:
                if ticks_diff(self._clock(), self._settle_until) < 0:
                    return
                self._settle_until = None
            base = "{}/{}".format(self.prefix, self.meter.id)
            client = self.client
            qos = 1 if _SLOTS[index] == LIST_TOTALS else 0  # the energy totals: until acknowledged
            if self.per_value_topics:
                for key in reading:
                    value = reading[key]
                    text = value if isinstance(value, str) else jsonout.number(value)
                    topic = "{}/{}".format(base, key)
                    client.publish(topic, text.encode(), False, 0 if self.state else qos)
            if self.state:
                # bytes: umqtt.simple takes len() of what it sends, and a str may hold non-ASCII
                client.publish(base + "/state", self._json(reading), False, qos)
            again = slots[index][2]
            slots[index] = None  # only now: a failed publish keeps it for the next try
            if qos and not again and disc is not None:
                self._totals = _configs().totals_of(reading)
            if again:
                self.resent += 1
            elif qos:  # the PUBACK also confirms every QoS 0 reading written before
                self.published += self._unconfirmed + 1
                self._unconfirmed = 0
            else:
                self._unconfirmed += 1

    def _send_extras(self):
        """The energy message and the diagnostics, when due (never while announcing).

        The energy message is retained: a (re)started Home Assistant gets the newest at once.
        It is built from the accounting's present state each time, so a newer total is never
        followed by an older one (closed hours are final)."""
        energy = self.energy
        if energy is not None and energy.due():
            topic = "{}/{}/energy".format(self.prefix, self.meter.id)
            self.client.publish(topic, self._json(energy.message()), True)
            energy.sent()
            self.energy_messages += 1
        if self.diagnostics is None or not self.diagnostics_ms:
            return
        now = self._clock()
        if self._last_diag is not None and ticks_diff(now, self._last_diag) < self.diagnostics_ms:
            return
        self._last_diag = now
        topic = "{}/{}/diagnostics".format(self.prefix, self.meter.id)
        self.client.publish(topic, self._json(self.diagnostics()))

    def _keep_alive(self):
        """Ping after unconfirmed readings or when idle; reconnect when a ping is not answered."""
        client = self.client
        now = self._clock()
        if self._ping_at is not None:
            if client.pongs == self._pongs:
                wait_ms = min(PONG_WAIT_MS, self.keepalive_ms or PONG_WAIT_MS)
                if ticks_diff(now, self._ping_at) < wait_ms:
                    return
                raise OSError("no answer to a ping in {} s".format(wait_ms // 1000))
            self.published += self._awaiting
            self._awaiting = 0
            self._ping_at = None
        idle = self.keepalive_ms and ticks_diff(now, self._last_ping) >= self.keepalive_ms // 2
        if self._unconfirmed or idle:
            self._pongs = client.pongs
            client.ping()
            self._ping_at = now
            self._last_ping = now
            self._awaiting = self._unconfirmed
            self._unconfirmed = 0

    def _json(self, obj):
        """The message text of obj in the one preallocated buffer (a view of it), so a message
        needs no heap of its size; a message that does not fit is built the plain way."""
        n = jsonout.into(self._out, obj)
        if n < 0:
            self.oversized_messages += 1
            return jsonout.dumps(obj).encode()
        return memoryview(self._out)[:n]

    def close(self):
        """Forget the connection (the broker publishes the Last Will)."""
        client = self.client
        self.client = None
        self.connected = False
        self.lost += self._unconfirmed + self._awaiting
        self._unconfirmed = 0
        self._awaiting = 0
        self._ping_at = None
        if client is not None and client.sock is not None:
            try:
                client.sock.close()
            except Exception:  # already broken; nothing more to do
                pass
