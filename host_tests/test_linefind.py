"""The line-setting search (uart.baud "auto", firmware/linefind.py) in CPython, on a simulated
clock: the simulator's frames become the serial line (tools/hosttwin/uartline.py) at the
meter's settings, and the UART twin samples it at whatever the search sets, so a wrong setting
reads garbage or nothing, as on a wire. Deterministic: no sockets, no wall clock.

The same search in the real MicroPython interpreter, over TCP: test_linefind_mp.py.
"""

import datetime
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
for sub in ("firmware", "tools/hosttwin", "tools"):
    if str(ROOT / sub) not in sys.path:
        sys.path.insert(0, str(ROOT / sub))

import app  # noqa: E402
import corpus  # noqa: E402
import hanport  # noqa: E402
import board  # noqa: E402
import config  # noqa: E402
import machine  # noqa: E402
import network  # noqa: E402
import simulate  # noqa: E402
import telemetry  # noqa: E402
import uartline  # noqa: E402
import uartsrc  # noqa: E402

BOARD = dict(board.GENERIC)
START = datetime.datetime(2024, 3, 1, 12, 0, 3)
STEP_MS = 10  # the meter task's period

# Each setting with a meter that sends on it: Norway (HDLC), Austria (M-Bus), Sweden (P1),
# with the meter's cadence C (the time between its frames) in seconds: an Aidon or Kaifa
# (every 2-2.5 s, an Aidon's list 2 of 400 bytes, 1.8 s at 2400 baud, every 10 s), and a
# Kamstrup, which sends only every 10 s, the slowest cadence the search is built for.
CASES = [
    ("2400 8E1", "aidon", "hdlc", 2.5),
    ("2400 8E1", "kamstrup", "hdlc", 10.0),
    ("2400 8E1 inverted", "kaifa", "mbus", 2.0),
    ("2400 8E1 inverted", "kamstrup", "mbus", 10.0),
    ("2400 8N1", "aidon", "hdlc", 2.5),
    ("2400 8N1", "kamstrup", "hdlc", 10.0),
    ("2400 8N1 inverted", "aidon", "hdlc", 2.5),
    ("2400 8N1 inverted", "kamstrup", "hdlc", 10.0),
    ("115200 8N1", "aidon", "p1", 2.5),
    ("115200 8N1", "kamstrup", "p1", 10.0),
    ("115200 8N1 inverted", "kaifa", "p1", 2.0),
    ("115200 8N1 inverted", "kamstrup", "p1", 10.0),
    ("9600 8N1", "aidon", "p1", 2.5),
    ("9600 8N1", "kamstrup", "p1", 10.0),
    ("9600 8N1 inverted", "aidon", "mbus", 2.5),
    ("9600 8N1 inverted", "kamstrup", "mbus", 10.0),
]


def worst_case_s(cadence_s):
    """The stated bound (README): the first whole burst comes within C, it says which setting
    (the inversion is learnt in the pause before it), and two more bring the two good frames:
    3 C, plus the quiet times around the switches, 3 s. A meter sending every 2-2.5 s leaves
    pauses shorter than a quiet time after a long burst (an Aidon's list 1 and 2 take 2 s at
    2400 baud), and a 9600 frame of under ~60 bytes reads like a 115200 one at 2400 baud:
    one burst more there, 4 C + 4 s."""
    if cadence_s < 5:
        return 4 * cadence_s + 4
    return 3 * cadence_s + 3


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


class Bench:
    """The app on a `line:` UART twin, fed the simulator's line on a simulated clock."""

    def __init__(
        self, tmp_path, line, meter="aidon", fmt="hdlc", found="", key=None, start=START,
        frames=None,
    ):
        self.cfg = config.defaults()
        self.cfg["uart"]["found"] = found
        self.path = str(tmp_path / "config.json")
        config.save(self.cfg, self.path)
        self.clock = Clock()
        settings = uartsrc.uart_settings(self.cfg["uart"], BOARD, machine.UART.INV_RX)
        self.uart = machine.UART(1, source="line:none", **settings)
        setter = uartsrc.LineSetter(self.uart, self.cfg["uart"], BOARD, machine.UART.INV_RX)
        self.app = app.App(
            self.cfg, BOARD, self.uart, network.WLAN(), clock=self.clock, line_setter=setter
        )
        self.app.config_path = self.path
        self.readings = []
        on_reading = self.app._on_reading

        def record(reading):
            self.readings.append(reading)
            on_reading(reading)

        self.app.reader._on_reading = record
        self.set_line(line)
        if frames is None:
            sim = simulate.Simulator(meter, seed=3, framing=simulate.Framing(fmt, key))
            frames = sim.frames(start)
        self.frames = frames  # (time, reading, frame bytes) as Simulator.frames gives them
        self.start = start
        self._next = None
        self._queue = []  # [due ms, line runs]

    def set_line(self, name):
        baud, parity, invert = uartsrc.LINES[uartsrc.LINE_NAMES.index(name)]
        self.line = simulate.Line(baud, parity, invert)
        self.uart.inject_line(self.line.idle())

    def _pull(self):
        when, values, frame = next(self.frames)
        ms = int((when - self.start).total_seconds() * 1000)
        self._next = (ms, frame)

    def _send(self, start_ms, frame):
        """The frame's line, each run due at the time it ends on the wire (a 2400 baud list
        takes up to a second), so the search sees a burst as long as a real one."""
        wire = self.line.encode(frame)
        ticks = 0
        value = shift = begin = 0
        for at, byte in enumerate(wire):
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte & 0x80:
                continue
            ticks += value >> 1
            due = start_ms + ticks * 1000 // uartline.TICK_HZ
            if self._queue and self._queue[-1][0] == due:
                self._queue[-1][1] += wire[begin : at + 1]
            else:
                self._queue.append([due, bytearray(wire[begin : at + 1])])
            value = shift = 0
            begin = at + 1

    def run(self, seconds, until=None, meter_sends=True):
        """Step the meter task every 10 ms for `seconds`; the meter sends its frames on time.
        Returns the simulated seconds when until() first held, else None."""
        end = self.clock.ms + int(seconds * 1000)
        while self.clock.ms < end:
            if meter_sends:
                if self._next is None:
                    self._pull()
                while self._next[0] <= self.clock.ms:
                    self._send(*self._next)
                    self._pull()
                while self._queue and self._queue[0][0] <= self.clock.ms:
                    self.uart.inject_line(self._queue.pop(0)[1])
            self.app.read_meter()
            if until is not None and until():
                return self.clock.ms / 1000
            self.clock.ms += STEP_MS
        return None

    def found(self):
        return self.app.line_search is None and self.app.line_name is not None


@pytest.mark.parametrize(
    "line, meter, fmt, cadence_s", CASES, ids=["{} {}".format(c[0], c[1]) for c in CASES]
)
def test_search_finds_each_line_setting_within_its_stated_time(
    tmp_path, line, meter, fmt, cadence_s
):
    # The dongle starts at ten points of the meter's cycle (mid-frame and between frames).
    times = []
    for phase in range(10):
        start = START + datetime.timedelta(seconds=cadence_s * phase / 10)
        bench = Bench(tmp_path, line, meter, fmt, start=start)
        assert bench.app.line_status().startswith("searching: tried 2400 8N1")
        lock_s = bench.run(120, bench.found)
        assert lock_s is not None, bench.app.line_status()
        times.append(lock_s)
    print(
        "{}: {} {} every {} s: found in {:.1f}-{:.1f} s (bound {:.1f} s)".format(
            line, meter, fmt, cadence_s, min(times), max(times), worst_case_s(cadence_s)
        )
    )
    assert max(times) <= worst_case_s(cadence_s)
    assert bench.app.line_status() == line + " (found)"
    saved, problems = config.load(bench.path)
    assert saved["uart"]["found"] == line and saved["uart"]["baud"] == "auto"
    assert "linefind" not in sys.modules
    # From here on the readings are the meter's own.
    count = len(bench.readings)
    bench.run(3 * cadence_s)
    assert len(bench.readings) > count


def test_status_names_the_settings_tried_while_no_frame_comes(tmp_path):
    bench = Bench(tmp_path, "9600 8N1", "aidon", "p1")
    bench.run(6)
    status = telemetry.notes(bench.app)["uart_line"]
    # 2400 8N1 (it reads 8E1 lines too) saw the first burst: long, so 9600 is next.
    assert status == "searching: tried 2400 8N1, 9600 8N1 (inverted: line held low), no frames yet"
    assert telemetry.notes(bench.app)["line_hint"] is None  # the search is the hint
    assert telemetry.counters(bench.app).as_dict()["line_searches"] == 1


def test_a_silent_line_goes_round_all_settings_and_says_so(tmp_path):
    bench = Bench(tmp_path, "2400 8E1")
    # The idle line is high: no break after the first switch, so every inverted setting would
    # see it held low and is skipped; the others wait 12 s each for a byte (2400 8N1 first).
    bench.run(4 * 12 - 1, meter_sends=False)
    status = bench.app.line_status()
    assert status == (
        "searching: tried 2400 8E1, 2400 8N1, 115200 8N1, 9600 8N1 (inverted: line held low),"
        " no frames yet"
    )
    bench.run(2, meter_sends=False)
    assert bench.app.line_status() == (
        "searching: tried 2400 8E1 (inverted: line held low) (round 2), no frames yet"
    )


def test_the_saved_setting_is_where_the_next_boot_starts(tmp_path):
    bench = Bench(tmp_path, "115200 8N1", "aidon", "p1")
    assert bench.run(60, bench.found) is not None
    cfg, _ = config.load(bench.path)
    settings = uartsrc.uart_settings(cfg["uart"], BOARD, machine.UART.INV_RX)
    assert settings["baudrate"] == 115200 and settings["parity"] is None
    again = Bench(tmp_path / "..", "115200 8N1", "aidon", "p1", found=cfg["uart"]["found"])
    assert again.uart.baudrate == 115200
    assert again.app.line_search is None and again.app.line_status() == "115200 8N1 (saved)"
    # The first frame is read: no search, no lost frame.
    assert again.run(3, lambda: again.readings) is not None
    assert again.app.line_searches == 0


def test_a_line_that_goes_quiet_after_it_was_found_is_not_searched_again(tmp_path):
    bench = Bench(tmp_path, "2400 8E1", found="2400 8E1")
    bench.run(10)
    assert bench.readings
    bench.run(300, meter_sends=False)
    assert bench.app.line_searches == 0 and bench.app.line_status() == "2400 8E1 (saved)"


def test_a_line_that_sends_only_garbage_is_searched_again_and_found(tmp_path):
    bench = Bench(tmp_path, "9600 8N1", "aidon", "p1", found="2400 8E1")
    assert bench.run(25, lambda: bench.app.line_search is not None) is None  # not too soon
    assert bench.run(20, lambda: bench.app.line_search is not None) is not None
    # From the setting after the one in use (2400 8E1 inverted, read at 8N1 first).
    assert bench.app.line_status().startswith("searching: tried 2400 8N1 inverted")
    assert bench.run(60, bench.found) is not None
    assert bench.app.line_status() == "9600 8N1 (found)"
    assert config.load(bench.path)[0]["uart"]["found"] == "9600 8N1"


def test_a_config_that_cannot_be_written_leaves_the_line_in_use(tmp_path):
    bench = Bench(tmp_path, "2400 8N1", "kamstrup")
    bench.app.config_path = str(tmp_path / "no-such-dir" / "config.json")
    assert bench.run(60, bench.found) is not None
    assert bench.app.line_save_errors == 1  # counted, and the dongle goes on reading
    count = len(bench.readings)
    bench.run(25)
    assert len(bench.readings) > count


@pytest.mark.parametrize("sender", uartsrc.LINE_NAMES)
def test_the_line_model_reads_only_at_the_sender_settings_or_8n1_for_8e1(sender):
    """The twin's truth table: what each receiver setting makes of a sender's frames."""
    frame = simulate.Framing("hdlc").frame("Aidon", {"active_power_import": 1234.0})[0] * 5
    s_baud, s_parity, s_invert = uartsrc.LINES[uartsrc.LINE_NAMES.index(sender)]
    wire = uartline.encode(frame, s_baud, s_parity, s_invert)
    for receiver, (baud, parity, invert) in zip(uartsrc.LINE_NAMES, uartsrc.LINES):
        rx = uartline.Receiver(baud, parity, invert)
        got = bytearray()
        rx.feed(uartline.encode(b"", s_baud, s_parity, s_invert), got)
        rx.feed(wire, got)
        same_wiring = baud == s_baud and invert == s_invert
        readable = same_wiring and (parity == s_parity or parity == "N")
        assert (frame in bytes(got)) == readable, receiver


def test_saving_changes_only_uart_found_and_leaves_a_foreign_file_alone(tmp_path):
    import linefind

    path = tmp_path / "config.json"
    cfg = config.defaults()
    cfg["wifi"]["ssid"] = "hjemme-nett æøå"
    config.save(cfg, str(path))
    linefind.save(str(path), "2400 8N1 inverted")
    saved, problems = config.load(str(path))
    assert problems == [] and saved == dict(cfg, uart=dict(cfg["uart"], found="2400 8N1 inverted"))
    assert not (tmp_path / "config.json.tmp").exists()
    for foreign in (b"not json", b"[1, 2]", b'{"uart": 5}'):
        path.write_bytes(foreign)
        with pytest.raises(ValueError):
            linefind.save(str(path), "2400 8E1")
        assert path.read_bytes() == foreign


def corpus_bytes():
    """Every capture of the corpus as sent: (verified, bytes), verified when a reader finds a
    frame in it whose checksum verifies (the search's proof); the rest are its noise (frames
    cut short, damaged, encrypted with a key the dongle lacks)."""
    return corpus_bytes_of(*corpus.HDLC_FILES, "mbus", "p1")


def corpus_bytes_of(*names):
    out = []
    for record in corpus.records(*names):
        data = bytes.fromhex(record["hex"]) if record.get("hex") else record["text"].encode()
        reader = hanport.Reader(lambda reading: None, uartsrc.FRAME_MAX)
        reader.feed(memoryview(data))
        out.append((reader.stats.frames_ok + reader.stats.push_frames > 0, data))
    return out


def corpus_frames(captures, line, start):
    """The captures one after the other, as a meter sends: one every 2.5 s, and a pause of at
    least a second after a long one (a 1 KB P1 telegram takes 4.6 s at 2400 baud), forever."""
    baud, parity, invert = uartsrc.LINES[uartsrc.LINE_NAMES.index(line)]
    bits = 11 if parity == "E" else 10
    when = start
    while True:
        for data in captures:
            yield when, None, data
            wire_s = len(data) * bits / baud
            when += datetime.timedelta(seconds=max(2.5, wire_s + 1))


@pytest.mark.parametrize("line", uartsrc.LINE_NAMES)
def test_real_captures_lock_only_on_the_setting_they_are_sent_at(tmp_path, line):
    # Every capture, good and bad in file order (Norwegian HDLC lists, M-Bus, P1 telegrams of
    # up to 1 KB), sent at `line`: read at the other settings they are garbage that never
    # verifies twice in a row there, so the search ends on `line` and nowhere else.
    captures = [data for verified, data in corpus_bytes()]
    bench = Bench(tmp_path, line, frames=corpus_frames(captures, line, START))
    lock_s = bench.run(120, bench.found)
    assert lock_s is not None, bench.app.line_status()
    print("{}: the corpus found in {:.1f} s".format(line, lock_s))
    assert bench.app.line_status() == line + " (found)"


@pytest.mark.parametrize("line", uartsrc.LINE_NAMES)
def test_the_corpus_noise_never_settles_a_setting(tmp_path, line):
    noise = [data for verified, data in corpus_bytes() if not verified]
    assert len(noise) > 50
    bench = Bench(tmp_path, line, frames=corpus_frames(noise, line, START))
    assert bench.run(120, bench.found) is None
    assert bench.app.line_status().startswith("searching: tried ")
    assert bench.app._good_frames() <= 1  # a frame in a capture cut short may verify, not two


def paced_frames(meter, fmt, line, pause_s, start=START):
    """The simulator's frames sent one after the other with `pause_s` between them (a meter
    that hardly pauses: bursts closer than the search's quiet times)."""
    baud, parity, invert = uartsrc.LINES[uartsrc.LINE_NAMES.index(line)]
    bits = 11 if parity == "E" else 10
    frames = simulate.Simulator(meter, seed=3, framing=simulate.Framing(fmt)).frames(start)
    when = start
    for _, values, frame in frames:
        yield when, values, frame
        when += datetime.timedelta(seconds=len(frame) * bits / baud + pause_s)


@pytest.mark.parametrize("pause_s", [0.1, 0.9, 1.2])
@pytest.mark.parametrize("line", ["2400 8E1", "2400 8N1", "2400 8N1 inverted", "9600 8N1"])
def test_a_meter_that_hardly_pauses_is_found_on_its_own_setting(tmp_path, line, pause_s):
    # Pauses shorter than the quiet time at 2400 baud (0.85 s) leave the search no pause to
    # switch in or to learn the inversion by: it still ends on the meter's setting.
    frames = paced_frames("kamstrup", "hdlc", line, pause_s)
    bench = Bench(tmp_path, line, frames=frames)
    lock_s = bench.run(120, bench.found)
    assert lock_s is not None, bench.app.line_status()
    print("{}, pauses of {} s: found in {:.1f} s".format(line, pause_s, lock_s))
    assert bench.app.line_status() == line + " (found)"


@pytest.mark.parametrize("line", ["115200 8N1", "115200 8N1 inverted", "9600 8N1"])
def test_real_p1_telegrams_every_10_s_are_found_within_a_burst_more(tmp_path, line):
    # The corpus' P1 telegrams (212-1,423 bytes): read at 2400 one over ~600 bytes looks like a
    # 9600 line, which costs one burst: 4 C + 4 s at most, C = 10 s.
    telegrams = [data for verified, data in corpus_bytes_of("p1") if verified]
    assert max(len(data) for data in telegrams) > 1000

    def every_10_s(start):
        when = start
        while True:
            for data in telegrams:
                yield when, None, data
                when += datetime.timedelta(seconds=10)

    times = []
    for phase in range(10):  # the first telegram comes after 0-9 s
        bench = Bench(tmp_path, line, frames=every_10_s(START + datetime.timedelta(seconds=phase)))
        lock_s = bench.run(120, bench.found)
        assert lock_s is not None, bench.app.line_status()
        assert bench.app.line_status() == line + " (found)"
        times.append(lock_s)
    print("{}: P1 telegrams every 10 s: {:.1f}-{:.1f} s".format(line, min(times), max(times)))
    assert max(times) <= 4 * 10 + 4
