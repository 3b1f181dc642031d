"""Meter bytes in: the UART settings from config + board, and the poller that feeds the parser.

`uart_settings()` is plain data so it can be tested; the hardware layer (hw.py) passes it to
`machine.UART`. `MeterSource.poll()` moves whatever the UART holds into a preallocated buffer
with `readinto` and hands views of it to `hanport.Reader.feed`. It touches nothing but the UART
and the reader, so reading the meter never waits on the network.
"""

from compat import const

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


def uart_settings(uart_cfg, board, inv_rx):
    """Keyword arguments for machine.UART(board['uart_id'], **settings).

    `inv_rx` is `machine.UART.INV_RX`; the config's `invert_rx` wins over the board's unless null.
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
    return settings


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
