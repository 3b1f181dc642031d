"""MicroPython script: what the setup mode's DNS responder allocates while nobody asks, and that
it still answers.

argv[1]: a free UDP port on 127.0.0.1. Prints one JSON line: {"idle_bytes": heap allocated by
100 polls of an empty socket (gc.mem_alloc, no collection between), "answer_len": length of the
answer to one A query (0 if none)}.
"""

import gc
import json
import socket
import sys

from web.dnsd import DNSResponder

port = int(sys.argv[1])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
sock.setblocking(False)
responder = DNSResponder(sock, "192.168.4.1")
responder.poll()  # a first call may set things up
gc.collect()
gc.disable()
before = gc.mem_alloc()
for _ in range(100):
    responder.poll()
idle = gc.mem_alloc() - before
gc.enable()
query = bytes(
    b"\x1a\x2b\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    b"\x11connectivitycheck\x07gstatic\x03com\x00\x00\x01\x00\x01"
)
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.sendto(query, socket.getaddrinfo("127.0.0.1", port)[0][-1])
answered = 0
for _ in range(200):
    answered += responder.poll()
    if answered:
        break
answer = b""
if answered:
    client.settimeout(2)
    answer = client.recv(600)
print(json.dumps({"idle_bytes": idle, "answer_len": len(answer)}))
