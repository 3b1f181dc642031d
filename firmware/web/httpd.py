"""A small, bounded HTTP/1.1 server on the app's one asyncio loop.

Why our own: the dongle needs a handful of routes, and every resource must have a bound that a
phone on the Wi-Fi cannot push past. What it does and leaves out:
  - at most `MAX_CLIENTS` connections are served at once; each takes a slot (an `Exchange` with
    a head buffer that the answer is written through too), so serving allocates little. The
    constructor makes one; another is made only when clients come at once, and kept. Their
    head buffers are those the app made early at boot (`heads`), or their own: a dongle given
    one and polled by one page or scraper at a time keeps 1 KB, not 4. A connection arriving
    when all slots are busy (or no memory is left for one more) gets a fixed 503 and is counted
    in `http_refused`. One client (one address) may hold all slots but one: the last free slot
    (made or not yet) is kept for a client that holds none, so one that reconnects as fast as it
    is answered cannot starve the others;
  - sockets: the ESP32 has 10 in all (this listener, MQTT, setup mode's DNS, ...). At most
    `SOCKETS` connections are open at once (the slots and one being refused); more wait in the
    listen backlog, not accepted, so MQTT always finds a socket. The listener is polled (without
    allocating) by our own task, not asyncio.start_server's, whose accept loop retries a failed
    accept (no socket left) at once and forever; here a failed accept waits `_ACCEPT_RETRY_MS`.
    Opening it is listen.py's, loaded once;
  - password guessing slows down per client: `guard` (web/authguard.py, made by the routes at
    the first wrong password) is kept here for the routes to ask;
  - the request line plus headers must fit `HEAD_MAX` bytes (431 otherwise), the body
    `BODY_MAX` bytes and needs a Content-Length (413 / 411); a malformed head gets 400;
  - the head and the body each have a deadline (`timeout_ms`): a client that sends too slowly
    gets 408, one that does not read its answer is dropped;
  - every answer says `Connection: close`: one request per connection, no keep-alive or
    pipelining, no chunked request bodies;
  - answers are written in pieces through the slot's output buffer, never built by `+`.
Routing is the caller's: `handler(request, response)` is a coroutine, given the slot's Exchange
as both; if it raises, the client gets a 500 (when nothing was sent yet) and the error is
counted. All I/O awaits, so a client never holds up the meter reader task.
"""

import asyncio

import jsonout
import log
import web
from compat import const, sleep_ms, stream_pair, ticks_add, ticks_diff, ticks_ms

MAX_CLIENTS = const(4)  # connections served at once; more are refused with 503
SOCKETS = const(5)  # connections open at once: the slots and one refusal; the rest wait unaccepted
HEAD_MAX = const(1024)  # request line + headers, bytes
BODY_MAX = const(2048)  # request body, bytes (the settings JSON is about 500)
OUT_MAX = const(512)  # small writes are gathered up to this, in the slot's head buffer
TIMEOUT_MS = const(5000)  # deadline for the head, for the body, and for each flush

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nRetry-After: 1\r\n"
    b"Connection: close\r\n\r\nbusy\n"
)
# Why a request is not taken: indexes into refuse.WHY, which has the status and the text.
_TIMEOUT = const(0)
_HEAD_LONG = const(1)
_HEAD_CUT = const(2)
_NOT_UTF8 = const(3)
_BAD_LINE = const(4)
_BAD_METHOD = const(5)
_BAD_HEADER = const(6)
_BAD_LENGTH = const(7)
_CHUNKED = const(8)
_NO_LENGTH = const(9)
_BODY_LONG = const(10)
_BODY_CUT = const(11)
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS")
_ACCEPT_MS = const(20)  # listener poll period
_ACCEPT_RETRY_MS = const(500)  # after a failed accept (no socket or memory free)
_EAGAIN = const(11)


# MicroPython's stream copies what the socket does not take at once, so the slot's buffer is
# written as it is; CPython's transport may keep the view, so it gets a copy.
_CPYTHON = hasattr(asyncio, "StreamReaderProtocol")


class Exchange:
    """A slot, made once: its buffers, and per request what the routes read (method, path,
    query, host, authorization, body, peer) and `send`, which writes the answer."""

    def __init__(self, timeout_ms, head=None):
        self.head = bytearray(HEAD_MAX) if head is None else head  # the app makes it early
        # The answer is written through the same bytes: the head is parsed (and the body
        # copied out) before the handler writes anything.
        self.out = memoryview(self.head)[:OUT_MAX]
        self.timeout_s = timeout_ms / 1000
        self.busy = False
        self.clear(None, "")  # every attribute made now: no dict growth while serving

    def clear(self, writer, peer):
        self.writer = writer
        self.peer = peer  # the address of the client holding it
        self.method = self.path = self.query = self.host = self.authorization = ""
        self.body = b""
        self.used = 0  # bytes waiting in `out`
        self.started = False  # the status line is out
        self.mute = False  # a HEAD answer's body is dropped

    def _put(self, data):
        """Queue text or bytes if they fit with what waits; False (nothing queued) if not."""
        if isinstance(data, str):
            data = data.encode()
        n = len(data)
        if self.used + n > OUT_MAX:
            return False
        self.out[self.used : self.used + n] = data
        self.used += n
        return True

    async def send(self, status, body, content_type="text/plain", headers=None, length=None):
        """The answer: status line, headers (`headers`: (name, value) pairs), then `body`:
          str or bytes        sent with its Content-Length;
          dict or list        as JSON, in pieces (jsonout.pieces);
          an open binary file copied through the slot's buffer (its size: `length`);
          an iterable of str or bytes pieces (metrics.lines), written as they come.
        Small pieces are gathered in the slot's buffer, never joined by `+`; an answer without
        a length needs no chunking, as every answer ends with the connection."""
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, (bytes, bytearray)):
            length = len(body)
            pieces = (body,)
        elif isinstance(body, (dict, list)):
            content_type = "application/json"
            pieces = jsonout.pieces(body)
        else:
            pieces = body
        self.started = True
        put = self._put
        # The head goes into the empty buffer without awaiting. No reason phrase: it is
        # optional (RFC 9112, 4) and clients ignore it; a table of them cost 768 B of heap.
        fits = put(
            "HTTP/1.1 {} \r\nContent-Type: {}\r\nConnection: close\r\nCache-Control: "
            "no-store\r\n".format(status, content_type)
        )
        if length is not None:
            fits = put("Content-Length: {}\r\n".format(length)) and fits
        for name, value in headers or ():
            fits = put("{}: {}\r\n".format(name, value)) and fits
        if not (put(b"\r\n") and fits):
            raise ValueError("answer head longer than {} bytes".format(OUT_MAX))
        self.mute = self.method == "HEAD"  # a HEAD answer stops here
        readinto = getattr(body, "readinto", None)
        if readinto is not None:  # a file
            await self.flush()
            while not self.mute:
                self.used = readinto(self.out)
                if not self.used:
                    return
                await self.flush()
            return
        for data in pieces:
            if self.mute or put(data):
                continue
            await self.flush()
            if not put(data):  # larger than the buffer: straight out
                self.writer.write(data.encode() if isinstance(data, str) else data)
                await asyncio.wait_for(self.writer.drain(), self.timeout_s)

    async def flush(self):
        if self.used:
            used = self.used
            self.used = 0
            data = self.out[:used]
            self.writer.write(bytes(data) if _CPYTHON else data)
            await asyncio.wait_for(self.writer.drain(), self.timeout_s)


class Server:
    """Accepts connections and hands each parsed request to `handler(request, response)`."""

    def __init__(
        self, handler, max_clients=MAX_CLIENTS, timeout_ms=TIMEOUT_MS, port=80, heads=()
    ):
        """`heads`: HEAD_MAX-byte buffers made early at boot (builder.py) for the slots; a slot
        made when none is left makes its own."""
        self.handler = handler
        self.timeout_ms = timeout_ms
        self._heads = list(heads)
        # One slot now; more are made when clients come at once, and kept (see _serve).
        self._slots = [Exchange(timeout_ms, self._heads.pop() if self._heads else None)]
        self._max_clients = max_clients
        self.guard = None  # web.authguard.AuthGuard once a wrong password came
        self._listener = None
        self._ready = None  # the listener's poll
        self._task = None
        self.port = port
        self.open = 0  # accepted connections not yet closed
        # Counters, named as telemetry.py shows them (the names are then shared by the code
        # and routes.Web.add_counters' keys, not stored twice).
        self.http_accept_failures = 0
        self.http_requests = 0  # requests answered by the handler
        self.http_refused = 0  # connections turned away because every slot was busy
        self.http_bad_requests = 0  # 400, 411, 501: malformed or unsupported
        self.http_too_large = 0  # 413 and 431
        self.http_timeouts = 0  # 408, or a client that would not take its answer
        self.http_errors = 0  # the handler raised (500) or the connection failed
        self.active = 0

    async def start(self, host="0.0.0.0", port=None):
        """Open the listening socket (inside the running loop): `port`, or the one given to the
        constructor; returns the port it got."""
        from web import listen  # once, then dropped

        self._listener, self._ready, self.port = listen.listen(
            host, self.port if port is None else port
        )
        web.drop("listen")
        self._task = asyncio.create_task(self._accept_loop())
        return self.port

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
            if self.open > self._max_clients:  # the slots and one refusal; the rest wait
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
                self.http_accept_failures += 1  # no socket or memory free: wait, then again
                await sleep_ms(_ACCEPT_RETRY_MS)
                continue
            self.open += 1
            asyncio.create_task(self._serve(sock, peer))

    async def _serve(self, sock, peer):
        """One accepted connection (`peer`: accept()'s address): a free slot (a client already
        holding one never gets the last free one), its request read and handed to the
        handler, or a 503."""
        if isinstance(peer, tuple):
            peer = str(peer[0])
        elif isinstance(peer, (bytes, bytearray)) and len(peer) >= 8:  # a raw sockaddr_in
            peer = "{}.{}.{}.{}".format(peer[4], peer[5], peer[6], peer[7])
        else:
            peer = "" if peer is None else str(peer)
        slot = None
        free = self._max_clients - len(self._slots)  # slots not made yet
        held = 0
        for s in self._slots:
            if not s.busy:
                free += 1
                slot = slot or s
            elif s.peer == peer:
                held += 1
        if held and free == 1:
            slot = None  # kept for a new client
        elif free and slot is None:  # every slot made is busy: one more, kept from now on
            try:
                heads = self._heads
                slot = Exchange(self.timeout_ms, heads.pop() if heads else None)
                self._slots.append(slot)
            except MemoryError:  # none to be had now: this client gets the 503
                slot = None
        if slot is not None:
            slot.clear(None, peer)
            slot.busy = True
            self.active += 1
        writer = None
        try:
            sock.setblocking(False)
            # On MicroPython the reader is the writer too (one Stream), which the stubs miss.
            reader, writer = await stream_pair(sock, peer)
            if slot is None:
                self.http_refused += 1
                writer.write(_BUSY)  # pyright: ignore[reportAttributeAccessIssue]
                drained = writer.drain()  # pyright: ignore[reportAttributeAccessIssue]
                await asyncio.wait_for(drained, self.timeout_ms / 1000)
                return
            slot.writer = writer
            try:
                why = await self._read_request(reader, slot)
            except asyncio.TimeoutError:
                why = _TIMEOUT
            if why is not None:
                from web import refuse  # for this answer only

                try:
                    await refuse.answer(self, reader, slot, why)
                finally:
                    web.drop("refuse")
                return
            try:
                await self.handler(slot, slot)
                self.http_requests += 1
            except asyncio.TimeoutError:
                raise
            except Exception as exc:
                self.http_errors += 1
                log.error("http", "{} {} failed: {!r}", slot.method, slot.path, exc)
                if not slot.started:
                    await slot.send(500, "internal error\n")
            await slot.flush()
        except asyncio.TimeoutError:
            self.http_timeouts += 1
        except Exception as exc:  # a reset by the peer, or a bug: count it, keep serving
            self.http_errors += 1
            log.debug("http", "connection failed: {!r}", exc)
        finally:
            self.open -= 1
            if slot is not None:
                slot.busy = False
                slot.writer = None
                slot.body = b""
                self.active -= 1
            try:
                if writer is None:
                    sock.close()
                else:
                    writer.close()  # pyright: ignore[reportAttributeAccessIssue]
                    await writer.wait_closed()  # pyright: ignore[reportAttributeAccessIssue]
            except Exception:  # already reset by the peer: nothing left to close
                pass

    async def _read_request(self, reader, x):
        """Read and parse one request into `x`: None, or why it is refused (refuse.py answers)."""
        buf = x.head
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
                return _HEAD_LONG
            n = await _read(reader, view[used:], deadline)
            if not n:
                return _HEAD_CUT
            used += n
            for i in range(scanned, used):
                if buf[i] == 10:  # \n; a line of just \r\n (or \n) ends the head
                    if i - line_start <= 1 and (i == line_start or buf[line_start] == 13):
                        head_end = i + 1
                        break
                    line_start = i + 1
            scanned = used
        # 2. The request line and the few headers the routes use, found in the decoded head
        # without splitting it: only those lines' parts are copied.
        try:
            text = str(view[:head_end], "utf-8")
        except UnicodeError:
            return _NOT_UTF8
        end = text.find("\n")
        parts = text[:end].strip().split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1]:
            return _BAD_LINE
        if parts[0] not in _METHODS:
            x.method = parts[0][:16]
            return _BAD_METHOD
        x.method = parts[0]
        x.path, _, x.query = parts[1].partition("?")
        length = None
        chunked = False
        while True:
            start = end + 1
            end = text.find("\n", start)
            if end - start <= 1 and (end == start or text[start] == "\r"):
                break  # the blank line that ends the head
            i = text.find(":", start, end)
            if i <= start or text[i - 1] in " \t":
                return _BAD_HEADER
            if text[start] not in "cChHaAtT":  # none of the headers below: no copies made
                continue
            name = text[start:i].lower()
            value = text[i + 1 : end].strip()
            if name == "content-length":
                if not value.isdigit():
                    return _BAD_LENGTH
                length = int(value)
            elif name == "host":
                x.host = value
            elif name == "authorization":
                x.authorization = value
            elif name == "transfer-encoding":
                chunked = True
        # 3. The body, only when Content-Length gives its size.
        if chunked:
            return _CHUNKED
        if length is None:
            if x.method in ("POST", "PUT"):
                return _NO_LENGTH
            return None
        if length > BODY_MAX:
            return _BODY_LONG
        body = bytearray(length)
        got = min(used - head_end, length)
        body[:got] = view[head_end : head_end + got]
        view = memoryview(body)
        deadline = ticks_add(ticks_ms(), self.timeout_ms)
        while got < length:
            n = await _read(reader, view[got:], deadline)
            if not n:
                return _BODY_CUT
            got += n
        x.body = body
        return None


async def _read(reader, view, deadline):
    """Read at most len(view) bytes into view before `deadline` (ticks_ms): how many came;
    TimeoutError, as wait_for gives, when the time is up."""
    left_s = ticks_diff(deadline, ticks_ms()) / 1000
    if left_s <= 0:
        raise asyncio.TimeoutError
    if hasattr(reader, "readinto"):  # MicroPython's streams; CPython's have none
        return await asyncio.wait_for(reader.readinto(view), left_s)
    data = await asyncio.wait_for(reader.read(len(view)), left_s)
    view[: len(data)] = data
    return len(data)
