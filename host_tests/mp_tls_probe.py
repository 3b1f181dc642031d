"""MicroPython script: the firmware's MQTT client over TLS, with a twin of MicroPython's TLS socket.

The 32-bit unix build has no ssl, so `TwinContext` stands in for ssl.SSLContext and behaves as
extmod/modtls_mbedtls.c does where it matters here: wrap_socket() needs the real socket (a stream
object; anything else raises), the TLS socket has no settimeout, and its setblocking(flag) calls
setblocking(flag) on the socket underneath, as the ESP32's socket takes it. It does not encrypt: the broker is plain.

argv[1] is a JSON object: the mqtt settings plus "client_id" and "timeout_s". Connects, reads
once without blocking (check_msg), then waits for a message that never comes (wait_msg). Prints
"error <ms> <exception repr>" with how long wait_msg took, or "ok <ms>".
"""

import json
import sys
import time

import mqttclient
import mqttconnect


class TwinTLSSocket:
    def __init__(self, raw):
        self._raw = raw

    def read(self, *args):
        return self._raw.read(*args)

    def readinto(self, *args):
        return self._raw.readinto(*args)

    def write(self, *args):
        return self._raw.write(*args)

    def setblocking(self, flag):
        # modtls_mbedtls.c passes setblocking(flag) on to the TCP socket, and on the ESP32 that
        # means settimeout(None) for True (ports/esp32/modsocket.c: _socket_settimeout with
        # UINT64_MAX). The unix port's setblocking(True) keeps an earlier timeout, so say it.
        if flag:
            return self._raw.settimeout(None)
        return self._raw.setblocking(False)

    def close(self):
        self._raw.close()


class TwinContext:
    def wrap_socket(self, sock, server_hostname=None):
        if type(sock).__name__ != "socket":  # mp_get_stream_raise: a stream object only
            raise OSError(95, "stream operation not supported")
        return TwinTLSSocket(sock)


mqttconnect.tls_context = TwinContext
args = json.loads(sys.argv[1])
client = mqttclient.ClientFactory(args, args["client_id"], args["timeout_s"])()
client.connect()
client.check_msg()
start = time.ticks_ms()
try:
    client.wait_msg()
    print("ok", time.ticks_diff(time.ticks_ms(), start))
except Exception as exc:
    print("error", time.ticks_diff(time.ticks_ms(), start), repr(exc))
