"""A small, bounded HTTP/1.1 server on `asyncio.start_server`, sharing the app's one loop.

Why our own: the dongle needs a handful of routes, and every resource must have a bound that a
phone on the Wi-Fi cannot push past. What it does and leaves out:
  - at most `MAX_CLIENTS` connections are served at once; each takes one of the slots made in the
    constructor (a head buffer and an output buffer), so serving allocates little. A connection
    arriving when all slots are busy gets a fixed 503 and is counted in `refused`. One client
    (one address) may hold all slots but one: the last free slot is kept for a client that holds
    none, so one that reconnects as fast as it is answered cannot starve the others;
  - sockets: the ESP32 has 10 in all (this listener, MQTT, setup mode's DNS, ...). At most
    `SOCKETS` connections are open at once (the slots and one being refused); more wait in the
    listen backlog, not accepted, so MQTT always finds a socket. The listener is polled (without
    allocating) by our own task, not asyncio.start_server's, whose accept loop retries a failed
    accept (no socket left) at once and forever; here a failed accept waits `_ACCEPT_RETRY_MS`;
  - password guessing slows down per client: `guard` (web/authguard.py, loaded at the first
    wrong password) is kept here for the routes to ask;
  - the request line plus headers must fit `HEAD_MAX` bytes (431 otherwise), the body
    `BODY_MAX` bytes and needs a Content-Length (413 / 411); a malformed head gets 400;
  - the head and the body each have a deadline (`timeout_ms`): a client that sends too slowly
    gets 408, one that does not read its answer is dropped;
  - every answer says `Connection: close`: one request per connection, no keep-alive or
    pipelining, no chunked request bodies;
  - answers are written in pieces through the slot's output buffer, never built by `+`.
Routing is the caller's: `handler(request, response)` is a coroutine; if it raises, the client
gets a 500 (when nothing was sent yet) and the error is counted. All I/O awaits, so a client
never holds up the meter reader task.
"""

import asyncio
import binascii

import log
from compat import const, sleep_ms, stream_pair, ticks_add, ticks_diff, ticks_ms

MAX_CLIENTS = const(4)  # connections served at once; more are refused with 503
SOCKETS = const(5)  # connections open at once: the slots and one refusal; the rest wait unaccepted
HEAD_MAX = const(1024)  # request line + headers, bytes
BODY_MAX = const(2048)  # request body, bytes (the settings JSON is about 500)
OUT_MAX = const(512)  # output buffer per slot: small writes are gathered up to this
TIMEOUT_MS = const(5000)  # deadline for the head, for the body, and for each flush

_REASONS = {
    200: "OK",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\nbusy\n"
)
_DRAIN_MAX = const(16384)  # after an error answer, unread request bytes read and dropped, so
_DRAIN_MS = const(200)  # closing does not reset the connection before the client reads it
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS")
_BACKLOG = const(8)  # connections the network stack holds before we accept them (TCP PCBs, not sockets)
_ACCEPT_MS = const(20)  # listener poll period
_ACCEPT_RETRY_MS = const(500)  # after a failed accept (no socket or memory free)
_EAGAIN = const(11)


class HTTPError(Exception):
    """Raised while reading a request: the status to answer and why."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Request:
    def __init__(self):
        self.method = ""
        self.path = ""
        self.query = ""
        self.host = ""
        self.authorization = ""
        self.content_type = ""
        self.content_length = None
        self.body = b""
        self.peer = None

    def basic_auth(self):
        """(user, password) from an `Authorization: Basic` header, or None."""
        kind, _, token = self.authorization.partition(" ")
        if kind.lower() != "basic" or not token:
            return None
        try:
            user, sep, password = binascii.a2b_base64(token.strip()).decode().partition(":")
        except (ValueError, UnicodeError):
            return None
        return (user, password) if sep else None


class Response:
    """Writes one answer through a slot's output buffer; `started` once the status line is out."""

    def __init__(self, writer, buf, timeout_ms):
        self._writer = writer
        self._buf = buf
        self._view = memoryview(buf)
        self._used = 0
        self._timeout_s = timeout_ms / 1000
        self.started = False
        self.status = 0
        self.head_only = False
        self._in_body = False
        self.bytes_out = 0

    async def start(self, status, content_type="text/plain", length=None, headers=None):
        """Send the status line and headers; `headers` is a tuple of (name, value) pairs."""
        self.started = True
        self.status = status
        await self.write(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nConnection: close\r\n".format(
                status, _REASONS.get(status, "Status"), content_type
            )
        )
        if length is not None:
            await self.write("Content-Length: {}\r\n".format(length))
        if headers:
            for name, value in headers:
                await self.write("{}: {}\r\n".format(name, value))
        await self.write("Cache-Control: no-store\r\n\r\n")
        self._in_body = True  # a HEAD answer stops here

    async def write(self, data):
        """Queue text or bytes; flushes when the buffer fills. A HEAD answer drops the body."""
        if self.head_only and self._in_body:
            return
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        if self._used + n > OUT_MAX:
            await self.flush()
        if n > OUT_MAX:
            await self._send(data)
            return
        self._view[self._used : self._used + n] = data
        self._used += n

    async def flush(self):
        if self._used:
            used = self._used
            self._used = 0
            await self._send(bytes(self._view[:used]))

    async def _send(self, data):
        self.bytes_out += len(data)
        self._writer.write(data)
        await asyncio.wait_for(self._writer.drain(), self._timeout_s)

    async def write_file(self, f):
        """Copy an open binary file to the client through this slot's own buffer."""
        await self.flush()
        if self.head_only:
            return
        while True:
            n = f.readinto(self._buf)
            if not n:
                return
            self._used = n
            await self.flush()

    async def send(self, status, body, content_type="text/plain", headers=None):
        """A whole small answer with its Content-Length."""
        if isinstance(body, str):
            body = body.encode()
        await self.start(status, content_type, len(body), headers)
        await self.write(body)


def _address(peer):
    """The client's IP address from an accept() or peername address (a tuple; the unix port
    gives a raw sockaddr_in as bytes)."""
    if isinstance(peer, tuple):
        return str(peer[0])
    if isinstance(peer, (bytes, bytearray)) and len(peer) >= 8:
        return "{}.{}.{}.{}".format(peer[4], peer[5], peer[6], peer[7])
    return "" if peer is None else str(peer)


class _Slot:
    def __init__(self):
        self.head = bytearray(HEAD_MAX)
        self.out = bytearray(OUT_MAX)
        self.busy = False
        self.peer = ""  # the address of the client holding it


class Server:
    """Accepts connections and hands each parsed request to `handler(request, response)`."""

    def __init__(self, handler, max_clients=MAX_CLIENTS, timeout_ms=TIMEOUT_MS):
        self.handler = handler
        self.timeout_ms = timeout_ms
        self._slots = [_Slot() for _ in range(max_clients)]
        self._sockets_max = max_clients + 1
        self.guard = None  # web.authguard.AuthGuard once a wrong password came
        self._listener = None
        self._ready = None
        self._task = None
        self.port = None
        self.open = 0  # accepted connections not yet closed
        self.accept_failures = 0
        self.requests = 0  # requests answered by the handler
        self.refused = 0  # connections turned away because every slot was busy
        self.bad_requests = 0  # 400, 411, 501: malformed or unsupported
        self.too_large = 0  # 413 and 431
        self.timeouts = 0  # 408, or a client that would not take its answer
        self.errors = 0  # the handler raised (500) or the connection failed
        self.active = 0

    async def start(self, host="0.0.0.0", port=80):
        import select
        import socket

        family, _, _, _, address = socket.getaddrinfo(host, port)[0]
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(_BACKLOG)
        listener.setblocking(False)
        poller = select.poll()
        poller.register(listener, select.POLLIN)
        self._listener = listener
        self._poller = poller
        self._ready = getattr(poller, "ipoll", poller.poll)  # ipoll allocates nothing
        self.port = port
        if port == 0:  # CPython tests: the port the system chose (MicroPython has no getsockname)
            self.port = getattr(listener, "getsockname")()[1]
        self._task = asyncio.create_task(self._accept_loop())
        log.info("http", "listening on port {}", self.port)
        return self.port

    def auth_guard(self):
        """The password guard (web/authguard.py), loaded at the first wrong password."""
        if self.guard is None:
            from web.authguard import AuthGuard

            self.guard = AuthGuard()
        return self.guard

    def close(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def _accept_loop(self):
        listener = self._listener
        while True:
            if self.open >= self._sockets_max:  # the rest wait in the backlog
                await sleep_ms(_ACCEPT_MS)
                continue
            waiting = False
            for _ in self._ready(0):
                waiting = True
            if not waiting:
                await sleep_ms(_ACCEPT_MS)
                continue
            try:
                sock, peer = listener.accept()
            except OSError as exc:
                if exc.args and exc.args[0] == _EAGAIN:  # taken back by the client
                    continue
                self.accept_failures += 1  # no socket or memory free: wait, then again
                await sleep_ms(_ACCEPT_RETRY_MS)
                continue
            self.open += 1
            asyncio.create_task(self._connection(sock, peer))

    async def _connection(self, sock, peer):
        try:
            sock.setblocking(False)
            reader, writer = await stream_pair(sock, peer)
        except Exception as exc:
            self.open -= 1
            self.errors += 1
            sock.close()
            log.debug("http", "connection failed: {!r}", exc)
            return
        try:
            await self._serve(reader, writer)
        finally:
            self.open -= 1

    def stats(self):
        return {
            "http_requests": self.requests,
            "http_refused": self.refused,
            "http_bad_requests": self.bad_requests,
            "http_too_large": self.too_large,
            "http_timeouts": self.timeouts,
            "http_errors": self.errors,
            "http_active": self.active,
            "http_accept_failures": self.accept_failures,
            "http_wrong_passwords": self.guard.wrong if self.guard else 0,
            "http_auth_throttled": self.guard.throttled if self.guard else 0,
        }

    def _slot_for(self, peer):
        """A free slot, or None: a client already holding a slot never gets the last free one."""
        free = None
        free_count = 0
        held = 0
        for slot in self._slots:
            if not slot.busy:
                free_count += 1
                if free is None:
                    free = slot
            elif slot.peer == peer:
                held += 1
        if held and free_count == 1:
            return None  # kept for a new client
        return free

    async def _serve(self, reader, writer):
        peer = ""
        try:
            peer = _address(writer.get_extra_info("peername"))
        except (AttributeError, TypeError, KeyError):
            pass
        slot = self._slot_for(peer)
        try:
            if slot is None:
                self.refused += 1
                writer.write(_BUSY)
                await asyncio.wait_for(writer.drain(), self.timeout_ms / 1000)
            else:
                slot.busy = True
                slot.peer = peer
                self.active += 1
                await self._exchange(reader, writer, slot, peer)
        except asyncio.TimeoutError:
            self.timeouts += 1
        except Exception as exc:  # a reset by the peer, or a bug: count it, keep serving
            self.errors += 1
            log.debug("http", "connection failed: {!r}", exc)
        finally:
            if slot is not None:
                slot.busy = False
                self.active -= 1
            await _close(writer)

    async def _exchange(self, reader, writer, slot, peer):
        response = Response(writer, slot.out, self.timeout_ms)
        request = Request()
        request.peer = peer
        try:
            await self._read_request(reader, slot, request)
        except HTTPError as exc:
            self._count(exc.status)
            log.debug("http", "{} from {}: {}", exc.status, request.peer, exc.reason)
            await response.send(exc.status, "{}\n".format(exc.reason))
            await response.flush()
            await _discard(reader, slot.head, self.timeout_ms)
            return
        except asyncio.TimeoutError:
            self.timeouts += 1
            await response.send(408, "request not received in time\n")
            await response.flush()
            return
        response.head_only = request.method == "HEAD"
        try:
            await self.handler(request, response)
            self.requests += 1
        except asyncio.TimeoutError:
            raise
        except Exception as exc:
            self.errors += 1
            log.error("http", "{} {} failed: {!r}", request.method, request.path, exc)
            if not response.started:
                await response.send(500, "internal error\n")
        await response.flush()

    def _count(self, status):
        if status in (413, 431):
            self.too_large += 1
        elif status == 408:
            self.timeouts += 1
        else:
            self.bad_requests += 1

    async def _read_request(self, reader, slot, request):
        buf = slot.head
        view = memoryview(buf)
        # One deadline for the whole head, then one for the body: a client dribbling a byte
        # at a time cannot hold a slot longer than that.
        deadline = ticks_add(ticks_ms(), self.timeout_ms)
        used = 0
        scanned = 0
        line_start = 0
        head_end = -1
        # 1. Read until the blank line that ends the head, scanning only the new bytes.
        while head_end < 0:
            if used >= HEAD_MAX:
                raise HTTPError(431, "request head longer than {} bytes".format(HEAD_MAX))
            n = await asyncio.wait_for(_read_into(reader, view[used:]), _left_s(deadline))
            if not n:
                raise HTTPError(400, "connection closed before the request was complete")
            used += n
            for i in range(scanned, used):
                if buf[i] == 10:  # \n; a line of just \r\n (or \n) ends the head
                    if i - line_start <= 1 and (i == line_start or buf[line_start] == 13):
                        head_end = i + 1
                        break
                    line_start = i + 1
            scanned = used
        # 2. The request line and the few headers the routes use.
        try:
            text = bytes(view[:head_end]).decode()
        except UnicodeError:
            raise HTTPError(400, "request head is not UTF-8")
        lines = text.split("\n")
        parts = lines[0].strip().split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1]:
            raise HTTPError(400, "malformed request line")
        if parts[0] not in _METHODS:
            raise HTTPError(501, "method {} not supported".format(parts[0][:16]))
        request.method = parts[0]
        request.path, _, request.query = parts[1].partition("?")
        chunked = False
        for line in lines[1:]:
            line = line.strip()
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HTTPError(400, "malformed header line")
            name = name.lower()
            value = value.strip()
            if name == "content-length":
                if not value.isdigit():
                    raise HTTPError(400, "Content-Length is not a number")
                request.content_length = int(value)
            elif name == "host":
                request.host = value
            elif name == "authorization":
                request.authorization = value
            elif name == "content-type":
                request.content_type = value
            elif name == "transfer-encoding":
                chunked = True
        # 3. The body, only when Content-Length gives its size.
        length = request.content_length
        if chunked:
            raise HTTPError(411, "send the body with a Content-Length, not chunked")
        if length is None:
            if request.method in ("POST", "PUT"):
                raise HTTPError(411, "a request body needs a Content-Length")
            return
        if length > BODY_MAX:
            raise HTTPError(413, "request body larger than {} bytes".format(BODY_MAX))
        body = bytearray(length)
        got = min(used - head_end, length)
        body[:got] = view[head_end : head_end + got]
        body_view = memoryview(body)
        deadline = ticks_add(ticks_ms(), self.timeout_ms)
        while got < length:
            n = await asyncio.wait_for(_read_into(reader, body_view[got:]), _left_s(deadline))
            if not n:
                raise HTTPError(400, "connection closed before the body was complete")
            got += n
        request.body = body


def _left_s(deadline):
    """Seconds left until deadline (ticks_ms); TimeoutError, as wait_for gives, when none."""
    left = ticks_diff(deadline, ticks_ms())
    if left <= 0:
        raise asyncio.TimeoutError
    return left / 1000


async def _read_into(reader, view):
    """Read at most len(view) bytes into view; MicroPython streams have readinto, CPython not."""
    if hasattr(reader, "readinto"):
        return await reader.readinto(view)
    data = await reader.read(len(view))
    n = len(data)
    view[:n] = data
    return n


async def _discard(reader, buf, timeout_ms):
    """Read and drop what the client is still sending, briefly and up to a bound."""
    view = memoryview(buf)
    total = 0
    try:
        while total < _DRAIN_MAX:
            n = await asyncio.wait_for(_read_into(reader, view), min(_DRAIN_MS, timeout_ms) / 1000)
            if not n:
                return
            total += n
    except Exception:  # quiet for a moment, or gone: either way we are done
        pass


async def _close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except Exception:  # already reset by the peer: nothing left to close
        pass
