"""Host twin of MicroPython's `umqtt.simple`: the same MQTTClient over a CPython socket.

Why: the firmware publishes with `umqtt.simple.MQTTClient`, which does not run on CPython. With
`tools/hosttwin/` on sys.path this module takes its place, so the unchanged application talks
MQTT 3.1.1 to a real broker in the host tests and in `make demo`.

It keeps the device module's contract: the same constructor, methods, attributes (`sock`,
`pid`, `cb`, `lw_*`), return values and exceptions:
  - `connect()` returns the CONNACK session-present flag (0/1) and raises
    `MQTTException(code)` when the broker refuses (1 bad protocol, 2 client id, 3 unavailable,
    4 bad user name or password, 5 not authorised);
  - network faults raise `OSError` (refused, reset, broken pipe; `OSError(-1)` when the broker
    closes the connection; `OSError(ETIMEDOUT)` after a `sock.settimeout()` expires);
  - `wait_msg()` blocks for one packet, hands a PUBLISH to the callback as (topic, msg) bytes,
    answers QoS 1 with PUBACK, returns None for PINGRESP and otherwise the packet's first byte;
    `check_msg()` does the same without blocking and returns None when nothing is pending;
  - `publish()` with qos=1 waits for the PUBACK, delivering other messages on the way.
  - Only QoS 0 and 1; no automatic keep-alive pings (the caller sends `ping()`).
It deliberately differs where the device module has a flaw the app should not rely on: str
topics and messages are UTF-8 encoded before their length is taken, the packet id wraps at
65535, a connection closed in the middle of a packet raises OSError(-1) (the device may raise
IndexError or AssertionError there, so the app's guard must catch Exception), and QoS 2 is
refused before anything is sent. Reconnecting is left to the caller, as on the device.

TLS: `ssl` may be an `ssl.SSLContext` (as on MicroPython >= 1.23), or True with `ssl_params`
(as on older firmware: `cert_reqs`, `cadata`, `server_hostname`); the default checks nothing,
like the device.
"""

import errno
import socket
import ssl as _ssl
import struct

_MAX_REMAINING_LEN = 2097152  # umqtt.simple's own bound on one PUBLISH
_PID_MAX = 65535

# Control packet first bytes (MQTT 3.1.1 section 2.2).
_CONNECT = 0x10
_CONNACK = 0x20
_PUBLISH = 0x30
_PUBACK = 0x40
_SUBSCRIBE = 0x82
_SUBACK = 0x90
_PINGREQ = 0xC0
_PINGRESP = 0xD0
_DISCONNECT = 0xE0


class MQTTException(Exception):
    """The broker said no: args[0] is the CONNACK return code, or 0x80 for a failed SUBACK."""


def _as_bytes(value):
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


def _remaining_len(size):
    """MQTT variable-length encoding of a packet's remaining length (1..4 bytes)."""
    out = bytearray()
    while True:
        digit = size & 0x7F
        size >>= 7
        if size:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return out


def _with_len(data):
    return struct.pack("!H", len(data)) + data


class StreamSocket:
    """A CPython socket with the stream methods of a MicroPython socket: read, readinto, write.

    Everything else (settimeout, fileno for select/poll, getpeername, ...) is the socket's own.
    """

    def __init__(self, sock):
        self._sock = sock

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def _recv_into(self, view):
        """recv_into that maps CPython's would-block to None and timeouts to ETIMEDOUT."""
        try:
            return self._sock.recv_into(view)
        except (BlockingIOError, _ssl.SSLWantReadError):
            return None
        except TimeoutError:
            raise OSError(errno.ETIMEDOUT, "timed out") from None

    def readinto(self, buf, nbytes=None):
        """Fill buf (or its first nbytes); fewer at EOF or when non-blocking; None if no data."""
        view = memoryview(buf)
        if nbytes is not None:
            view = view[:nbytes]
        got = 0
        while got < len(view):
            n = self._recv_into(view[got:])
            if n is None:
                return got or None
            if n == 0:
                break
            got += n
            if self._sock.gettimeout() == 0.0:
                break
        return got

    def read(self, nbytes):
        """Up to nbytes bytes: all of them unless EOF or non-blocking; None if nothing pending."""
        buf = bytearray(nbytes)
        got = self.readinto(buf)
        if got is None:
            return None
        return bytes(buf[:got])

    def write(self, buf, nbytes=None):
        """Write buf (or its first nbytes); returns the count, or None if non-blocking and full."""
        view = memoryview(_as_bytes(buf) if isinstance(buf, str) else buf)
        if nbytes is not None:
            view = view[:nbytes]
        try:
            if self._sock.gettimeout() == 0.0:
                return self._sock.send(view)
            self._sock.sendall(view)
        except (BlockingIOError, _ssl.SSLWantWriteError):
            return None
        except TimeoutError:
            raise OSError(errno.ETIMEDOUT, "timed out") from None
        return len(view)

    def close(self):
        self._sock.close()


def _tls_context(ssl_params):
    """An SSLContext from MicroPython-style ssl.wrap_socket() keyword arguments."""
    params = dict(ssl_params)
    hostname = params.pop("server_hostname", None)
    cert_reqs = params.pop("cert_reqs", _ssl.CERT_NONE)
    cadata = params.pop("cadata", None)
    if params:
        raise ValueError(
            f"ssl_params {sorted(params)} not supported by the host twin; pass an SSLContext"
        )
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = cert_reqs
    if cadata is not None:
        ctx.load_verify_locations(cadata=cadata)
    if cert_reqs != _ssl.CERT_NONE and hostname:
        ctx.check_hostname = True
    return ctx, hostname


class MQTTClient:
    """MQTT 3.1.1 client with umqtt.simple's API (see the module docstring for the contract)."""

    def __init__(
        self,
        client_id,
        server,
        port=0,
        user=None,
        password=None,
        keepalive=0,
        ssl=None,
        ssl_params=None,
    ):
        if port == 0:
            port = 8883 if ssl else 1883
        self.client_id = client_id
        self.sock = None
        self.server = server
        self.port = port
        self.ssl = ssl
        self.ssl_params = dict(ssl_params or {})
        self.pid = 0
        self.cb = None
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False

    def set_callback(self, f):
        """f(topic, msg) is called with bytes for every message received."""
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        """Message the broker publishes when this client vanishes; call before connect()."""
        assert 0 <= qos <= 2
        assert topic
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_qos = qos
        self.lw_retain = retain

    def _open(self):
        family, kind, proto, _, addr = socket.getaddrinfo(
            self.server, self.port, 0, socket.SOCK_STREAM
        )[0]
        raw = socket.socket(family, kind, proto)
        self.sock = StreamSocket(raw)
        try:
            raw.connect(addr)
            if self.ssl:
                if hasattr(self.ssl, "wrap_socket"):
                    ctx, hostname = self.ssl, self.server
                else:
                    ctx, hostname = _tls_context(self.ssl_params)
                self.sock = StreamSocket(ctx.wrap_socket(raw, server_hostname=hostname))
        except BaseException:
            raw.close()
            raise

    def _read_exact(self, nbytes):
        data = self.sock.read(nbytes)
        if data is None or len(data) < nbytes:
            raise OSError(-1, "connection closed by broker")
        return data

    def _read_remaining_len(self):
        size = 0
        for shift in (0, 7, 14, 21):
            digit = self._read_exact(1)[0]
            size |= (digit & 0x7F) << shift
            if not digit & 0x80:
                return size
        raise OSError(-1, "malformed remaining length")

    def _next_pid(self):
        self.pid = self.pid % _PID_MAX + 1
        return self.pid

    def connect(self, clean_session=True):
        """Open the connection and log in; returns 1 if the broker kept a session, else 0."""
        self._open()
        flags = 0x02 if clean_session else 0
        payload = _with_len(_as_bytes(self.client_id))
        if self.lw_topic:
            flags |= 0x04 | (self.lw_qos & 0x03) << 3 | bool(self.lw_retain) << 5
            payload += _with_len(_as_bytes(self.lw_topic)) + _with_len(_as_bytes(self.lw_msg))
        if self.user:
            flags |= 0xC0
            payload += _with_len(_as_bytes(self.user)) + _with_len(_as_bytes(self.pswd or b""))
        if self.keepalive:
            assert self.keepalive < 65536
        variable = b"\x00\x04MQTT\x04" + struct.pack("!BH", flags, self.keepalive)
        body = variable + payload
        self.sock.write(bytes((_CONNECT,)) + _remaining_len(len(body)) + body)
        resp = self._read_exact(4)
        if resp[0] != _CONNACK or resp[1] != 2:
            raise OSError(-1, f"expected CONNACK, got {resp.hex()}")
        if resp[3] != 0:
            raise MQTTException(resp[3])
        return resp[2] & 1

    def disconnect(self):
        """Say goodbye (so the broker drops the last will) and close the socket."""
        self.sock.write(bytes((_DISCONNECT, 0)))
        self.sock.close()

    def ping(self):
        """Send PINGREQ; the PINGRESP is consumed by wait_msg()/check_msg()."""
        self.sock.write(bytes((_PINGREQ, 0)))

    def publish(self, topic, msg, retain=False, qos=0):
        """Publish msg on topic; with qos=1 return only after the broker's PUBACK."""
        assert qos in (0, 1), "umqtt.simple supports QoS 0 and 1"
        topic = _as_bytes(topic)
        msg = _as_bytes(msg)
        size = 2 + len(topic) + len(msg) + (2 if qos else 0)
        assert size < _MAX_REMAINING_LEN
        header = bytes((_PUBLISH | qos << 1 | bool(retain),)) + _remaining_len(size)
        pid = 0
        if qos:
            pid = self._next_pid()
            self.sock.write(header + _with_len(topic) + struct.pack("!H", pid))
        else:
            self.sock.write(header + _with_len(topic))
        self.sock.write(msg)
        if qos == 1:
            while True:
                if self.wait_msg() == _PUBACK:
                    size = self._read_exact(1)
                    assert size == b"\x02"
                    if struct.unpack("!H", self._read_exact(2))[0] == pid:
                        return

    def subscribe(self, topic, qos=0):
        """Subscribe to topic (filters allowed); returns once the broker sent SUBACK."""
        assert self.cb is not None, "Subscribe callback is not set"
        topic = _as_bytes(topic)
        pid = self._next_pid()
        body = struct.pack("!H", pid) + _with_len(topic) + bytes((qos,))
        self.sock.write(bytes((_SUBSCRIBE,)) + _remaining_len(len(body)) + body)
        while True:
            if self.wait_msg() == _SUBACK:
                resp = self._read_exact(4)
                assert resp[0] == 3 and struct.unpack("!H", resp[1:3])[0] == pid
                if resp[3] == 0x80:
                    raise MQTTException(resp[3])
                return

    def wait_msg(self):
        """Handle one incoming packet; see the module docstring for what it returns."""
        res = self.sock.read(1)
        self.sock.setblocking(True)
        if res is None:
            return None
        if res == b"":
            raise OSError(-1, "connection closed by broker")
        op = res[0]
        if op == _PINGRESP:
            assert self._read_exact(1)[0] == 0
            return None
        if op & 0xF0 != _PUBLISH:
            # The caller (publish/subscribe) reads the rest of this packet, as on the device.
            return op
        size = self._read_remaining_len()
        topic_len = struct.unpack("!H", self._read_exact(2))[0]
        topic = self._read_exact(topic_len)
        size -= topic_len + 2
        pid = 0
        if op & 0x06:
            pid = struct.unpack("!H", self._read_exact(2))[0]
            size -= 2
        msg = self._read_exact(size) if size > 0 else b""
        self.cb(topic, msg)
        if op & 0x06 == 0x02:
            self.sock.write(struct.pack("!BBH", _PUBACK, 2, pid))
        elif op & 0x06 == 0x04:
            raise AssertionError("QoS 2 messages are not supported")
        return op

    def check_msg(self):
        """Like wait_msg(), but return None at once when nothing is pending."""
        self.sock.setblocking(False)
        return self.wait_msg()
