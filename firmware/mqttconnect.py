"""Opening an MQTT session for the publisher: the broker's address, the connect, and the words
for why one failed.

Used only while the publisher is not connected (the name lookup, its connect, the failure that
ends a session): publisher.py and mqttclient.py import it then, and the publisher drops it once
connected, so this code and its texts are not in the heap while readings flow.
"""

import log
from compat import const, ticks_diff, ticks_ms

LOOKUP_MIN_MS = const(60000)  # a failing broker's name is looked up again at most this often

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

    The back-off is not reset here but after the first pass that sent what was due
    (Publisher._step): a session that fails at once waits longer each time."""
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


def lookup_due(sockets, host, port):
    """Whether the broker's name is to be looked up (timedsock.Sockets keeps the address): the
    first time, after a failed connect at most every LOOKUP_MIN_MS, never a numeric address."""
    parts = host.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return False
    if sockets.query is not None or sockets.key != (host, port):
        return True
    return sockets.stale and ticks_diff(ticks_ms(), sockets.looked_at) >= LOOKUP_MIN_MS


def lookup(sockets, host, port, server=None):
    """One step of looking host up into sockets; never blocks when `server` (ip, port, mdns) is
    known (resolve.py's query, polled once per pass), else getaddrinfo does it all.

    True while the answer is awaited (call again in a later pass), False when done; a failure
    keeps the old address, or raises OSError when there is none."""
    real = sockets._real
    if sockets.query is None:
        sockets.looked_at = ticks_ms()
        sockets.lookups += 1
    try:
        if server is None:
            ip = host  # getaddrinfo does it all, blocking
        else:
            if sockets.query is None:
                import resolve

                sockets.query = resolve.Query(real, host, server)
            ip = sockets.query.poll()
            if ip is None:
                return True
            _forget_query(sockets)
        found = real.getaddrinfo(ip, port, 0, real.SOCK_STREAM)
    except (OSError, ValueError):  # ValueError: a name that cannot be asked
        _forget_query(sockets)
        if sockets.key != (host, port):
            raise
        return False
    sockets.key = (host, port)
    sockets.found = found
    sockets.stale = False
    return False


def _forget_query(sockets):
    query = sockets.query
    if query is not None:
        sockets.query = None
        query.close()
        sockets.malformed += query.malformed
        import sys

        sys.modules.pop("resolve", None)  # its code is needed again in a minute at most


def dns_server(wlan):
    """(ip, port, mdns) of the station's DNS server, or None when there is none to ask.

    The ESP32's WLAN has it in ifconfig()[3], port 53, and mDNS goes to the multicast group
    (mdns None); the host twin's WLAN has a `dns_port`, None unless a test set one (then
    getaddrinfo is used, as with no server), and an `mdns` address on 127.0.0.1."""
    if wlan is None:
        return None
    port = getattr(wlan, "dns_port", 53)
    try:
        ip = wlan.ifconfig()[3]
    except (OSError, IndexError):
        return None
    if not port or not ip or ip == "0.0.0.0":
        return None
    return ip, port, getattr(wlan, "mdns", None)
