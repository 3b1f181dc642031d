"""MicroPython script: connect once with the firmware's own MQTT client factory (mqttclient.py).

argv[1] is a JSON object: the mqtt settings, plus "client_id", "topic" (a status topic to set as
Last Will and publish "online" to, retained) and optional "timeout_s". Prints one line:
"ok <ms>" or "error <ms> <exception repr>", where <ms> is how long connect() took.
"""

import json
import sys
import time

import mqttclient

args = json.loads(sys.argv[1])
make = mqttclient.ClientFactory(args, args["client_id"], args.get("timeout_s", 5))
client = make()
topic = args["topic"]
client.set_last_will(topic, "offline", retain=True)
start = time.ticks_ms()
try:
    client.connect()
    client.publish(topic, "online", retain=True)
    client.disconnect()
    print("ok", time.ticks_diff(time.ticks_ms(), start))
except Exception as exc:
    print("error", time.ticks_diff(time.ticks_ms(), start), repr(exc))
