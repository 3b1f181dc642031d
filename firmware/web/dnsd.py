"""A tiny DNS responder for setup mode: every A question gets the access point's own address.

Why: a phone that joins the dongle's access point asks DNS for its vendor's connectivity-check
host. Answering every name with our address sends that check to our HTTP server, which redirects
it to the settings page, so the phone opens the page by itself (a "captive portal").

It answers only what a captive portal needs: standard queries (opcode 0) with one question;
A (and ANY) get one answer valid for 60 s, every other type gets an empty NOERROR answer, other
opcodes NOTIMP. Malformed packets are counted and dropped. The UDP socket comes in as an argument,
non-blocking; `poll()` answers at most `_BATCH` waiting queries per call so it never holds the
loop. The answer is built in one buffer made in the constructor.

Garbage: setup mode polls every 50 ms. An empty socket is found out with `select.poll`'s
`ipoll(0)`, which allocates nothing, instead of a recvfrom() that allocates its 513-byte buffer
and an OSError(EAGAIN) each time. A query that waits is read with recvfrom(), which allocates
the query and the sender's address: MicroPython's sockets have no recvfrom_into.

    header (12 bytes): id(2) flags(2) qdcount(2) ancount(2) nscount(2) arcount(2)
    question: name as labels (len, bytes)..., 0; qtype(2); qclass(2)
    answer:   C0 0C (pointer to the question's name), type A, class IN, ttl(4), rdlength 4, ip(4)
"""

from compat import const

PACKET_MAX = const(512)  # classic DNS over UDP; longer queries are not captive-portal probes
_BATCH = const(4)
_TYPE_A = const(1)
_TYPE_ANY = const(255)
_CLASS_IN = const(1)


def ip_bytes(ip):
    """b'\\xc0\\xa8\\x04\\x01' for '192.168.4.1'."""
    parts = ip.split(".")
    if len(parts) != 4:
        raise ValueError("not an IPv4 address: {}".format(ip))
    return bytes(int(p) for p in parts)


class DNSResponder:
    def __init__(self, sock, ip):
        self.sock = sock
        self.ip = ip_bytes(ip)
        self._out = bytearray(PACKET_MAX + 16)
        self.answered = 0
        self.malformed = 0
        self._ready = None
        try:
            import select

            poller = select.poll()
            poller.register(sock, select.POLLIN)
            self._poller = poller
            self._ready = getattr(poller, "ipoll", poller.poll)
        except (TypeError, AttributeError):  # a stand-in socket without a file descriptor
            pass

    def _waiting(self):
        if self._ready is None:
            return True
        for _ in self._ready(0):
            return True
        return False

    def reply(self, query):
        """The answer to one query as a memoryview of the output buffer, or None to drop it."""
        n = len(query)
        if n < 12 or n > PACKET_MAX or query[2] & 0x80:  # short, long, or itself an answer
            return None
        if query[4] != 0 or query[5] != 1:  # exactly one question
            return None
        i = 12
        while True:  # walk the name's labels; compression pointers do not occur in questions
            if i >= n:
                return None
            length = query[i]
            if length == 0:
                break
            if length > 63:
                return None
            i += length + 1
        end = i + 5  # the zero byte, qtype, qclass
        if end > n:
            return None
        qtype = (query[i + 1] << 8) | query[i + 2]
        qclass = (query[i + 3] << 8) | query[i + 4]
        opcode = (query[2] >> 3) & 0x0F
        out = self._out
        out[0] = query[0]
        out[1] = query[1]
        out[2] = 0x84 | (query[2] & 0x79)  # QR, AA, opcode and RD as asked
        out[3] = 0x80 | (4 if opcode else 0)  # RA; NOTIMP for anything but a standard query
        out[4] = 0
        out[5] = 1
        answer = not opcode and qclass == _CLASS_IN and qtype in (_TYPE_A, _TYPE_ANY)
        out[6] = 0
        out[7] = 1 if answer else 0
        out[8:12] = b"\x00\x00\x00\x00"
        out[12:end] = query[12:end]
        if answer:
            out[end : end + 12] = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04"  # TTL 60 s
            out[end + 12 : end + 16] = self.ip
            end += 16
        return memoryview(out)[:end]

    def poll(self):
        """Answer the queries waiting on the socket; return how many were answered."""
        answered = 0
        for _ in range(_BATCH):
            if not self._waiting():
                break
            try:
                query, addr = self.sock.recvfrom(PACKET_MAX + 1)
            except OSError:  # EAGAIN: nothing waiting
                break
            packet = self.reply(query)
            if packet is None:
                self.malformed += 1
                continue
            try:
                self.sock.sendto(packet, addr)
                answered += 1
            except OSError:  # the client went away; DNS clients retry
                self.malformed += 1
        self.answered += answered
        return answered

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
