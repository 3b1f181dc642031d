"""Runs inside the MicroPython VM (and CPython): the HTTP server's request path on fake streams.

Why: the VM has no sockets, but everything httpd.py does between the socket and the handler runs
here unchanged: reading the head into the slot buffer, parsing, routing, writing in pieces. Prints
one JSON line: the status of each request and the memory it took. On MicroPython that is the
bytes allocated (gc.mem_alloc delta: garbage included, as the VM collects only at top level);
on CPython the peak of live bytes over the request (tracemalloc).

The VM's asyncio runs on the browser event loop (no asyncio.run, and wait_for needs that loop):
the fake streams never block, so a coroutine here finishes in one step, and wait_for is replaced
by a plain await (the real one adds a small task per read on the device).
"""

import asyncio
import gc
import json

CPYTHON = not hasattr(gc, "mem_alloc")
if CPYTHON:
    import tracemalloc

    tracemalloc.start()


def mem_alloc():
    """MicroPython: bytes allocated so far; CPython: bytes live now."""
    if CPYTHON:
        return tracemalloc.get_traced_memory()[0]
    return gc.mem_alloc()


def mem_used_since(start):
    """MicroPython: bytes allocated since start; CPython: peak live bytes above start."""
    if CPYTHON:
        return tracemalloc.get_traced_memory()[1] - start
    return gc.mem_alloc() - start

from web import httpd, metrics
from web.state import State

LIST3 = {
    "meter_manufacturer": "Aidon",
    "list_ver_id": "AIDON_V0001",
    "meter_id": "7359992890941742",
    "meter_type": "6525",
    "meter_datetime": "2022-10-15T20:00:00",
    "active_power_import": 1510,
    "active_power_export": 0,
    "reactive_power_import": 100,
    "reactive_power_export": 0,
    "current_l1": 2.5,
    "current_l2": 1.2,
    "current_l3": 0.9,
    "voltage_l1": 230.1,
    "voltage_l2": 231.0,
    "voltage_l3": 229.8,
    "active_power_import_total": 12345670,
    "active_power_export_total": 0,
    "reactive_power_import_total": 500,
    "reactive_power_export_total": 10,
}


class Stream:
    """A connection: gives the request in small pieces, counts what the server writes."""

    def __init__(self, request, piece=64):
        self.request = request
        self.pos = 0
        self.piece = piece
        self.sent = 0
        self.first = b""

    async def readinto(self, buf):
        n = min(len(buf), len(self.request) - self.pos, self.piece)
        buf[:n] = self.request[self.pos : self.pos + n]
        self.pos += n
        return n

    async def read(self, n):
        n = min(n, len(self.request) - self.pos, self.piece)
        self.pos += n
        return self.request[self.pos - n : self.pos]

    def write(self, data):
        if not self.first:
            self.first = bytes(data[:12])
        self.sent += len(data)

    async def drain(self):
        pass

    def close(self):
        pass

    async def wait_closed(self):
        pass

    def setblocking(self, flag):
        pass


async def stream_pair(sock, peer):
    """The fake connection is its own reader and writer (httpd takes it as the accepted socket)."""
    return sock, sock


httpd.stream_pair = stream_pair
PEER = ("127.0.0.1", 50000)
COUNTERS = (
    "http_requests",
    "http_refused",
    "http_bad_requests",
    "http_too_large",
    "http_timeouts",
    "http_errors",
    "http_accept_failures",
)


def make_handler(state):
    async def handle(req, resp):
        if req.path == "/api/v1/reading":
            await resp.send(200, json.dumps(state.snapshot()), "application/json")
        elif req.path == "/metrics":
            lines = metrics.lines(state.values, state.lists(), {"frames_ok": 5}, {})
            await resp.send(200, lines, "text/plain; version=0.0.4")
        else:
            await resp.send(404, "not found\n")

    return handle


REQUESTS = (
    ("reading", b"GET /api/v1/reading HTTP/1.1\r\nHost: 192.168.4.1\r\nUser-Agent: t\r\n\r\n"),
    ("metrics", b"GET /metrics HTTP/1.1\r\nHost: 192.168.4.1\r\nAccept: */*\r\n\r\n"),
    ("missing", b"GET /nope HTTP/1.1\r\n\r\n"),
    ("garbage", b"GARBAGE\r\n\r\n"),
    ("oversized", b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 1500 + b"\r\n\r\n"),
)


async def main():
    gc.collect()
    before = mem_alloc()
    state = State()
    server = httpd.Server(make_handler(state))
    made = mem_alloc() - before
    state.update(LIST3)
    state.update({"active_power_import": 1234})
    result = {"server_alloc": made, "requests": {}}
    for name, request in REQUESTS:
        for _ in range(2):  # warm up: first-call allocations (interned names, caches)
            await server._serve(Stream(request), PEER)
        stream = Stream(request)
        gc.collect()
        if CPYTHON:
            tracemalloc.reset_peak()
        start = mem_alloc()
        await server._serve(stream, PEER)
        alloc = mem_used_since(start)
        result["requests"][name] = {
            "status": int(stream.first.split(b" ")[1]),
            "alloc": alloc,
            "bytes_out": stream.sent,
        }
    result["counters"] = {name: getattr(server, name) for name in COUNTERS}
    print(json.dumps(result))


if CPYTHON:
    run = asyncio.run
else:

    async def _wait_for(awaitable, timeout):
        return await awaitable

    asyncio.wait_for = _wait_for

    def run(coro):
        try:
            coro.send(None)
        except StopIteration:
            return
        raise RuntimeError("a fake stream blocked")


run(main())
