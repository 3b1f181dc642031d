"""Meter bytes in: the UART settings from config + board, and the poller that feeds the parser.

`uart_settings()` is plain data so it can be tested; the hardware layer (hw.py) passes it to
`machine.UART`, and `LineSetter` (made by hw.py) gives the UART one of the `LINES` the
line-setting search tries when `uart.baud` is "auto" (the search itself is linefind.py, loaded
only while it runs; `LineWatch` decides when a found line is searched again).
`MeterSource.poll()` moves whatever the UART holds into a preallocated buffer with `readinto`
and hands views of it to `hanport.Reader.feed`. It touches nothing but the UART
and the reader, so reading the meter never waits on the network.
"""

from compat import const, ticks_diff

FRAME_MAX = const(2048)  # largest frame accepted (Swedish Aidon 579, Polish Kaifa 655 bytes)
RXBUF = const(4096)  # UART driver buffer: two largest frames, about 18 s at 2400 8E1
_CHUNK = const(256)  # bytes moved per readinto
_CHUNKS_PER_POLL = const(8)  # bound on one poll, so the loop always gets control back

_PARITY = {"N": None, "E": 0, "O": 1}
_HINT_BYTES = const(1024)  # a few lists' worth: at the right settings a frame has come by then
LINE_HINT = "bytes but no frames: check baud, parity and RX inversion"


def line_hint(bytes_in, frames_ok):
    """LINE_HINT when the meter sends but nothing decodes (wrong line settings), else None."""
    if frames_ok == 0 and bytes_in >= _HINT_BYTES:
        return LINE_HINT
    return None


# The line settings "auto" tries, in this order: Norway's M-Bus ports (and Austria's) first,
# then 8N1 (some Kamstrup), the P1 ports of Sweden and Denmark, 9600 last; each with RX as
# wired and inverted. An 8E1 line read at 8N1 gives the right bytes too (the parity bit lands
# on the stop bit; the ESP32 keeps bytes with a framing error), so 8E1 is tried first.
LINES = (
    (2400, "E", False),
    (2400, "E", True),
    (2400, "N", False),
    (2400, "N", True),
    (115200, "N", False),
    (115200, "N", True),
    (9600, "N", False),
    (9600, "N", True),
)
LINE_NAMES = (
    "2400 8E1",
    "2400 8E1 inverted",
    "2400 8N1",
    "2400 8N1 inverted",
    "115200 8N1",
    "115200 8N1 inverted",
    "9600 8N1",
    "9600 8N1 inverted",
)
AUTO = "auto"


def line_index(uart_cfg):
    """Which of LINES an "auto" UART starts on: the one found before (uart.found), else the
    first; None when the baud is set by hand."""
    if uart_cfg["baud"] != AUTO:
        return None
    found = uart_cfg.get("found", "")
    return LINE_NAMES.index(found) if found in LINE_NAMES else 0


def uart_settings(uart_cfg, board, inv_rx, line=None):
    """Keyword arguments for machine.UART(board['uart_id'], **settings).

    `inv_rx` is `machine.UART.INV_RX`; the config's `invert_rx` wins over the board's unless null.
    With baud "auto", `line` (an index into LINES; default as line_index says) sets baud,
    8 bits, parity, 1 stop bit and the inversion.
    """
    invert = uart_cfg["invert_rx"]
    if invert is None:
        invert = board.get("invert_rx", False)
    settings = {
        "baudrate": uart_cfg["baud"],
        "bits": uart_cfg["bits"],
        "parity": _PARITY[uart_cfg["parity"]],
        "stop": uart_cfg["stop"],
        "rx": board["rx_pin"],
        "rxbuf": RXBUF,
        "timeout": 0,
        "invert": inv_rx if invert else 0,
    }
    if board.get("tx_pin") is not None:
        settings["tx"] = board["tx_pin"]
    if settings["baudrate"] == AUTO:
        _put_line(settings, line_index(uart_cfg) if line is None else line, inv_rx)
    return settings


def _put_line(settings, line, inv_rx):
    """Baud, 8 bits, parity, 1 stop bit and the inversion of LINES[line] into `settings`."""
    baud, parity, invert = LINES[line]
    settings["baudrate"] = baud
    settings["bits"] = 8
    settings["parity"] = _PARITY[parity]
    settings["stop"] = 1
    settings["invert"] = inv_rx if invert else 0


class LineSetter:
    """Puts the UART on one of LINES (UART.init); made by hw.py, which knows INV_RX.

    It keeps the UART's keyword arguments (pins, buffer) and changes only the line's, so the
    config and the pin map need not stay in the heap for it."""

    def __init__(self, uart, uart_cfg, board, inv_rx):
        self._uart = uart
        self._inv_rx = inv_rx
        self.index = line_index(uart_cfg)
        self._settings = uart_settings(uart_cfg, board, inv_rx, self.index)

    def set(self, index):
        _put_line(self._settings, index, self._inv_rx)
        self._uart.init(**self._settings)
        self.index = index


_WATCH_MS = const(30000)  # meters pause; a line that sends this long with no good frame is lost
_WATCH_BYTES = const(1024)


class LineWatch:
    """After the line is found: True from `step()` once bytes keep coming with no good frame
    (over _WATCH_BYTES bytes and _WATCH_MS since the last one), never for a line gone quiet."""

    def __init__(self, now, bytes_in, good):
        self._good = good
        self._good_ms = now
        self._bytes = bytes_in

    def step(self, now, bytes_in, good):
        if good != self._good:
            self._good = good
            self._good_ms = now
            self._bytes = bytes_in
            return False
        if bytes_in - self._bytes < _WATCH_BYTES:
            return False
        return ticks_diff(now, self._good_ms) >= _WATCH_MS


class MeterSource:
    def __init__(self, uart, reader, chunk=_CHUNK, rxbuf=RXBUF):
        self._uart = uart
        self._reader = reader
        self._buf = bytearray(chunk)
        self._view = memoryview(self._buf)
        # machine.UART cannot count overruns; a buffer found this full has been dropping bytes.
        self._full_at = rxbuf - chunk
        self.bytes_in = 0
        self.polls = 0
        self.rx_full = 0  # polls that found the UART buffer (nearly) full: bytes likely lost

    def poll(self):
        """Feed every waiting byte (up to a bound) to the reader; return how many were fed."""
        self.polls += 1
        total = 0
        uart = self._uart
        view = self._view
        if uart.any() >= self._full_at:
            self.rx_full += 1
        for _ in range(_CHUNKS_PER_POLL):
            if not uart.any():
                break
            n = uart.readinto(view)
            if not n:
                break
            self._reader.feed(view[:n])
            total += n
        if not total and self._reader.push_pending:
            self._reader.expire()  # a push whose next part never comes is given up in time
        self.bytes_in += total
        return total
