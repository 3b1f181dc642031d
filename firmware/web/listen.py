"""Opens httpd.py's listening socket: run once at start, then dropped from the heap.

The listener is non-blocking and polled by the server's own accept task; `_BACKLOG` connections
wait in the network stack (TCP PCBs, not sockets) until a slot and a socket are free.
"""

import select
import socket

import log
from compat import const

_BACKLOG = const(8)


def listen(host, port):
    """Bind `host`:`port`: (the listener, its poll, the port it got)."""
    family, _, _, _, address = socket.getaddrinfo(host, port)[0]
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(address)
    listener.listen(_BACKLOG)
    listener.setblocking(False)
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    if port == 0:  # CPython tests: the port the system chose (MicroPython has no getsockname)
        port = getattr(listener, "getsockname")()[1]
    log.info("http", "listening on port {}", port)
    # ipoll allocates nothing; the poller lives on in the bound method
    return listener, getattr(poller, "ipoll", poller.poll), port
