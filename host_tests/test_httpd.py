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
            server.close()
        return line, took, server.http_timeouts

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
        server.close()
        return line

    assert asyncio.run(main()).startswith(b"HTTP/1.1 200")


# --- sockets, fairness and password guessing (issue 9, items 12 and 15) ---

import errno  # noqa: E402
import socket  # noqa: E402

import log  # noqa: E402
from web.authguard import AuthGuard  # noqa: E402


class Gate:
    """A handler that holds every request until opened."""

    def __init__(self):
        self.opened = asyncio.Event()
        self.waiting = 0

    async def __call__(self, request, response):
        self.waiting += 1
        await self.opened.wait()
        await response.send(200, "ok\n")


async def connect_from(port, source):
    sock = socket.socket()
    sock.bind((source, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


async def ask(port, source="127.0.0.1"):
    reader, writer = await connect_from(port, source)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    return reader, writer


async def status(reader, writer):
    line = await asyncio.wait_for(reader.readline(), 20)
    writer.close()
    return int(line.split()[1]) if line else None


async def until(predicate, seconds=20):
    for _ in range(int(seconds * 100)):
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return False


def test_one_client_cannot_take_the_last_slot_from_the_others():
    async def main():
        gate = Gate()
        server = httpd.Server(gate, timeout_ms=20000)
        port = await server.start("127.0.0.1", 0)
        try:
            greedy = [await ask(port) for _ in range(3)]
            assert await until(lambda: gate.waiting == 3)
            refused = await status(*await ask(port))  # the last slot is not for it
            newcomer = await ask(port, "127.0.0.2")
            assert await until(lambda: gate.waiting == 4)
            gate.opened.set()
            served = [await status(*conn) for conn in greedy + [newcomer]]
            return refused, served
        finally:
            server.close()

    refused, served = asyncio.run(main())
    assert refused == 503
    assert served == [200] * 4


def test_connections_beyond_the_socket_budget_wait_unaccepted_then_are_answered():
    async def main():
        gate = Gate()
        server = httpd.Server(gate, timeout_ms=20000)
        port = await server.start("127.0.0.1", 0)
        peak = [0]

        async def watch():
            while True:
                peak[0] = max(peak[0], server.open)
                await asyncio.sleep(0.002)

        watcher = asyncio.create_task(watch())
        try:
            conns = [await ask(port, "127.0.0.{}".format(i)) for i in range(1, 13)]
            assert await until(lambda: gate.waiting == httpd.MAX_CLIENTS)
            await asyncio.sleep(0.3)  # time for the server to take more, if it would
            open_while_full = server.open
            gate.opened.set()
            answers = [await status(*conn) for conn in conns]
            return open_while_full, peak[0], answers
        finally:
            watcher.cancel()
            server.close()

    open_while_full, peak, answers = asyncio.run(main())
    assert open_while_full <= httpd.SOCKETS and peak <= httpd.SOCKETS
    assert set(answers) <= {200, 503} and answers.count(200) >= httpd.MAX_CLIENTS


def test_a_failed_accept_is_retried_after_a_pause_not_at_once(monkeypatch):
    def no_socket_left(self):
        raise OSError(errno.ENFILE, "Too many open files in system")

    async def main():
        server = httpd.Server(answer, timeout_ms=2000)
        port = await server.start("127.0.0.1", 0)
        monkeypatch.setattr(socket.socket, "accept", no_socket_left)
        client = socket.create_connection(("127.0.0.1", port))  # the backlog takes it
        try:
            await asyncio.sleep(1.2)
            return server.http_accept_failures
        finally:
            monkeypatch.undo()
            client.close()
            server.close()

    failures = asyncio.run(main())
    assert 1 <= failures <= 4  # one try per 0.5 s, not a busy loop


class Ticks:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def test_wrong_passwords_slow_a_client_down_and_the_right_one_resets(monkeypatch):
    lines = []
    monkeypatch.setattr(log, "sink", lines.append)
    clock = Ticks()
    guard = AuthGuard(clock)
    for _ in range(3):  # the owner mistyping: no wait yet
        assert guard.wait_s("10.0.0.5") == 0
        guard.failed("10.0.0.5")
    assert guard.wait_s("10.0.0.5") == 0
    guard.failed("10.0.0.5")
    assert guard.wait_s("10.0.0.5") == 1
    assert guard.wait_s("10.0.0.9") == 0  # another client is not slowed down
    waits = []
    for _ in range(8):  # a guesser trying whenever allowed
        clock.ms += guard.wait_s("10.0.0.5") * 1000
        guard.failed("10.0.0.5")
        waits.append(guard.wait_s("10.0.0.5"))
    assert waits == [2, 4, 8, 16, 30, 30, 30, 30]
    assert guard.wrong == 12
    assert len(lines) == 4  # at the 1st, 2nd, 4th and 8th wrong password, not 12
    clock.ms += 30000
    guard.passed("10.0.0.5")
    guard.failed("10.0.0.5")
    assert guard.wait_s("10.0.0.5") == 0


def test_the_guard_remembers_a_bounded_number_of_clients():
    guard = AuthGuard(Ticks())
    for i in range(50):
        guard.failed("10.0.1.{}".format(i))
    assert len(guard._peers) == 8
