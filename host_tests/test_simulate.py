"""Tests for tools/simulate.py: timetables, value model, outputs, and the round trip through hanport.

The simulator's frames must decode, with the project's own parser, to exactly the values the
simulator says it sent; the outputs (stdout, pty, TCP, serial) must deliver those bytes.
"""

import datetime
import itertools
import json
import os
import select
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
# cryptolib's host twin for the ciphered cases (hanport.gcm); last, so that no other twin
# shadows a module found before it
sys.path.append(os.path.join(ROOT, "tools", "hosttwin"))

import hanencode  # noqa: E402
import hanport  # noqa: E402
import simulate  # noqa: E402

SIMULATE = os.path.join(ROOT, "tools", "simulate.py")
START = datetime.datetime(2024, 3, 1, 12, 59, 30)
COMBOS = [(m, p) for m in simulate.PROFILES for p in (1, 3)]


def take(meter, phases=3, seed=7, start=START, n=None, until=None):
    frames = simulate.Simulator(meter, phases, seed).frames(start)
    if until is not None:
        return list(itertools.takewhile(lambda f: f[0] < until, frames))
    return list(itertools.islice(frames, n))


def list_of(meter, reading):
    return hanencode.list_number(meter, reading)


# --- Timetables -----------------------------------------------------------------------------


def hour_of_events(meter):
    start_ms = simulate._to_ms(datetime.datetime(2024, 3, 1, 13, 0, 0))
    events = itertools.takewhile(
        lambda e: e[0] < start_ms + simulate.HOUR_MS, simulate.schedule(meter, start_ms)
    )
    return [((t - start_ms) / 1000.0, n) for t, n in events]


def test_aidon_timetable():
    events = hour_of_events("Aidon")
    assert events[:6] == [(0.0, 2), (2.5, 1), (5.0, 1), (7.5, 1), (10.0, 3), (12.5, 1)]
    counts = {n: sum(1 for _, k in events if k == n) for n in (1, 2, 3)}
    # 1440 list-1 slots, 360 list-2 slots; the longer list replaces the shorter at one instant.
    assert counts == {1: 1440 - 360, 2: 360 - 1, 3: 1}


def test_kaifa_timetable():
    events = hour_of_events("Kaifa")
    assert events[:7] == [(0.0, 2), (2.0, 1), (4.0, 1), (6.0, 1), (8.0, 1), (10.0, 3), (12.0, 1)]
    counts = {n: sum(1 for _, k in events if k == n) for n in (1, 2, 3)}
    assert counts == {1: 1800 - 360, 2: 360 - 1, 3: 1}


def test_kamstrup_timetable_has_no_list1():
    events = hour_of_events("Kamstrup")
    assert events[:4] == [(0.0, 2), (5.0, 3), (10.0, 2), (20.0, 2)]
    counts = {n: sum(1 for _, k in events if k == n) for n in (1, 2, 3)}
    assert counts == {1: 0, 2: 360, 3: 1}


def test_schedule_starts_at_first_slot_after_start():
    start_ms = simulate._to_ms(datetime.datetime(2024, 3, 1, 13, 0, 11))
    (t_ms, list_no), *_ = itertools.islice(simulate.schedule("Aidon", start_ms), 1)
    assert (t_ms - start_ms, list_no) == (1500, 1)


@pytest.mark.parametrize("meter, clock", [("Aidon", "13:00:00"), ("Kaifa", "13:00:10"),
                                          ("Kamstrup", "13:00:05")])  # fmt: skip
def test_hourly_list_clock(meter, clock):
    frames = take(meter, until=datetime.datetime(2024, 3, 1, 13, 1))
    (when, reading), *rest = [(t, r) for t, r, _ in frames if list_of(meter, r) == 3]
    assert not rest
    assert reading["meter_datetime"][11:19] == clock
    sent = {"Aidon": "13:00:10", "Kaifa": "13:00:10", "Kamstrup": "13:00:05"}[meter]
    assert when.time().isoformat() == sent


def test_frame_times_follow_cadence():
    frames = take("Aidon", n=20)
    gaps = {(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(frames)}
    assert gaps == {2.5}


# --- Values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("meter, phases", COMBOS)
def test_readings_are_plausible(meter, phases):
    for _, reading, _ in take(meter, phases, n=400):
        assert 5 <= reading["active_power_import"] <= 15_000
        for i in (1, 2, 3):
            if i > phases:
                assert f"current_l{i}" not in reading and f"voltage_l{i}" not in reading
            elif f"voltage_l{i}" in reading:
                assert 215 <= reading[f"voltage_l{i}"] <= 245
                assert 0 <= reading[f"current_l{i}"] <= 63


def test_power_changes_over_time():
    powers = {r["active_power_import"] for _, r, _ in take("Kaifa", n=200)}
    assert len(powers) > 50


@pytest.mark.parametrize("meter", list(simulate.PROFILES))
def test_energy_counters_are_monotonic_and_match_power(meter):
    frames = take(meter, start=datetime.datetime(2024, 3, 1, 17, 59, 0),
                  until=datetime.datetime(2024, 3, 1, 21, 0, 30))  # fmt: skip
    hourly = [r for _, r, _ in frames if list_of(meter, r) == 3]
    assert len(hourly) == 4  # 18:00, 19:00, 20:00, 21:00
    keys = ("active_power_import_total", "active_power_export_total",
            "reactive_power_import_total", "reactive_power_export_total")  # fmt: skip
    for earlier, later in itertools.pairwise(hourly):
        for key in keys:
            assert later[key] >= earlier[key]
        assert later["active_power_import_total"] > earlier["active_power_import_total"]
    # Power holds from one frame to the next, so summing power x time between the clocks of
    # two hourly lists gives their energy difference, up to rounding.
    clock = [datetime.datetime.fromisoformat(r["meter_datetime"][:19]) for r in hourly]
    for k in range(3):
        window = [(t, r) for t, r, _ in frames if clock[k] <= t <= clock[k + 1]]
        energy_wh = sum(
            r["active_power_import"] * (t2 - t).total_seconds() / 3600
            for (t, r), (t2, _) in itertools.pairwise(window)
        )
        delta = hourly[k + 1]["active_power_import_total"] - hourly[k]["active_power_import_total"]
        assert abs(delta - energy_wh) <= 11, (delta, energy_wh)


def test_same_seed_same_frames():
    first = [(t, f) for t, _, f in take("Kamstrup", n=50, seed=3)]
    again = [(t, f) for t, _, f in take("Kamstrup", n=50, seed=3)]
    other = [(t, f) for t, _, f in take("Kamstrup", n=50, seed=4)]
    assert first == again
    assert first != other


def test_meter_id_is_stable_per_seed():
    ids = {simulate.Simulator("Aidon", 3, seed).identity["meter_id"] for seed in (1, 1, 2)}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)


def test_rejects_unknown_meter_and_phases():
    with pytest.raises(ValueError):
        simulate.Simulator("Landis", 3)
    with pytest.raises(ValueError):
        simulate.Simulator("Aidon", 2)


# --- Round trip through the project's parser ------------------------------------------------


@pytest.mark.parametrize("meter, phases", COMBOS)
def test_every_frame_decodes_to_what_was_sent(meter, phases):
    frames = take(meter, phases, until=datetime.datetime(2024, 3, 1, 13, 1, 0))
    seen = set()
    for _, reading, frame in frames:
        assert hanport.decode_frame(frame) == reading
        seen.add(list_of(meter, reading))
    assert seen == ({2, 3} if meter == "Kamstrup" else {1, 2, 3})


@pytest.mark.parametrize("meter, phases", COMBOS)
def test_stream_of_frames_reads_back_in_order(meter, phases):
    frames = take(meter, phases, n=300, seed=11)
    stream = b"".join(f for _, _, f in frames)
    got = []
    reader = hanport.Reader(got.append)
    for i in range(0, len(stream), 97):  # chunks that split frames anywhere
        reader.feed(stream[i : i + 97])
    assert got == [r for _, r, _ in frames]
    assert reader.stats.frames_ok == 300


# --- run() pacing and limits ----------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class ListSink:
    def __init__(self):
        self.frames = []

    def write(self, frame):
        self.frames.append(bytes(frame))


def test_run_paces_by_speed():
    fake, sink = FakeClock(), ListSink()
    sim = simulate.Simulator("Kamstrup", 3, 1)
    sent = simulate.run(sim, datetime.datetime(2024, 3, 1, 12, 30), [sink], count=7, speed=10,
                        sleep=fake.sleep, clock=fake.clock)  # fmt: skip
    assert sent == 7 and len(sink.frames) == 7
    assert fake.now == pytest.approx(6.0)  # 60 meter seconds at speed 10
    assert all(s == pytest.approx(1.0) for s in fake.sleeps)


def test_run_stops_after_duration():
    fake, sink = FakeClock(), ListSink()
    sim = simulate.Simulator("Aidon", 1, 1)
    sent = simulate.run(sim, datetime.datetime(2024, 3, 1, 12, 30), [sink], duration_s=30,
                        speed=0, sleep=fake.sleep, clock=fake.clock)  # fmt: skip
    assert sent == 13  # 0, 2.5, ... 30.0 s
    assert fake.sleeps == []


# --- Outputs --------------------------------------------------------------------------------


def start_cli(tmp_path, *args):
    log = tmp_path / "sent.jsonl"
    cmd = [sys.executable, SIMULATE, "--start", "2024-03-01T12:59:40", "--log", str(log)]
    proc = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, log


def read_log(log):
    with open(log) as f:
        return [json.loads(line) for line in f]


def assert_arrived_as_sent(data, entries):
    assert data == b"".join(bytes.fromhex(e["hex"]) for e in entries)
    got = []
    reader = hanport.Reader(got.append)
    reader.feed(data)
    assert got == [e["values"] for e in entries]


def test_stdout_output_and_log(tmp_path):
    proc, log = start_cli(tmp_path, "--meter", "kaifa", "--speed", "0", "--count", "40")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    entries = read_log(log)
    assert len(entries) == 40
    assert {e["list"] for e in entries} == {1, 2, 3}
    assert entries[0]["t"] == "2024-03-01T12:59:40.000" and entries[0]["meter"] == "Kaifa"
    assert_arrived_as_sent(out, entries)


def test_tcp_output_delivers_the_bytes(tmp_path):
    proc, log = start_cli(tmp_path, "--meter", "aidon", "--tcp", "0", "--wait-client",
                          "--speed", "0", "--count", "60")  # fmt: skip
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("tcp 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        chunks = []
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    assert_arrived_as_sent(b"".join(chunks), read_log(log))


def test_pty_output_delivers_the_bytes(tmp_path):
    proc, log = start_cli(tmp_path, "--meter", "kamstrup", "--pty", "--speed", "200",
                          "--count", "12")  # fmt: skip
    try:
        path = proc.stdout.readline().decode().strip()
        assert path.startswith("/dev/"), path
        fd = os.open(path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        data = bytearray()
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                try:
                    data += os.read(fd, 4096)
                except OSError:  # EIO once the simulator closes its side
                    break
        os.close(fd)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        proc.wait()
    entries = read_log(log)
    assert len(entries) == 12
    assert_arrived_as_sent(bytes(data), entries)


def test_serial_output_through_pyserial(tmp_path):
    pytest.importorskip("serial")
    master, slave = os.openpty()
    try:
        proc, log = start_cli(tmp_path, "--meter", "aidon", "--phases", "1", "--serial",
                              os.ttyname(slave), "--speed", "0", "--count", "8")  # fmt: skip
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        data = bytearray()
        while select.select([master], [], [], 0.2)[0]:
            data += os.read(master, 4096)
    finally:
        os.close(master)
        os.close(slave)
    assert_arrived_as_sent(bytes(data), read_log(log))


# --- Recordings for tools/energy.py: Oslo wall clock, frames file, faults --------------------


def list3_clocks(sim, start, hours):
    out = []
    for when, reading, _ in sim.frames(start):
        if when >= start.astimezone(datetime.timezone.utc).replace(tzinfo=None) + (
            datetime.timedelta(hours=hours)
        ):
            break
        if "active_power_import_total" in reading:
            out.append((when, reading["meter_datetime"], reading["active_power_import_total"]))
    return out


def test_an_aware_start_runs_in_utc_with_an_oslo_wall_clock_on_the_meter():
    start = datetime.datetime.fromisoformat("2026-10-25T00:00:00+02:00")
    clocks = list3_clocks(simulate.Simulator("Aidon", 3, 1, slow=24), start, 4)
    walls = [c[1][11:16] for c in clocks]
    assert walls == ["00:00", "01:00", "02:00", "02:00"]  # the clocks go back at 03:00 CEST
    assert [c[0].hour for c in clocks] == [22, 23, 0, 1]  # UTC, 10 s after the hour
    assert clocks[3][2] > clocks[2][2]  # the second 02:00 is a new hour


def test_faults_repeat_drop_and_silence_list3_and_frames():
    start = datetime.datetime.fromisoformat("2026-02-02T10:00:00+01:00")
    ms = simulate.parse_time_ms
    faults = simulate.Faults(
        repeat_list3=[ms("2026-02-02T11:00:00+01:00")],
        drop_list3=[ms("2026-02-02T12:00:00+01:00")],
        silence=[(ms("2026-02-02T13:30:00+01:00"), ms("2026-02-02T14:30:00+01:00"))],
    )
    sim = simulate.Simulator("Aidon", 3, 1, slow=24, faults=faults)
    clocks = list3_clocks(sim, start, 6)
    assert [c[1][11:16] for c in clocks] == ["10:00", "10:00", "13:00", "15:00"]
    assert clocks[0][2] == clocks[1][2]  # the repeat carries the old registers
    end = datetime.datetime(2026, 2, 2, 15, 0)  # UTC
    times = [t for t, _, _ in itertools.takewhile(lambda f: f[0] < end, sim.frames(start))]
    quiet_from = datetime.datetime(2026, 2, 2, 12, 30)
    quiet_to = datetime.datetime(2026, 2, 2, 13, 30)
    assert not [t for t in times if quiet_from <= t < quiet_to]
    assert [t for t in times if t < quiet_from] and [t for t in times if t >= quiet_to]


def test_the_frames_file_holds_unix_time_and_the_frame_as_hex(tmp_path):
    frames = tmp_path / "frames.txt"
    subprocess.run(
        [sys.executable, SIMULATE, "--speed", "0", "--count", "30", "--slow", "2",
         "--start", "2026-02-02T10:59:00+01:00", "--frames", str(frames),
         "--drop-list3", "2026-02-02T12:00:00+01:00"],
        check=True, stdout=subprocess.DEVNULL, timeout=60,
    )
    lines = frames.read_text().splitlines()
    assert len(lines) == 30
    first_time, first_hex = lines[0].split(" ")
    assert float(first_time) == datetime.datetime.fromisoformat(
        "2026-02-02T10:59:00+01:00"
    ).timestamp()
    assert hanport.decode_frame(bytes.fromhex(first_hex))["active_power_import"] > 0


# --- M-Bus, P1 and ciphered output; the serial line ------------------------------------------

KEY = bytes(range(16))
AUTH_KEY = bytes(range(16, 32))


def read_back(data, key=None, auth_key=None):
    got = []
    reader = hanport.Reader(
        got.append, key=key.hex() if key else None, auth_key=auth_key.hex() if auth_key else None
    )
    reader.feed(data)
    reader.flush()
    return got, reader


def same_as_sent(got, sent):
    """Every value the simulator says it sent is what the reader read (P1 adds the maker,
    the meter type from the header and the clock with its offset)."""
    assert len(got) == len(sent)
    for reading, values in zip(got, sent):
        assert {k: reading.get(k) for k in values if k != "meter_datetime"} == {
            k: v for k, v in values.items() if k != "meter_datetime"
        }
        if "meter_datetime" in values:
            assert reading["meter_datetime"].startswith(values["meter_datetime"])


@pytest.mark.parametrize("fmt", ["mbus", "p1"])
@pytest.mark.parametrize(
    "keys", [(), (KEY,), (KEY, AUTH_KEY)], ids=["plain", "ciphered", "tagged"]
)
@pytest.mark.parametrize("meter", ["Aidon", "Kaifa", "Kamstrup"])
def test_new_formats_read_back_as_sent(meter, fmt, keys):
    framing = simulate.Framing(fmt, *keys)
    sim = simulate.Simulator(meter, 3, 5, framing=framing)
    frames = list(itertools.islice(sim.frames(START), 40))
    got, reader = read_back(b"".join(f for _, _, f in frames), *keys)
    same_as_sent(got, [v for _, v, _ in frames])
    assert reader.stats.undecodable == 0 and reader.stats.frames_ok == 40


def test_ciphered_hdlc_reads_back_only_with_the_key():
    sim = simulate.Simulator("Kaifa", framing=simulate.Framing("hdlc", KEY, AUTH_KEY))
    frames = list(itertools.islice(sim.frames(START), 12))
    data = b"".join(f for _, _, f in frames)
    got, _ = read_back(data, KEY, AUTH_KEY)
    same_as_sent(got, [v for _, v, _ in frames])
    wrong, reader = read_back(data, AUTH_KEY, KEY)
    assert wrong == [] and reader.stats.undecodable == 12


def test_cli_p1_ciphered_on_stdout(tmp_path):
    proc, log = start_cli(tmp_path, "--meter", "aidon", "--format", "p1", "--key", KEY.hex(),
                          "--auth-key", AUTH_KEY.hex(), "--speed", "0",
                          "--count", "20")  # fmt: skip
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    entries = read_log(log)
    assert out == b"".join(bytes.fromhex(e["hex"]) for e in entries)
    got, _ = read_back(out, KEY, AUTH_KEY)
    same_as_sent(got, [e["values"] for e in entries])


def test_cli_tcp_line_reads_only_at_the_senders_settings(tmp_path):
    """--baud/--parity/--invert: the TCP stream is the serial line; a UART at the sender's
    settings reads the frames, one at another baud or inversion reads none."""
    import uartline

    proc, log = start_cli(tmp_path, "--meter", "kaifa", "--format", "mbus", "--tcp", "0",
                          "--wait-client", "--baud", "9600", "--parity", "N", "--invert",
                          "--speed", "0", "--count", "25")  # fmt: skip
    try:
        port = int(proc.stdout.readline().decode().rsplit(":", 1)[1])
        chunks = []
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                chunks.append(chunk)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()
    line = b"".join(chunks)
    entries = read_log(log)
    sent = b"".join(bytes.fromhex(e["hex"]) for e in entries)
    for baud, parity, invert in [(9600, "N", True), (9600, "E", True), (9600, "N", False),
                                 (2400, "N", True), (115200, "N", True)]:  # fmt: skip
        rx = uartline.Receiver(baud, parity, invert)
        data = bytearray()
        rx.feed(line, data)
        got, _ = read_back(bytes(data))
        if (baud, parity, invert) == (9600, "N", True):
            assert bytes(data) == sent
            same_as_sent(got, [e["values"] for e in entries])
        else:
            assert got == [], (baud, parity, invert)
