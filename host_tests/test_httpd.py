"""The HTTP server's own bounds, on a real socket: a deadline per request head, not per read."""

import asyncio
import time

from web import httpd


async def answer(request, response):
    await response.send(200, "ok\n")


async def dribble(port, interval_s, duration_s):
    """Send a request head one byte at a time; return (status line, seconds until it came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.monotonic()
    head = b"GET / HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 200
    for i in range(len(head)):
        if reader.at_eof() or time.monotonic() - start > duration_s:
            break
        writer.write(head[i : i + 1])
        try:
            await writer.drain()
        except ConnectionError:
            break
        try:
            line = await asyncio.wait_for(reader.readline(), interval_s)
            if line:
                writer.close()
                return line, time.monotonic() - start
        except asyncio.TimeoutError:
            pass
    line = await reader.readline()
    writer.close()
    return line, time.monotonic() - start


def test_a_client_dribbling_its_head_gets_408_at_the_deadline():
    async def main():
        server = httpd.Server(answer, timeout_ms=600)
        port = await server.start("127.0.0.1", 0)
        try:
            line, took = await dribble(port, 0.1, 10)
        finally:
            server.server.close()
        return line, took, server.timeouts

    line, took, timeouts = asyncio.run(main())
    assert line.startswith(b"HTTP/1.1 408"), line
    assert took < 3, "the deadline was restarted by every byte"
    assert timeouts == 1


def test_a_prompt_request_is_answered():
    async def main():
        server = httpd.Server(answer, timeout_ms=600)
        port = await server.start("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        line = await reader.readline()
        writer.close()
        server.server.close()
        return line

    assert asyncio.run(main()).startswith(b"HTTP/1.1 200")
