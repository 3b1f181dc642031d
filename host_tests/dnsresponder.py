"""A DNS responder on 127.0.0.1 for the resolver's tests, in a thread.

Modes: "answer" (one A record, 127.0.0.1), "cname" (two CNAMEs, compressed, an AAAA, then the A),
"silent" (reads, never answers), "garbage" (a different kind of bad answer each time),
"nxdomain". `queries` holds every packet it got; `mode` may be changed while it runs.
"""

import socket
import struct
import threading

GARBAGE = (
    b"\x00",  # short
    b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00",  # cut after the header
    None,  # the right header, a record running past the end
    None,  # a label type 0x40
    None,  # a wrong id
)


def _question_end(query):
    i = 12
    while query[i]:
        i += query[i] + 1
    return i + 5


def _record(name, rtype, rdata):
    return name + struct.pack(">HHIH", rtype, 1, 60, len(rdata)) + rdata


class Responder:
    def __init__(self, mode="answer", address=b"\x7f\x00\x00\x01"):
        self.mode = mode
        self.address = address
        self.queries = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._garbage = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                query, peer = self._sock.recvfrom(1024)
            except OSError:
                continue
            self.queries.append(query)
            reply = self.reply(query)
            if reply is not None:
                self._sock.sendto(reply, peer)

    def reply(self, query):
        mode = self.mode
        if mode == "silent":
            return None
        head = query[:2]
        question = query[12:_question_end(query)]
        if mode == "nxdomain":
            return head + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00" + question
        if mode == "garbage":
            kind = self._garbage % len(GARBAGE)
            self._garbage += 1
            if GARBAGE[kind] is not None:
                return GARBAGE[kind]
            if kind == 2:
                return head + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + (
                    b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f")
            if kind == 3:
                return head + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + b"\x45"
            wrong = bytes([head[0] ^ 0xFF, head[1]])
            return wrong + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + _record(
                b"\xc0\x0c", 1, b"\x0a\x00\x00\x01")
        if mode == "cname":
            # broker.x CNAME a.x.; a.x. CNAME b.example.; an AAAA for b; b A address.
            # Offset 12 is the question's name; the "x" after its first label is reused.
            first = question[0]
            tail = 12 + first + 1  # the question name's second label
            a_name = b"\x01a" + struct.pack(">H", 0xC000 | tail)
            b_name = b"\x01b\x07example\x00"
            body = head + b"\x81\x80\x00\x01\x00\x04\x00\x00\x00\x00" + question
            body += _record(b"\xc0\x0c", 5, a_name)
            a_at = len(body) - len(a_name)
            body += struct.pack(">H", 0xC000 | a_at) + struct.pack(">HHIH", 5, 1, 60,
                                                                   len(b_name)) + b_name
            b_at = len(body) - len(b_name)
            b_ptr = struct.pack(">H", 0xC000 | b_at)
            body += _record(b_ptr, 28, b"\x00" * 16)
            body += _record(b_ptr, 1, self.address)
            return body
        return head + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + _record(
            b"\xc0\x0c", 1, self.address)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
