"""A broker name looked up without blocking: one DNS A query over a non-blocking UDP socket.

Why: getaddrinfo cannot be bounded from Python. On the ESP32 it waits seconds per DNS server,
5 s for a `.local` name, and in the dongle's one asyncio loop that is time the UART buffer may not
have. A `Query` sends the question, and each `poll()` looks once for the answer and returns at
once, so the loop polls it across passes; it asks again a few times and gives up after a bounded
total time. A name ending in `.local` is asked once by mDNS (224.0.0.251:5353) with the QU bit,
so the answer may come back to our own port.

Imported only when the broker's host is a name, and dropped after the lookup (timedsock.py).

    header (12 bytes): id(2) flags(2) qdcount(2) ancount(2) nscount(2) arcount(2)
    question: name as labels (len, bytes)..., 0; qtype(2); qclass(2)
    record:   name (labels, or a C0xx pointer after some labels); type(2) class(2) ttl(4)
              rdlength(2) rdata
The first A record of the answer section is the address: a CNAME chain comes before it.
"""

import log
from compat import const, ticks_diff, ticks_ms

RETRY_MS = (0, 1000, 3000)  # when the unicast question is sent, from the start of the lookup
TOTAL_MS = const(5000)  # a unicast lookup gives up this long after it began
MDNS_MS = const(3000)  # the one mDNS question waits this long
MDNS = ("224.0.0.251", 5353)
_PACKET = const(512)
_READS = const(4)  # answers read per poll at most
_TYPE_A = const(1)
_ETIMEDOUT = const(110)
_ENOENT = const(2)


class Malformed(ValueError):
    pass


def question(qid, name, mdns=False):
    """The query packet: one question, IN A; recursion desired, or the QU bit for mDNS."""
    out = bytearray(b"\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")
    out[0] = qid >> 8
    out[1] = qid & 0xFF
    if mdns:
        out[2] = 0  # no recursion in mDNS
    for label in name.rstrip(".").split("."):
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise ValueError("bad name: {}".format(name))
        out.append(len(raw))
        out.extend(raw)
    out.extend(b"\x00\x00\x01\x80\x01" if mdns else b"\x00\x00\x01\x00\x01")
    return out


def _skip_name(p, i):
    """The index after the name at p[i]; a pointer ends the name (we never follow it)."""
    while True:
        n = p[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            if i + 1 >= len(p):
                raise Malformed("cut pointer")
            return i + 2
        if n & 0xC0:
            raise Malformed("label type")
        i += n + 1


def answer(p, qid, mdns=False):
    """The first A address in answer packet p ("a.b.c.d"), or None when it has none.

    Raises Malformed for anything that is not a well-formed answer to query `qid`, OSError for
    an answer saying the name does not exist (or the server failed)."""
    try:
        if len(p) < 12:
            raise Malformed("short")
        if not p[2] & 0x80:
            raise Malformed("not an answer")
        if (p[0] << 8 | p[1]) != qid and not (mdns and p[0] == 0 and p[1] == 0):
            raise Malformed("wrong id")
        rcode = p[3] & 0x0F
        if rcode:
            raise OSError(_ENOENT, "DNS rcode {}".format(rcode))
        qd = p[4] << 8 | p[5]
        an = p[6] << 8 | p[7]
        i = 12
        for _ in range(qd):
            i = _skip_name(p, i) + 4
        for _ in range(an):
            i = _skip_name(p, i)
            rtype = p[i] << 8 | p[i + 1]
            rclass = (p[i + 2] << 8 | p[i + 3]) & 0x7FFF  # mDNS: top bit is cache-flush
            size = p[i + 8] << 8 | p[i + 9]
            i += 10
            if i + size > len(p):
                raise Malformed("cut record")
            if rtype == _TYPE_A and rclass == 1:
                if size != 4:
                    raise Malformed("A record of {} bytes".format(size))
                return "{}.{}.{}.{}".format(p[i], p[i + 1], p[i + 2], p[i + 3])
            i += size
        return None
    except IndexError:
        raise Malformed("cut")


class Query:
    """One name being looked up at server (ip, port, mdns address or None for the group).

    `poll()`: None while waiting, the address when found; OSError when the name has no address
    or no answer came in time. Call `close()` when done."""

    def __init__(self, socket_module, name, server):
        self._socket = socket_module
        self.name = name
        self.mdns = name.endswith(".local")
        self.malformed = 0
        self._start = ticks_ms()
        self._sent = 0
        ip, port = (server[2] or MDNS) if self.mdns else server[:2]
        self._to = socket_module.getaddrinfo(ip, port)[0][-1]  # numeric: no lookup
        try:
            import os

            seed = os.urandom(2)
            qid = seed[0] << 8 | seed[1]
        except (ImportError, AttributeError, OSError):
            qid = ticks_ms() & 0xFFFF
        self.qid = qid
        self._packet = question(qid, name, self.mdns)
        sock = socket_module.socket(socket_module.AF_INET, socket_module.SOCK_DGRAM)
        sock.setblocking(False)
        self._sock = sock

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def poll(self):
        age = ticks_diff(ticks_ms(), self._start)
        tries = 1 if self.mdns else len(RETRY_MS)
        if self._sent < tries and age >= RETRY_MS[self._sent]:
            self._sent += 1
            try:
                self._sock.sendto(self._packet, self._to)
            except OSError as exc:  # no route yet, buffers full: the next try may do better
                log.warning("dns", "query for {} not sent: {}", self.name, exc)
        for _ in range(_READS):
            try:
                data = self._sock.recv(_PACKET)
            except OSError:  # EAGAIN: nothing waiting (or an ICMP error: the same to us)
                break
            try:
                found = answer(data, self.qid, self.mdns)
            except Malformed as exc:
                self.malformed += 1
                log.warning("dns", "malformed answer for {} ({} bytes): {}", self.name,
                            len(data), exc)
                continue
            if found is None:
                raise OSError(_ENOENT, "no address for " + self.name)
            return found
        if age >= (MDNS_MS if self.mdns else TOTAL_MS):
            raise OSError(_ETIMEDOUT, "no DNS answer for " + self.name)
        return None
