"""MicroPython script: the broker's name looked up through timedsock's non-blocking resolver.

argv[1] is a JSON object: "host", "dns_port" (a responder on 127.0.0.1, also taking mDNS),
"pass_ms". Polls `mqttconnect.lookup` once per pass, as the publisher does, until it ends.
Prints one JSON line: {"address" or "error", "longest_ms" (the longest poll), "took_ms", "polls",
"lookups", "malformed", "heap_resolving" (gc.mem_alloc after a collect, after the first poll,
minus before it: the lookup ended already when the answer was that quick), "heap_after" (the
same once the lookup ended: the kept address, or an OSError's when it failed), "numeric_bytes" (a numeric
host's lookup_due round)}.
"""

import gc
import json
import socket
import sys
import time

import log  # noqa: F401 - loaded in the app long before any lookup
import mqttconnect
import resolve
import timedsock

# resolve.py's names are interned once and for good (a new qstr pool when the last is full,
# which says nothing of what a lookup keeps): once before counting, then the module out again.
sys.modules.pop("resolve")
del resolve

args = json.loads(sys.argv[1])
server = ("127.0.0.1", args["dns_port"], ("127.0.0.1", args["dns_port"]))
sockets = timedsock.Sockets(socket, args["pass_ms"])
host = args["host"]
mqttconnect.lookup_due(sockets, "10.0.0.1", 1883)  # once before: a first call may cache
gc.collect()
base = gc.mem_alloc()
for _ in range(100):  # what stays (a conservative collect may keep the last call's garbage)
    mqttconnect.lookup_due(sockets, "10.0.0.1", 1883)
gc.collect()
numeric = gc.mem_alloc() - base
result = {"numeric_bytes": numeric}
error = None
gc.collect()
base = gc.mem_alloc()
longest = 0
polls = 0
begin = time.ticks_ms()
resolving = None
while mqttconnect.lookup_due(sockets, host, 1883):
    start = time.ticks_ms()
    try:
        pending = mqttconnect.lookup(sockets, host, 1883, server)
    except Exception as exc:
        error = exc
        pending = False
    longest = max(longest, time.ticks_diff(time.ticks_ms(), start))
    polls += 1
    if resolving is None:
        gc.collect()
        resolving = gc.mem_alloc() - base
    if not pending:
        break
    time.sleep_ms(20)
took = time.ticks_diff(time.ticks_ms(), begin)
gc.collect()
after = gc.mem_alloc() - base  # before the result is built: its dict grows
if error is not None:
    result["error"] = "{}: {}".format(type(error).__name__, error)
else:
    addr = sockets.getaddrinfo(host, 1883)[0][-1]  # MicroPython: a sockaddr_in's bytes
    result["address"] = addr[0] if isinstance(addr, tuple) else "{}.{}.{}.{}".format(*addr[4:8])
result.update({"longest_ms": longest, "took_ms": took, "polls": polls,
               "lookups": sockets.lookups, "malformed": sockets.malformed,
               "heap_resolving": resolving, "heap_after": after,
               "resolve_loaded": "resolve" in sys.modules})
print(json.dumps(result))
