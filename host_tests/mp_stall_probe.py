"""MicroPython script: how long the publisher's passes block against a slow broker.

Runs the firmware's Publisher (with discovery, so a connect also subscribes) and its umqtt client
factory for `uart_baud`, passing one pass at a time as the app's task does, for `run_ms`.
argv[1] is a JSON object: the mqtt settings, "uart_baud", "run_ms", and optionally "dns_port"
(the broker's name is then asked of a DNS responder there, on 127.0.0.1). Prints one JSON line:
{"passes": [[ms, connected, failures], ...] for the passes that took 50 ms or more,
 "longest_ms", "lookups", "failures", "pass_ms"}.
"""

import json
import sys
import time

import mqttclient
from discovery import Discovery
from meter import Meter
from publisher import Publisher

args = json.loads(sys.argv[1])


class Station:
    """The station's DNS server, when "dns_port" names a responder on 127.0.0.1."""

    dns_port = args.get("dns_port")
    mdns = ("127.0.0.1", dns_port)

    def ifconfig(self):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")


try:
    if "dns_port" in args:
        factory = mqttclient.ClientFactory(args, "stall-probe", 5, args["uart_baud"], Station())
    else:
        factory = mqttclient.ClientFactory(args, "stall-probe", 5, args["uart_baud"])
except TypeError:  # a firmware from before the pass budget: the same probe, to compare
    factory = mqttclient.ClientFactory(args, "stall-probe", 5)
meter = Meter()
meter.update({"meter_id": "7359992890941742", "meter_type": "6525",
              "meter_manufacturer": "Aidon", "list_ver_id": "AIDON_V0001",
              "active_power_import": 1510})
pub = Publisher(factory, meter, "hanport", Discovery("homeassistant"), keepalive_s=60)
pub.offer({"active_power_import": 1500})
passes = []
longest = 0
begin = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), begin) < args["run_ms"]:
    start = time.ticks_ms()
    pub.step()
    took = time.ticks_diff(time.ticks_ms(), start)
    longest = max(longest, took)
    if took >= 50:
        passes.append([took, pub.connected, pub.failures])
    pub._next_try = None  # no back-off wait: as many connect attempts as the run allows
    time.sleep_ms(20)
sockets = getattr(factory, "sockets", None)
budget = sockets
print(json.dumps({"passes": passes, "longest_ms": longest,
                  "lookups": sockets.lookups if sockets else None, "failures": pub.failures,
                  "pass_ms": budget.pass_ms if budget else None}))
