"""Time limits for the blocking socket inside umqtt.simple, and a broker address looked up rarely.

umqtt.simple connects, reads the CONNACK and writes with a blocking socket, and switches it back
to blocking (wait forever) after every check_msg(); from 1.5 (MicroPython v1.25) connect() also
calls settimeout(None), which means the same. In the dongle's one asyncio loop a broker that
accepts but never answers, or a connection that dies mid-write, would then stop everything: the
meter's UART buffer overflows and the watchdog resets the device. `limit(module)` replaces the
`socket` module that umqtt.simple sees with one whose sockets treat "blocking" as "blocking for
at most the time left", so a dead broker costs one bounded pause and an OSError that the
publisher turns into a reconnect with back-off.

The time left comes from a budget: every blocking operation of one publisher pass shares one
deadline (`pass_ms`, from the UART buffer: see `stall_ms`), and no single one waits longer than
`op_ms`. A pass that has used its budget fails at its next blocking operation.

TLS: umqtt.simple hands the socket to `ssl.wrap_socket`, and MicroPython's TLS socket
(extmod/modtls_mbedtls.c) has no settimeout and passes setblocking(True) on to the TCP socket,
which on the ESP32 then waits forever. So umqtt.simple gets `Sockets` as its SSL context too:
it gives the real TCP socket to the real context and returns the TLS socket wrapped like a plain
one, with the time limits applied to the TCP socket underneath (to the TLS socket itself on
CPython, which has them).

Name lookups: getaddrinfo cannot be bounded from Python (on the ESP32 a unicast DNS lookup can
wait about 7 s per DNS server, a `.local` name 5 s before that). So when the DNS server is known
(`server`: (ip, port)), the broker's name is asked by resolve.py's non-blocking query, polled
once per publisher pass until it answers or gives up (5 s; 3 s for mDNS); without a server it
falls back to getaddrinfo. Either way the lookup has passes of its own, the address is kept,
and it is looked up again only after a failed connect and at most every minute; a numeric
address is never looked up. That code runs only while MQTT is not connected, so it is in
mqttconnect.py; `Sockets` keeps what it found.
"""

from compat import const, ticks_add, ticks_diff, ticks_ms

TIMEOUT_S = const(5)  # longest single wait; the watchdog allows 60 s
_ETIMEDOUT = const(110)
_CHAR_BITS = const(11)  # start + 8 data + parity + stop: the slowest the meter's bytes come


def stall_ms(rxbuf, baud):
    """How long one pass may block: 3/4 of the time the UART buffer takes to fill at `baud`."""
    return rxbuf * _CHAR_BITS * 750 // baud


class TimedSocket:
    """A socket whose blocking mode has a time limit; everything else is the socket's own.

    `sock` reads and writes; `timed` takes the time limits (the TCP socket under TLS).
    `received` counts the bytes read (mqttclient.py tells a PINGRESP by it)."""

    def __init__(self, sock, budget, timed=None):
        self._sock = sock
        self._timed = timed or sock
        self._budget = budget
        self._blocking = True
        self.received = 0
        self._timed.settimeout(budget.left_s())

    def setblocking(self, flag):
        self._blocking = flag
        if flag:
            self._timed.settimeout(self._budget.left_s())
        else:
            self._timed.setblocking(False)

    def settimeout(self, seconds):
        """0 means non-blocking; anything else, None included (umqtt.simple 1.5+ connect()
        passes it), means blocking within the budget."""
        self.setblocking(seconds != 0)

    def read(self, *args):
        if self._blocking:  # the time left now, not when blocking mode was set
            self._timed.settimeout(self._budget.left_s())
        data = self._sock.read(*args)
        if data:
            self.received += len(data)
        return data

    def write(self, *args):
        if self._blocking:
            self._timed.settimeout(self._budget.left_s())
        return self._sock.write(*args)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class Sockets:
    """What umqtt.simple imports as `socket`: the real module, but sockets limited by one time
    budget per pass, and the broker's address from the last lookup. With TLS it is also what
    umqtt.simple gets as `ssl` (`wrap_socket`). One object for all of it: each class costs heap.
    """

    def __init__(self, real, pass_ms, op_ms=TIMEOUT_S * 1000, context=None):
        self._real = real
        self.pass_ms = pass_ms
        self.op_ms = min(op_ms, pass_ms)
        self.context = context  # the real SSL context, for wrap_socket
        self._until = None
        # The broker's address, for mqttconnect.lookup():
        self.key = None  # (host, port) of the kept address
        self.found = None  # what getaddrinfo returned for it
        self.looked_at = None
        self.query = None  # resolve.Query while a lookup goes on
        self.stale = False  # a connect failed: look up again (mqttconnect.LOOKUP_MIN_MS)
        self.lookups = 0
        self.malformed = 0  # DNS answers that could not be read

    # -- the time budget --

    def start(self):
        """A new pass begins: the whole budget is available again."""
        self._until = ticks_add(ticks_ms(), self.pass_ms)

    def left_s(self):
        """Seconds the next blocking operation may wait; OSError(ETIMEDOUT) when none."""
        left = self.op_ms
        if self._until is not None:
            rest = ticks_diff(self._until, ticks_ms())
            if rest <= 0:
                raise OSError(_ETIMEDOUT)
            if rest < left:
                left = rest
        return left / 1000

    # -- the socket module --

    def socket(self, *args):
        return TimedSocket(self._real.socket(*args), self)

    def getaddrinfo(self, host, port, *args):
        if self.key == (host, port):  # the kept answer: TCP addresses, as the clients ask
            return self.found
        return self._real.getaddrinfo(host, port, *args)

    def __getattr__(self, name):
        return getattr(self._real, name)

    # -- the ssl context --

    def wrap_socket(self, sock, server_hostname=None):
        raw = sock._sock if isinstance(sock, TimedSocket) else sock
        raw.settimeout(self.left_s())  # the handshake's reads and writes
        wrapped = self.context.wrap_socket(raw, server_hostname=server_hostname)
        # MicroPython's TLS socket has no settimeout: limit the TCP socket under it.
        return TimedSocket(wrapped, self, wrapped if hasattr(wrapped, "settimeout") else raw)


def limit(client_module, socket_module, pass_ms, op_ms=TIMEOUT_S * 1000, context=None):
    """Give client_module (umqtt.simple) sockets limited per pass; returns the stand-in module.

    Idempotent: a second call keeps the real module and takes the new limits."""
    current = client_module.socket
    real = current._real if isinstance(current, Sockets) else socket_module
    client_module.socket = Sockets(real, pass_ms, op_ms, context)
    return client_module.socket
