"""A bit-level model of the meter's serial line, shared by the simulator and the UART twin.

Why: the dongle's line-setting search must tell a right baud, parity and RX inversion from a
wrong one, as on a real wire. So the simulator does not hand the twin bytes: it sends the line
itself, each byte serialised with its start, parity and stop bits at the meter's baud (and
inverted when asked), and the twin's UART samples that line at its own configured baud, parity
and inversion, as a UART receiver does. A mismatch gives garbage or nothing, never the bytes.

The line goes over the TCP or pty stream as runs of one level, each a varint of
`ticks << 1 | level`, with 921,600 ticks a second (8 per bit at 115200, 96 at 9600, 384 at
2400 baud). `level` is the physical one: idle is 1, or 0 on an inverted line. Every frame ends
with `GAP_TICKS` of idle line, so a receiver left inside a character finishes it before the
next frame (meters pause seconds between frames). Between frames the line holds its last level.

The receiver, like the ESP32's UART, checks nothing it could report: a byte with a wrong parity
bit or a stop bit found low (a framing error) still goes into the buffer; after a framing
error it waits for the line to go idle before it looks for the next start bit, and a line held
low (a wrong inversion) gives one NUL byte, as a break does on the chip.

Runs on CPython (simulator, twin) and in the MicroPython unix port (twin); plain ints only.
"""

TICK_HZ = 921600
GAP_TICKS = TICK_HZ // 20  # 50 ms of idle after every frame

_PARITY_BITS = {None: 0, "N": 0, "E": 1, "O": 1, 0: 1, 1: 1}

# receiver states
_HUNT = 0  # idle: waiting for a falling edge (a start bit)
_WAIT_IDLE = 1  # after a framing error: waiting for the line to go high first
_CHAR = 2  # inside a character: sampling bits


def bit_ticks(baud):
    return max(1, (TICK_HZ + baud // 2) // baud)


def _odd(value):
    value ^= value >> 4
    value ^= value >> 2
    value ^= value >> 1
    return value & 1


def encode(data, baud, parity="N", invert=False, gap_ticks=GAP_TICKS):
    """The line for the bytes `data` sent back to back at baud/8/parity/1 stop: run bytes.

    parity "N", "E" or "O" (the config's letters)."""
    width = bit_ticks(baud)
    out = bytearray()
    level = 1
    length = 0
    flip = 1 if invert else 0
    for byte in data:
        bits = [0]
        bits.extend((byte >> i) & 1 for i in range(8))
        if parity == "E":
            bits.append(_odd(byte))
        elif parity == "O":
            bits.append(_odd(byte) ^ 1)
        bits.append(1)
        for bit in bits:
            if bit == level:
                length += width
            else:
                if length:
                    _put_run(out, length, level ^ flip)
                level = bit
                length = width
    if level == 1:
        length += gap_ticks
    else:
        _put_run(out, length, level ^ flip)
        level, length = 1, gap_ticks
    _put_run(out, length, level ^ flip)
    return bytes(out)


def _put_run(out, ticks, level):
    value = (ticks << 1) | level
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


class Receiver:
    """A UART receiver sampling the line: `feed(run_bytes, out)` appends the bytes it reads."""

    def __init__(self, baud=2400, parity=None, invert=False):
        self.level = None  # physical level of the line now; None before the first run
        self.breaks = 0
        self.framing_errors = 0
        self._acc = 0  # a varint cut by a chunk boundary
        self._shift = 0
        self.configure(baud, parity, invert)

    def configure(self, baud, parity, invert, out=None):
        """Settings as UART.init gives them (parity None/0/1 or "N"/"E"/"O"); a character in
        progress is lost. A line held low from now on gives a break: one NUL into `out`."""
        self._width = bit_ticks(baud)
        self._nbits = 1 + 8 + _PARITY_BITS[parity]  # start, data, parity: stop comes after
        self._flip = 1 if invert else 0
        self._state = _HUNT
        self._need = 0
        self._bit = 0
        self._value = 0
        if self.level is not None and (self.level ^ self._flip) == 0:
            self._state = _WAIT_IDLE
            self.breaks += 1
            if out is not None:
                out.append(0)

    def feed(self, data, out):
        acc = self._acc
        shift = self._shift
        for byte in data:
            acc |= (byte & 0x7F) << shift
            if byte & 0x80:
                shift += 7
                continue
            self._run(acc >> 1, acc & 1, out)
            acc = 0
            shift = 0
        self._acc = acc
        self._shift = shift

    def _run(self, ticks, level, out):
        self.level = level
        logic = level ^ self._flip
        while ticks > 0:
            state = self._state
            if state == _WAIT_IDLE:
                if logic == 0:
                    return
                self._state = _HUNT
                state = _HUNT
            if state == _HUNT:
                if logic == 1:
                    return
                # falling edge here: sample the start bit in its middle
                self._state = _CHAR
                self._bit = 0
                self._value = 0
                self._need = self._width // 2
            need = self._need
            if need >= ticks:
                self._need = need - ticks
                return
            ticks -= need
            self._need = self._width
            self._sample(logic, out)

    def _sample(self, logic, out):
        bit = self._bit
        if bit == 0:
            if logic:  # a glitch, not a start bit
                self._state = _HUNT
                return
        elif bit <= 8:
            self._value |= logic << (bit - 1)
        elif bit == self._nbits:  # the stop bit
            out.append(self._value)
            if logic:
                self._state = _HUNT
            else:
                self.framing_errors += 1
                self._state = _WAIT_IDLE
            return
        # parity bit (bit 9 with parity) is read and not checked, as the ESP32 reports nothing
        self._bit = bit + 1
