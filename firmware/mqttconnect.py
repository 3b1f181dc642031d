"""Opening an MQTT session for the publisher, and the words for why one failed.

Used only while the publisher is not connected (its connect, the failure that ends a session):
publisher.py imports it then and drops it once connected, so this code and its texts are not in
the heap while readings flow.
"""

import log

# CONNACK return codes (MQTT 3.1.1 section 3.2.2.3) as umqtt's MQTTException carries them.
_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def connect(pub, meter_id):
    """Connect pub's new client (Last Will on the status topic), say online, subscribe to Home
    Assistant's birth and queue the sensors' configs and the last totals (Publisher._step).

    The back-off is not reset here but when the session answered a ping (Publisher._keep_alive):
    a session that fails at once (say, out of memory while announcing) waits longer each time."""
    if pub.topic_id is not None and pub.topic_id != meter_id:  # a different meter
        pub._totals = None  # the old meter's totals are not the new one's
        if pub.discovery is not None:
            pub.discovery.forget()  # the new meter's sensors are announced as they come
    pub.topic_id = meter_id
    base = "{}/{}".format(pub.prefix, meter_id)
    client = pub.client
    client.set_callback(pub._on_message)
    client.set_last_will(base + "/status", "offline", retain=True)
    client.connect()
    client.publish(base + "/status", "online", retain=True)
    if pub.discovery is not None:
        client.subscribe(pub.discovery.birth_topic)
        pub.discovery.due = list(pub.discovery.known)  # every sensor again
    pub._send_again()  # Home Assistant may have restarted while we were away
    pub.connected = True
    pub.connects += 1
    pub._next_try = None
    pub._last_ping = pub._clock()
    pub.last_error = None
    log.info("mqtt", "connected; publishing to {}/", base)


def refusal_text(exc):
    """Say what went wrong in words, for the log (umqtt.simple's MQTTException)."""
    if exc.args:
        code = exc.args[0]
        return "broker refused the connection: {} (code {})".format(
            _REFUSALS.get(code, "unknown reason"), code
        )
    return "{}: {}".format(type(exc).__name__, exc)
