"""httpd.py's answer to a request it could not take: loaded for that answer and dropped after it.

Why a module of its own: a browser or a scraper sends well-formed requests, so the texts and the
steps of these answers stay out of the heap until a client sends something else. `why` is what
httpd.py's `_read_request` gives: an index into `WHY`.
"""

import log
from compat import const, ticks_add, ticks_ms
from web.httpd import BODY_MAX, HEAD_MAX, _read

_DRAIN_MAX = const(16384)  # after the answer, unread request bytes read and dropped, so
_DRAIN_MS = const(200)  # closing does not reset the connection before the client reads it

WHY = (  # (status, text); httpd.py names these indexes _TIMEOUT, _HEAD_LONG, ...
    (408, "request not received in time"),
    (431, "request head longer than {head} bytes"),
    (400, "connection closed before the request was complete"),
    (400, "request head is not UTF-8"),
    (400, "malformed request line"),
    (501, "method {method} not supported"),
    (400, "malformed header line"),
    (400, "Content-Length is not a number"),
    (411, "send the body with a Content-Length, not chunked"),
    (411, "a request body needs a Content-Length"),
    (413, "request body larger than {body} bytes"),
    (400, "connection closed before the body was complete"),
)


async def answer(server, reader, x, why):
    """Count, log and answer reason `why` on exchange `x`, then read and drop (briefly, and up
    to a bound) what the client still sends."""
    status, text = WHY[why]
    if status in (413, 431):
        server.http_too_large += 1
    elif status == 408:
        server.http_timeouts += 1
    else:
        server.http_bad_requests += 1
    text = text.format(method=x.method, head=HEAD_MAX, body=BODY_MAX)
    log.debug("http", "{} from {}: {}", status, x.peer, text)
    await x.send(status, text + "\n")
    await x.flush()
    if status == 408:
        return
    total = 0
    try:
        while total < _DRAIN_MAX:
            deadline = ticks_add(ticks_ms(), min(_DRAIN_MS, server.timeout_ms))
            n = await _read(reader, x.head, deadline)
            if not n:
                return
            total += n
    except Exception:  # quiet for a moment, or gone: either way we are done
        pass
