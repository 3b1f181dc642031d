"""Host twin of MicroPython's `machine` module: UART, Pin, WDT, reset, unique_id.

Why: the firmware builds its UART, LED pin and watchdog through `machine`, which a PC lacks. With
`tools/hosttwin/` on the module path this file takes its place, in the real MicroPython
interpreter (unix port) and in CPython alike, so the unchanged application reads meter bytes on
a PC. Only the names and methods the application uses are here; no threads.

The UART's bytes come from a source named by the `source=` argument, else `machine.UART_SOURCE`,
else the environment variable `HANPORT_UART`:
  - `tcp://HOST:PORT`   a TCP server (e.g. `tools/simulate.py --tcp PORT`), reconnected every
                        second while it is down;
  - `pty:PATH`, `pipe:PATH`  a pty or a named pipe (read when `select.poll` says it has bytes);
  - `file:PATH`         a file, read no faster than the application takes it (never overruns);
  - `serial:DEV`        a real serial port through pyserial (CPython only);
  - `none` (default)    no bytes, except what a test puts in with `inject()`.
Any of them prefixed with `line:` (`line:tcp://HOST:PORT`) carries the serial line itself, not
bytes (`tools/simulate.py --baud/--parity/--invert`, see `uartline.py`): the UART then samples
it at the baud, parity and RX inversion it was last given (`UART.init`), so wrong settings read
garbage or nothing, as on a wire. Without `line:` every setting reads the bytes as sent.
Reads never block. Each `any()`/`readinto()`/`read()` first drains the source into a receive
buffer of `rxbuf` bytes, as the ESP32's UART driver does between polls; bytes that find it full
are dropped and counted in `overruns` (newest lost first, as on the chip). On the board that
buffer lives outside the MicroPython heap; so it does in the 32-bit build, whose C module
`offheap` (tools/hosttwin/offheap) gives C memory; elsewhere it costs `rxbuf` bytes of heap.

Watchdog: `WDT.feeds` counts feeds; a feed later than the timeout (the chip would have reset)
is counted in `WDT.missed` and reported on stderr. `reset()` ends the process with exit status
`RESET_EXIT`, so a supervisor (test, demo) sees a restart as distinct from a crash.
"""

import os
import select
import socket
import sys
import time

UART_SOURCE = None
RESET_EXIT = 86  # exit status of machine.reset(): "the dongle restarted"

_RETRY_MS = 1000
_READS_PER_DRAIN = 64  # bound on one drain, so a flood cannot hold the caller

try:  # MicroPython
    _ticks, _diff, _add = time.ticks_ms, time.ticks_diff, time.ticks_add
except AttributeError:  # CPython

    def _ticks():
        return int(time.monotonic() * 1000)

    def _diff(a, b):
        return a - b

    def _add(a, b):
        return a + b


try:  # the 32-bit build's C memory: the ring costs the GC heap no more than the chip's does
    from offheap import bytearray as _ring
except ImportError:  # other interpreters: a heap bytearray
    _ring = bytearray


def _say(text):
    sys.stderr.write("machine twin: " + text + "\n")


def _nothing_waiting(exc):
    return exc.args and exc.args[0] in (11, 35)  # EAGAIN (Linux, macOS)


class UART:
    INV_RX = 1 << 1
    INV_TX = 1 << 0

    def __init__(self, id, baudrate=9600, bits=8, parity=None, stop=1, **kwargs):
        self.id = id
        self.overruns = 0
        self.bytes_in = 0
        self._src = None  # the open socket, file or serial port
        self._line = None  # uartline.Receiver when the source carries the line
        self._poll = None
        self._next_try = None
        self._done = False
        self._told = False
        self.init(baudrate, bits, parity, stop, **kwargs)

    def init(self, baudrate=9600, bits=8, parity=None, stop=1, **kwargs):
        """(Re)configure; as on the chip, bytes waiting in the buffer are dropped."""
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity
        self.stop = stop
        self.timeout = kwargs.get("timeout", 0)
        self.invert = kwargs.get("invert", 0)
        self.rx = kwargs.get("rx")
        self.tx = kwargs.get("tx")
        rxbuf = kwargs.get("rxbuf", 256)
        if getattr(self, "rxbuf", None) != rxbuf:
            self.rxbuf = rxbuf
            self._buf = _ring(rxbuf)  # the driver's ring buffer
            self._mv = memoryview(self._buf)
            self._scratch = memoryview(bytearray(64))  # where overrun bytes go to be dropped
        self._head = 0
        self._n = 0
        if not hasattr(self, "source"):  # the first init picks the byte source for good
            source = kwargs.get("source") or UART_SOURCE or os.getenv("HANPORT_UART") or "none"
            self._line = None
            if source.startswith("line:"):
                import uartline  # the bit-level line model, only for a line source

                source = source[5:]
                self._line = uartline.Receiver()
                self._line_in = memoryview(bytearray(256))
                self._line_out = bytearray()
            self.source = source
        if self._line is not None:
            self._line_out = bytearray()
            self._line.configure(baudrate, parity, self.invert & UART.INV_RX, self._line_out)
            self._take(self._line_out)
        if self.source != "none" and self._src is None:
            self._open()  # connect now, as the chip's UART is live once made

    def deinit(self):
        self._close()
        self._done = True

    # --- the device API the application uses ---
    def any(self):
        self._drain()
        return self._n

    def readinto(self, buf, nbytes=None):
        """Copy waiting bytes into buf; None when there are none (as with timeout=0)."""
        self._drain()
        want = len(buf) if nbytes is None else min(nbytes, len(buf))
        n = min(self._n, want)
        if n == 0:
            return None
        size = self.rxbuf
        first = min(n, size - self._head)
        out = memoryview(buf)
        out[:first] = self._mv[self._head : self._head + first]
        if first < n:
            out[first:n] = self._mv[: n - first]
        self._head = (self._head + n) % size
        self._n -= n
        return n

    def read(self, nbytes=None):
        self._drain()
        n = self._n if nbytes is None else min(nbytes, self._n)
        if n == 0:
            return None
        data = bytearray(n)
        self.readinto(data)
        return bytes(data)

    def write(self, buf):
        return len(buf)

    # --- host-only helpers ---
    def inject(self, data):
        """Put bytes into the receive buffer as if they had arrived on the wire."""
        self._take(data)

    def inject_line(self, runs):
        """Put line runs (uartline) on the wire of a `line:` UART: sampled at its settings."""
        out = bytearray()
        self._line.feed(runs, out)
        self._take(out)

    def _take(self, data):
        view = memoryview(data)
        while len(view):
            room = self._room()
            if not len(room):
                self.overruns += len(view)
                return
            n = min(len(room), len(view))
            room[:n] = view[:n]
            self._n += n
            self.bytes_in += n
            view = view[n:]

    def _room(self):
        """The contiguous free part of the ring buffer after the waiting bytes."""
        size = self.rxbuf
        tail = (self._head + self._n) % size
        return self._mv[tail : tail + min(size - self._n, size - tail)]

    # --- the byte source ---
    def _drain(self):
        if self._done or self.source == "none":
            return
        if self._src is None and not self._open():
            return
        if self._line is not None:
            self._drain_line()
            return
        for _ in range(_READS_PER_DRAIN):
            room = self._room()
            if not len(room):
                if self._kind == "file":
                    return  # a file waits for the reader: it never overruns
                room = self._scratch
            try:
                n = self._read_into(room)
            except OSError as exc:
                _say("UART source {}: {!r}".format(self.source, exc))
                n = 0
            if n is None:
                return  # nothing more waiting
            if n == 0:  # end of the stream
                self._close()
                if self._kind in ("file", "pipe"):
                    self._done = True
                return
            if room is self._scratch:
                self.overruns += n
            else:
                self._n += n
                self.bytes_in += n

    def _drain_line(self):
        """Read the line's runs and sample them at the present settings into the buffer."""
        out = self._line_out
        for _ in range(_READS_PER_DRAIN):
            if self._kind == "file" and self._n > self.rxbuf // 2:
                return  # a file waits for the reader: it never overruns
            try:
                n = self._read_into(self._line_in)
            except OSError as exc:
                _say("UART source {}: {!r}".format(self.source, exc))
                n = 0
            if n is None:
                return
            if n == 0:
                self._close()
                if self._kind in ("file", "pipe"):
                    self._done = True
                return
            out[:] = b""
            self._line.feed(self._line_in[:n], out)
            self._take(out)

    def _read_into(self, view):
        """Bytes read into view, None when none are waiting, 0 at the end of the stream."""
        src = self._src
        if self._kind == "tcp":
            try:
                return src.readinto(view) if hasattr(src, "readinto") else src.recv_into(view)
            except OSError as exc:
                if _nothing_waiting(exc):
                    return None
                raise
        if self._kind == "serial":
            waiting = src.in_waiting
            if not waiting:
                return None
            return src.readinto(view[: min(waiting, len(view))])
        if self._poll is not None and not self._poll.poll(0):
            return None
        return src.readinto(view)

    def _open(self):
        now = _ticks()
        if self._next_try is not None and _diff(now, self._next_try) < 0:
            return False
        scheme, _, where = self.source.partition(":")
        self._kind = scheme
        try:
            if scheme == "tcp":
                host, _, port = where.lstrip("/").rpartition(":")
                sock = socket.socket()
                sock.connect(socket.getaddrinfo(host or "127.0.0.1", int(port))[0][-1])
                sock.setblocking(False)
                self._src = sock
            elif scheme in ("pty", "pipe", "file"):
                self._src = open(where, "rb")
                if scheme != "file":
                    self._poll = select.poll()
                    self._poll.register(self._src, select.POLLIN)
            elif scheme == "serial":
                import serial  # pyserial, CPython only

                parity = {None: serial.PARITY_NONE, 0: serial.PARITY_EVEN, 1: serial.PARITY_ODD}
                self._src = serial.Serial(
                    where, self.baudrate, self.bits, parity[self.parity], self.stop, timeout=0
                )
            else:
                _say("unknown UART source {!r}".format(self.source))
                self._done = True
                return False
        except OSError as exc:
            if not self._told:  # once per outage, not every second
                self._told = True
                _say("UART source {}: {!r}; retrying every second".format(self.source, exc))
            self._close()
            return False
        self._told = False
        return True

    def _close(self):
        if self._src is not None:
            try:
                self._src.close()
            except OSError:
                pass
        self._src = None
        self._poll = None
        self._next_try = _add(_ticks(), _RETRY_MS)


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
            self._value = 1 if value else 0

    def value(self, v=None):
        if v is None:
            return self._value
        self._value = 1 if v else 0
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self._value = 1

    def off(self):
        self._value = 0


class WDT:
    """Watchdog twin: counts feeds, and the feeds that came too late for the chip."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        self.missed = 0
        self._last = _ticks()

    def feed(self):
        now = _ticks()
        late = _diff(now, self._last)
        if late > self.timeout:
            self.missed += 1
            _say("WDT would have reset the chip: no feed for {} ms".format(late))
        self.feeds += 1
        self._last = now

    def expired(self):
        return _diff(_ticks(), self._last) > self.timeout


def reset():
    _say("machine.reset(): exiting with status {}".format(RESET_EXIT))
    sys.exit(RESET_EXIT)


def soft_reset():
    reset()


def unique_id():
    """Six bytes like the ESP32's MAC-based id (fixed on a PC)."""
    return b"\x24\x6f\x28\x9a\xbc\xde"


def freq():
    return 240000000
