"""Time limits for the blocking socket inside umqtt.simple.

umqtt.simple connects, reads the CONNACK and writes with a blocking socket, and switches it back
to blocking (wait forever) after every check_msg(); from 1.5 (MicroPython v1.25) connect() also
calls settimeout(None), which means the same. In the dongle's one asyncio loop a broker
that accepts but never answers, or a connection that dies mid-write, would then stop everything:
the meter's UART buffer overflows and the watchdog resets the device. `limit(module)` replaces
the `socket` module that umqtt.simple sees with one whose sockets treat "blocking" as "blocking
for at most TIMEOUT_S", so a dead broker costs one bounded pause and an OSError that the
publisher turns into a reconnect with back-off.

TLS is left alone: ssl.wrap_socket needs the real socket object, so with TLS only the TCP
connect is bounded (the socket starts with the time limit, which the wrap keeps until
umqtt.simple switches it to blocking).
"""

from compat import const

TIMEOUT_S = const(5)  # UART buffer holds ~18 s of meter data; the watchdog allows 60 s


class TimedSocket:
    """A socket whose blocking mode has a time limit; everything else is the socket's own."""

    def __init__(self, sock, timeout_s):
        self._sock = sock
        self._timeout_s = timeout_s
        sock.settimeout(timeout_s)

    def setblocking(self, flag):
        if flag:
            self._sock.settimeout(self._timeout_s)
        else:
            self._sock.setblocking(False)

    def settimeout(self, seconds):
        """None (umqtt.simple 1.5+ connect() passes it) and anything longer mean our limit."""
        if seconds is None or seconds > self._timeout_s:
            seconds = self._timeout_s
        self._sock.settimeout(seconds)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _SocketModule:
    """What umqtt.simple imports as `socket`: the real module, but sockets with a time limit."""

    def __init__(self, real, timeout_s, wrap):
        self._real = real
        self._timeout_s = timeout_s
        self._wrap = wrap

    def socket(self, *args):
        sock = self._real.socket(*args)
        if self._wrap:
            return TimedSocket(sock, self._timeout_s)
        sock.settimeout(self._timeout_s)
        return sock

    def __getattr__(self, name):
        return getattr(self._real, name)


def limit(client_module, socket_module, timeout_s=TIMEOUT_S, tls=False):
    """Give client_module (umqtt.simple) sockets with a time limit. Idempotent."""
    current = client_module.socket
    real = current._real if isinstance(current, _SocketModule) else socket_module
    client_module.socket = _SocketModule(real, timeout_s, not tls)
