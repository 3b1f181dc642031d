"""Host twin of MicroPython's `machine` module: UART, Pin, WDT, reset, unique_id.

Why: the firmware builds its UART, LED pin and watchdog through `machine`, which CPython lacks.
With `tools/hosttwin/` on sys.path this module takes its place, so the unchanged application
reads meter bytes on a PC. Only the names and methods the application uses are here.

The UART's bytes come from a source chosen by a URL-ish string, taken from the `source=`
argument, else `machine.UART_SOURCE`, else the environment variable `HANPORT_UART`:
  - `tcp://HOST:PORT`   connect to a TCP server (e.g. `tools/simulate.py --tcp PORT`),
                        reconnecting every second while it is down;
  - `pty:/dev/pts/N`, `pipe:PATH`, `file:PATH` read a pty, a named pipe or a file
                        (`-` or `stdin:` reads standard input);
  - `serial:/dev/ttyUSB0` a real serial port via pyserial, with the UART's baud/parity/stop;
  - `none` (default)    no bytes, except what a test puts in with `inject()`.
A reader thread fills a bounded receive buffer (`rxbuf` bytes, as on the device). When it is full
the newest bytes are dropped and counted in `overruns`, like a hardware FIFO overrun.
"""

import hashlib
import os
import socket
import sys
import threading
import time

UART_SOURCE = None

_RETRY_S = 1.0
_CHUNK = 512


class UART:
    INV_RX = 1 << 1
    INV_TX = 1 << 0

    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, **kwargs):
        self.id = id
        self._buf = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.overruns = 0
        self.bytes_in = 0
        self.init(baudrate, bits, parity, stop, **kwargs)

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kwargs):
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity
        self.stop = stop
        self.rxbuf = kwargs.get("rxbuf", 256)
        self.timeout = kwargs.get("timeout", 0)
        self.invert = kwargs.get("invert", 0)
        self.rx = kwargs.get("rx")
        self.tx = kwargs.get("tx")
        source = kwargs.get("source") or UART_SOURCE or os.environ.get("HANPORT_UART") or "none"
        self.source = source
        if self._thread is None and source != "none":
            self._thread = threading.Thread(target=self._pump, name="uart-twin", daemon=True)
            self._thread.start()

    def deinit(self):
        self._stop.set()

    # --- the device API the application uses ---
    def any(self):
        with self._lock:
            return len(self._buf)

    def readinto(self, buf, nbytes=None):
        """Copy waiting bytes into buf; None when there are none (as with timeout=0)."""
        with self._lock:
            n = min(len(self._buf), len(buf) if nbytes is None else nbytes)
            if n == 0:
                return None
            buf[:n] = self._buf[:n]
            del self._buf[:n]
        return n

    def read(self, nbytes=None):
        with self._lock:
            n = len(self._buf) if nbytes is None else min(nbytes, len(self._buf))
            if n == 0:
                return None
            data = bytes(self._buf[:n])
            del self._buf[:n]
        return data

    def write(self, buf):
        return len(buf)

    # --- host-only helpers ---
    def inject(self, data):
        """Put bytes into the receive buffer as if they had arrived on the wire."""
        with self._lock:
            room = self.rxbuf - len(self._buf)
            if len(data) > room:
                self.overruns += len(data) - room
                data = data[:room]
            self._buf += data
            self.bytes_in += len(data)

    def _pump(self):
        scheme, _, where = self.source.partition(":")
        while not self._stop.is_set():
            try:
                if scheme == "tcp":
                    self._pump_tcp(where.lstrip("/"))
                elif scheme == "serial":
                    self._pump_serial(where)
                elif scheme in ("pty", "pipe", "file", "stdin", "-"):
                    self._pump_file(where)
                    if scheme == "file":
                        return
                else:
                    print(
                        "machine twin: unknown UART source {!r}".format(self.source),
                        file=sys.stderr,
                    )
                    return
            except OSError as exc:
                print("machine twin: UART source {}: {}".format(self.source, exc), file=sys.stderr)
            self._stop.wait(_RETRY_S)

    def _pump_tcp(self, where):
        host, _, port = where.rpartition(":")
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5) as sock:
            sock.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    data = sock.recv(_CHUNK)
                except socket.timeout:
                    continue
                if not data:
                    return
                self.inject(data)

    def _pump_file(self, path):
        fd = sys.stdin.fileno() if path in ("", "-") else os.open(path, os.O_RDONLY)
        try:
            while not self._stop.is_set():
                data = os.read(fd, _CHUNK)
                if not data:
                    return
                self.inject(data)
        finally:
            if fd != sys.stdin.fileno():
                os.close(fd)

    def _pump_serial(self, path):
        import serial  # pyserial, only needed for a real port

        parity = {None: serial.PARITY_NONE, 0: serial.PARITY_EVEN, 1: serial.PARITY_ODD}
        with serial.Serial(
            path,
            self.baudrate,
            bytesize=self.bits,
            parity=parity[self.parity],
            stopbits=self.stop,
            timeout=0.2,
        ) as port:
            while not self._stop.is_set():
                data = port.read(_CHUNK)
                if data:
                    self.inject(data)


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        # An input with a pull-up reads 1, like an unpressed active-low button.
        self._value = 1 if pull == Pin.PULL_UP else 0
        if value is not None:
            self._value = int(bool(value))

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = int(bool(v))
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0


class WDT:
    """Watchdog twin: counts feeds and says whether it would have reset the chip."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        self._last = time.monotonic()

    def feed(self):
        self.feeds += 1
        self._last = time.monotonic()

    def expired(self):
        return (time.monotonic() - self._last) * 1000 > self.timeout


class ResetError(SystemExit):
    """Raised by reset(): on a PC a reset ends the program."""


def reset():
    raise ResetError("machine.reset()")


def soft_reset():
    raise ResetError("machine.soft_reset()")


def unique_id():
    """Six bytes, stable per host, like the ESP32's MAC-based id."""
    return hashlib.sha256(socket.gethostname().encode()).digest()[:6]


def freq():
    return 240000000
