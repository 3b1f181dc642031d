"""Meter simulator: an Aidon, Kaifa or Kamstrup HAN port on stdout, a pty, TCP or a serial port.

Why: the dongle, its tests and `make demo` need a meter that never sleeps, runs any number of
hours in seconds and says exactly what it sent. Frames come from `hanencode` (the project's
own encoder, checked byte for byte against real captures); this module adds the meter's
timetable, a household load with noise, energy counters that integrate that load, and outputs.

Timetables (Norway): Aidon list 1 every 2.5 s, list 2 every 10 s, list 3 hourly at xx:00:10
(clock xx:00:00); Kaifa 2 s / 10 s / xx:00:10; Kamstrup 10 s list and hourly list at xx:00:05.
When two lists fall due at the same instant the longer one goes out instead of the shorter,
as the captures show (Kaifa sends list 3 at xx:00:10, not list 2 as well).

Library use:

    sim = Simulator("Kaifa", phases=3, seed=1)
    for t, reading, frame in sim.frames(datetime.datetime(2024, 3, 1, 12, 0)):
        ...   # t: meter time of sending; reading: canonical values as encoded

Command line: `python tools/simulate.py --help`. Every frame can go to a JSON-lines log
(`--log`) so tests compare what arrives with what was sent.
"""

import argparse
import datetime
import fcntl
import json
import math
import os
import random
import socket
import sys
import termios
import threading
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hanencode  # noqa: E402


def _uartline():
    """tools/hosttwin/uartline.py, the line model the dongle's UART twin samples, loaded by
    its path: putting hosttwin/ on sys.path would let its machine/umqtt twins shadow others."""
    import importlib.util

    if "uartline" not in sys.modules:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hosttwin", "uartline.py")
        spec = importlib.util.spec_from_file_location("uartline", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["uartline"] = module
    return sys.modules["uartline"]


uartline = _uartline()

FORMATS = ("hdlc", "mbus", "p1")

HOUR_MS = 3_600_000

# Per-meter timetable and identity. lists: (list number, period ms); hourly: (ms after the
# hour the list-3 frame is sent, ms after the hour its clock and counters are taken).
PROFILES = {
    "Aidon": {
        "lists": ((1, 2500), (2, 10_000)),
        "hourly": (10_000, 0),
        "list_ver_id": "AIDON_V0001",
        "meter_type": {1: "6515", 3: "6534"},
        "id_prefix": "735999",
    },
    "Kaifa": {
        "lists": ((1, 2000), (2, 10_000)),
        "hourly": (10_000, 10_000),
        "list_ver_id": "KFM_001",
        "meter_type": {1: "MA105H2E", 3: "MA304H3E"},
        "id_prefix": "697063",
    },
    "Kamstrup": {
        "lists": ((2, 10_000),),
        "hourly": (5_000, 5_000),
        "list_ver_id": "Kamstrup_V0001",
        "meter_type": {1: "6821131BN243101040", 3: "6841131BN243101040"},
        "id_prefix": "570656",
    },
}


def meter_name(text):
    """'aidon' -> 'Aidon'; ValueError for a meter we do not simulate."""
    for name in PROFILES:
        if name.lower() == str(text).lower():
            return name
    raise ValueError(f"unknown meter {text!r} (choose from {', '.join(PROFILES)})")


def schedule(meter, start_ms, slow=1):
    """Endless (send time ms, list number) events from `start_ms` on (ms since the epoch);
    `slow` N sends lists 1 and 2 N times less often (a month of test data in seconds)."""
    profile = PROFILES[meter_name(meter)]
    send_offset = profile["hourly"][0]
    nexts = {}
    lists = tuple((n, period * slow) for n, period in profile["lists"])
    for list_no, period in lists:
        nexts[list_no] = -(-start_ms // period) * period
    hour = start_ms - start_ms % HOUR_MS
    nexts[3] = (
        hour + send_offset if hour + send_offset >= start_ms else hour + HOUR_MS + send_offset
    )
    periods = dict(lists)
    periods[3] = HOUR_MS
    while True:
        due = min(nexts.values())
        lists = [n for n, t in nexts.items() if t == due]
        for n in lists:
            nexts[n] += periods[n]
        yield due, max(lists)


class HouseholdLoad:
    """A Norwegian household: base load with a daily rhythm, a water heater, cooking, noise.

    Power is held constant between calls to `advance`, and the energy counters integrate
    exactly that, so counters and reported power agree.
    """

    def __init__(self, rng, phases, start_ms):
        self.rng = rng
        self.phases = phases
        self.t_ms = start_ms
        self.heater_on = rng.random() < 0.3
        self.heater_until_ms = start_ms + int(rng.uniform(5, 40) * 60_000)
        self.cooking_until_ms = 0
        self.voltage_base = [rng.uniform(228.0, 234.0) for _ in range(phases)]
        self.split = [rng.uniform(0.8, 1.2) for _ in range(phases)]
        self.energy_wh = [
            rng.uniform(5e6, 6e7),
            rng.uniform(0, 1e3),
            rng.uniform(1e5, 5e6),
            rng.uniform(1e4, 2e6),
        ]  # A+ A- R+ R-
        self.snapshots = {}
        if start_ms % HOUR_MS == 0:  # a start on the hour: its list 3 has the counters of then
            self.snapshots[start_ms] = list(self.energy_wh)
        self.state = self._sample(start_ms)

    def advance(self, t_ms):
        """Integrate the held power up to `t_ms`, then draw the power from `t_ms` on."""
        if t_ms < self.t_ms:
            raise ValueError("time runs forward only")
        boundary = self.t_ms - self.t_ms % HOUR_MS + HOUR_MS
        while boundary <= t_ms:
            self._integrate(boundary)
            self.snapshots[boundary] = list(self.energy_wh)
            boundary += HOUR_MS
        self._integrate(t_ms)
        for old in [k for k in self.snapshots if k < t_ms - 2 * HOUR_MS]:
            del self.snapshots[old]
        self.state = self._sample(t_ms)
        return self.state

    def totals_at(self, t_ms):
        """Counters at `t_ms` (an hour boundary already passed, or now)."""
        return self.snapshots.get(t_ms, self.energy_wh) if t_ms != self.t_ms else self.energy_wh

    def _integrate(self, t_ms):
        hours = (t_ms - self.t_ms) / HOUR_MS
        p_import, p_export, q_import, q_export = (
            self.state[k]
            for k in (
                "active_power_import",
                "active_power_export",
                "reactive_power_import",
                "reactive_power_export",
            )
        )
        for i, power in enumerate((p_import, p_export, q_import, q_export)):
            self.energy_wh[i] += power * hours
        self.t_ms = t_ms

    def _sample(self, t_ms):
        rng = self.rng
        hour_of_day = (t_ms % 86_400_000) / HOUR_MS
        # Morning and evening peaks over a night-time floor.
        rhythm = (
            0.6
            + 0.5 * math.exp(-((hour_of_day - 7.5) ** 2) / 2)
            + 0.9 * math.exp(-((hour_of_day - 19.0) ** 2) / 4)
        )
        if t_ms >= self.heater_until_ms:
            self.heater_on = not self.heater_on
            minutes = rng.uniform(10, 45) if self.heater_on else rng.uniform(30, 150)
            self.heater_until_ms = t_ms + int(minutes * 60_000)
        if t_ms >= self.cooking_until_ms and rng.random() < 0.002 * rhythm:
            self.cooking_until_ms = t_ms + int(rng.uniform(5, 30) * 60_000)
        base = 350.0 * rhythm + rng.gauss(0, 25)
        heater = 2000.0 if self.heater_on else 0.0
        cooking = 1800.0 + rng.gauss(0, 150) if t_ms < self.cooking_until_ms else 0.0
        if self.phases == 1:
            per_phase = [base + heater + cooking]
        else:
            # Heater across L1/L3, cooking on L2, base load spread unevenly.
            weights = [w * (1 + rng.gauss(0, 0.05)) for w in self.split]
            total = sum(weights)
            per_phase = [base * w / total for w in weights]
            per_phase[0] += heater / 2
            per_phase[2] += heater / 2
            per_phase[1] += cooking
        per_phase = [max(p, 5.0) for p in per_phase]
        power = sum(per_phase)
        reactive = 0.12 * power - 60 + rng.gauss(0, 10)
        state = {
            "active_power_import": power,
            "active_power_export": 0.0,
            "reactive_power_import": max(reactive, 0.0),
            "reactive_power_export": max(-reactive, 0.0),
        }
        cos_phi = power / math.hypot(power, reactive)
        for i, p_phase in enumerate(per_phase):
            volts = self.voltage_base[i] - p_phase / 1000.0 + rng.gauss(0, 0.4)
            state[f"voltage_l{i + 1}"] = volts
            state[f"current_l{i + 1}"] = p_phase / (volts * cos_phi)
        return state


class Faults:
    """Faults on request, each at a time on the simulator's timeline (ms since the epoch):
    `repeat_list3` hours whose list 3 repeats the previous hour's clock and registers (the Aidon
    fault), `drop_list3` hours whose list 3 is lost, `silence` (from, to) spans with no frames
    at all (the dongle unplugged). The meter keeps counting through all of them."""

    def __init__(self, repeat_list3=(), drop_list3=(), silence=()):
        self.repeat_list3 = {t - t % HOUR_MS for t in repeat_list3}
        self.drop_list3 = {t - t % HOUR_MS for t in drop_list3}
        self.silence = list(silence)

    def silent(self, t_ms):
        return any(start <= t_ms < end for start, end in self.silence)


class Simulator:
    """One simulated meter: `frames(start_time)` yields (time, reading, frame_bytes) forever.

    time is the meter's clock when the frame goes out (naive local datetime), reading the
    canonical values exactly as encoded (what a correct decoder returns), frame the bytes.
    The same meter, phases, seed and start time give the same frames.

    A start time with a UTC offset runs the timeline in UTC and the meter clock in Norwegian
    wall time (Europe/Oslo, summer time included, as NVE's HAN description says); time is
    then the UTC instant (naive). `slow` and `faults` as in `schedule` and `Faults`.
    """

    def __init__(
        self, meter, phases=3, seed=0, meter_id=None, slow=1, faults=None, framing=None
    ):
        self.framing = framing or Framing()
        self.slow = slow
        self.faults = faults or Faults()
        self.wall = None  # timeline ms -> meter clock ms; None: the same
        self.meter = meter_name(meter)
        if phases not in (1, 3):
            raise ValueError("phases must be 1 or 3")
        self.phases = phases
        self.seed = seed
        profile = PROFILES[self.meter]
        rng = random.Random(f"{self.meter}/{phases}/{seed}/id")
        self.identity = {
            "list_ver_id": profile["list_ver_id"],
            "meter_id": meter_id
            or profile["id_prefix"] + "".join(str(rng.randrange(10)) for _ in range(10)),
            "meter_type": profile["meter_type"][phases],
        }

    def frames(self, start_time):
        """Frames from `start_time` (naive datetime, meter's local clock) on, endlessly."""
        if start_time.tzinfo is not None:
            start_time = start_time.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            self.wall = _oslo_wall
        start_ms = _to_ms(start_time)
        rng = random.Random(f"{self.meter}/{self.phases}/{self.seed}/load")
        load = HouseholdLoad(rng, self.phases, start_ms)
        clock_offset = PROFILES[self.meter]["hourly"][1]
        faults = self.faults
        for t_ms, list_no in schedule(self.meter, start_ms, self.slow):
            state = load.advance(t_ms)
            hour = t_ms - t_ms % HOUR_MS
            if faults.silent(t_ms) or (list_no == 3 and hour in faults.drop_list3):
                continue
            if self.framing.format == "p1":  # every frame a whole telegram, counters of now
                raw = self._reading(2, t_ms, state, load, clock_offset)
                raw["meter_datetime"] = _iso(self._clock(t_ms - t_ms % 1000))
                for key, value in zip(_TOTALS, load.totals_at(t_ms)):
                    raw[key] = value
            elif list_no == 3 and hour in faults.repeat_list3:
                raw = self._reading(3, t_ms - HOUR_MS, state, load, clock_offset)
            else:
                raw = self._reading(list_no, t_ms, state, load, clock_offset)
            frame, values = self.framing.frame(self.meter, raw)
            yield _from_ms(t_ms), values, frame

    def _reading(self, list_no, t_ms, state, load, clock_offset):
        reading = {"active_power_import": state["active_power_import"]}
        if list_no >= 2:
            reading.update(self.identity)
            reading.update(state)
        if list_no == 3:
            clock_ms = t_ms - t_ms % HOUR_MS + clock_offset
            totals = load.totals_at(clock_ms)
            reading["meter_datetime"] = _iso(self._clock(clock_ms))
            for key, value in zip(_TOTALS, totals):
                reading[key] = value
        elif self.meter != "Aidon":
            # Kaifa and Kamstrup stamp every frame with the clock in the APDU header.
            reading["meter_datetime"] = _iso(self._clock(t_ms - t_ms % 1000))
        return reading

    def _clock(self, t_ms):
        return t_ms if self.wall is None else self.wall(t_ms)


_TOTALS = (
    "active_power_import_total",
    "active_power_export_total",
    "reactive_power_import_total",
    "reactive_power_export_total",
)


_SIM_TITLE = b"SIM\x00\x00\x00\x00\x01"  # the system title of ciphered frames


class Framing:
    """How a reading goes on the wire: `format` "hdlc" (the Norwegian lists), "mbus" (the same
    APDU in M-Bus long frames, as Austrian meters send it) or "p1" (a DSMR 5 telegram, as
    Swedish meters send it); with `key` the APDU (for P1 the telegram, bare, as the Luxembourg
    Smarty sends it) is AES-128-GCM ciphered, and tagged when `auth_key` is given too."""

    def __init__(self, format="hdlc", key=None, auth_key=None, title=_SIM_TITLE):
        if format not in FORMATS:
            raise ValueError(f"unknown format {format!r} (choose from {', '.join(FORMATS)})")
        if auth_key is not None and key is None:
            raise ValueError("an authentication key needs the encryption key too")
        self.format = format
        self.key = key
        self.auth_key = auth_key
        self.title = title
        self.counter = 0

    def frame(self, meter, raw):
        """(bytes on the wire, the reading a correct decoder gives)."""
        if self.format == "p1":
            data, values = hanencode.p1_telegram(raw)
            if self.key is not None:
                data = self._seal(data)
            return data, values
        values = hanencode.quantise(meter, raw)
        if self.format == "hdlc" and self.key is None:
            return hanencode.build_frame(meter, raw), values
        apdu = hanencode.apdu(meter, raw)[3:]  # without the LLC header E6 E7 00
        if self.key is not None:
            apdu = self._seal(apdu)
        if self.format == "mbus":
            return hanencode.mbus_telegrams(apdu), values
        return hanencode.hdlc_frame(hanencode.llc_pdu(apdu)), values

    def _seal(self, plain):
        self.counter += 1
        control = hanencode.SC_ENCRYPTED
        if self.auth_key is not None:
            control |= hanencode.SC_AUTHENTICATED
        return hanencode.glo_ciphering(
            plain, self.key, self.auth_key or b"", self.title, self.counter, control
        )


class Line:
    """The serial line the TCP and pty outputs carry (uartline): each frame serialised with
    start, parity and stop bits at `baud`, inverted when asked."""

    def __init__(self, baud=2400, parity="E", invert=False):
        self.baud, self.parity, self.invert = baud, parity, invert

    def idle(self):
        return uartline.encode(b"", self.baud, self.parity, self.invert)

    def encode(self, frame):
        return uartline.encode(frame, self.baud, self.parity, self.invert)


_EPOCH = datetime.datetime(1970, 1, 1)


def _oslo_wall(t_ms):
    """Norwegian wall-clock ms of the UTC instant `t_ms` (zoneinfo: the reference, not ours)."""
    import zoneinfo  # only the wall-clock mode needs the zone database

    utc = datetime.datetime.fromtimestamp(t_ms // 1000, datetime.timezone.utc)
    wall = utc.astimezone(zoneinfo.ZoneInfo("Europe/Oslo")).replace(tzinfo=None)
    return _to_ms(wall) + t_ms % 1000


def parse_time_ms(text):
    """Timeline ms of an ISO time: UTC when it has an offset, else as written."""
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return _to_ms(when)


def _to_ms(when):
    if when.tzinfo is not None:
        raise ValueError("start time is the meter's local clock: give a naive datetime")
    delta = when - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _from_ms(t_ms):
    return _EPOCH + datetime.timedelta(milliseconds=t_ms)


def _iso(t_ms):
    return _from_ms(t_ms).isoformat(timespec="seconds")


# --- Outputs --------------------------------------------------------------------------------


class StdoutSink:
    """Raw frame bytes on stdout."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout.buffer

    def write(self, frame):
        self.stream.write(frame)
        self.stream.flush()

    def close(self):
        self.stream.flush()


class PtySink:
    """A pseudo-terminal in raw mode: programs open `.path` as if it were the meter's UART.

    Writes never block the meter: with nobody reading, bytes that do not fit are dropped and
    counted in `.dropped_bytes`.
    """

    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        flags = fcntl.fcntl(self.master, fcntl.F_GETFL)
        fcntl.fcntl(self.master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self.dropped_bytes = 0

    def write(self, frame):
        view = memoryview(frame)
        while view:
            try:
                sent = os.write(self.master, view)
            except BlockingIOError:
                self.dropped_bytes += len(view)
                return
            view = view[sent:]

    def pending(self):
        """Bytes written but not yet read from the terminal side."""
        buf = bytearray(4)
        fcntl.ioctl(self.slave, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)

    def close(self, drain_s=5.0):
        # The kernel moves written bytes to the terminal side a little later, so "nothing
        # pending" is believed only when it holds for 0.2 s (closing too early lost the last
        # frame now and then).
        deadline = time.monotonic() + drain_s
        quiet_since = None
        while time.monotonic() < deadline:
            if self.pending():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 0.2:
                break
            time.sleep(0.02)
        os.close(self.master)
        os.close(self.slave)


class TCPSink:
    """Serves the byte stream to every client connected to 127.0.0.1:`port` (0 = any free)."""

    def __init__(self, port=0, host="127.0.0.1", greeting=b""):
        self.greeting = greeting  # sent to each client first (the idle line)
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((host, port))
        self.server.listen(5)
        self.port = self.server.getsockname()[1]
        self.clients = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.dropped_clients = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                try:
                    client.sendall(self.greeting)
                except OSError:
                    client.close()
                    continue
                self.clients.append(client)
            self.connected.set()

    def write(self, frame):
        with self.lock:
            for client in list(self.clients):
                try:
                    client.sendall(frame)
                except OSError:
                    self.clients.remove(client)
                    self.dropped_clients += 1
                    client.close()

    def close(self):
        self.server.close()
        with self.lock:
            for client in self.clients:
                try:
                    client.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                client.close()
            self.clients = []


class LineSink:
    """Writes each frame to `sink` as the line that carries it (see Line)."""

    def __init__(self, sink, line):
        self.sink = sink
        self.line = line

    def write(self, frame):
        self.sink.write(self.line.encode(frame))

    def close(self):
        self.sink.close()


class SerialSink:
    """A real (or virtual) serial port through pyserial, e.g. a USB UART wired to the dongle."""

    def __init__(self, device, baud=2400, parity="E"):
        import serial  # only this output needs pyserial

        self.port = serial.Serial(device, baudrate=baud, bytesize=8, parity=parity, stopbits=1)

    def write(self, frame):
        self.port.write(frame)

    def close(self):
        self.port.flush()
        self.port.close()


class FramesSink:
    """One line per frame: arrival time in Unix seconds, a space, the frame as hex
    (the input of tools/energy.py). The timeline is taken as UTC."""

    def __init__(self, path):
        self.file = open(path, "w")  # noqa: SIM115 - lives as long as the simulator runs

    def record(self, when, reading, frame, meter):
        self.file.write("{:.3f} {}\n".format(_to_ms(when) / 1000, frame.hex()))

    def close(self):
        self.file.close()


class LogSink:
    """One JSON line per frame: t (meter time), list, meter, hex, values (reading as encoded)."""

    def __init__(self, path):
        self.file = open(path, "w")  # noqa: SIM115 - lives as long as the simulator runs

    def record(self, when, reading, frame, meter):
        entry = {
            "t": when.isoformat(timespec="milliseconds"),
            "wall": time.time(),
            "meter": meter,
            "list": hanencode.list_number(meter, reading),
            "hex": frame.hex(),
            "values": reading,
        }
        self.file.write(json.dumps(entry) + "\n")
        self.file.flush()

    def close(self):
        self.file.close()


def run(
    simulator,
    start_time,
    sinks,
    log=None,
    count=None,
    duration_s=None,
    speed=1.0,
    sleep=time.sleep,
    clock=time.monotonic,
):
    """Send frames to `sinks` until `count` frames or `duration_s` meter seconds; return count.

    speed N runs the meter clock N times faster than the wall clock; 0 sends without waiting.
    `log` is a log sink (LogSink, FramesSink) or a list of them.
    """
    logs = log if isinstance(log, list) else [log] if log is not None else []
    sent = 0
    wall_start = clock()
    first_ms = None
    for when, reading, frame in simulator.frames(start_time):
        if count is not None and sent >= count:
            break
        t_ms = _to_ms(when)
        if first_ms is None:
            first_ms = t_ms
        offset_s = (t_ms - first_ms) / 1000.0
        if duration_s is not None and offset_s > duration_s:
            break
        if speed > 0:
            delay = wall_start + offset_s / speed - clock()
            if delay > 0:
                sleep(delay)
        for sink in sinks:
            sink.write(frame)
        for entry in logs:
            entry.record(when, reading, frame, simulator.meter)
        sent += 1
    return sent


def main(argv=None):
    parser = argparse.ArgumentParser(description="Simulate an AMS meter's HAN port.")
    parser.add_argument("--meter", default="aidon", help="aidon, kaifa or kamstrup")
    parser.add_argument("--phases", type=int, default=3, choices=(1, 3))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", help="meter clock at start, ISO (default: now, local)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="time acceleration; 0 = no waiting at all"
    )
    parser.add_argument("--count", type=int, help="stop after this many frames")
    parser.add_argument("--duration", type=float, help="stop after this many meter seconds")
    parser.add_argument("--pty", action="store_true", help="create a pty and print its path")
    parser.add_argument(
        "--tcp",
        type=int,
        metavar="PORT",
        help="serve on 127.0.0.1:PORT (0 = a free port, printed)",
    )
    parser.add_argument(
        "--wait-client",
        action="store_true",
        help="with --tcp: start the meter once the first client connects",
    )
    parser.add_argument("--serial", metavar="DEV", help="write to a serial port (pyserial)")
    parser.add_argument(
        "--format", default="hdlc", choices=FORMATS,
        help="hdlc (Norway), mbus (the APDU in M-Bus long frames) or p1 (DSMR 5 telegrams)",
    )
    parser.add_argument("--key", metavar="HEX", help="cipher with this AES-128 key (32 hex)")
    parser.add_argument("--auth-key", metavar="HEX", help="and tag with this one")
    parser.add_argument(
        "--baud", type=int,
        help="serial: the port's baud (2400); tcp/pty: send the line itself at this baud",
    )
    parser.add_argument(
        "--parity", choices=("N", "E", "O"), help="as --baud (serial default E; line: E)"
    )
    parser.add_argument(
        "--invert", action="store_true", help="tcp/pty: the line is inverted (idle low)"
    )
    parser.add_argument("--log", metavar="FILE", help="JSON line per frame sent")
    parser.add_argument(
        "--frames", metavar="FILE", help="'<unix seconds> <hex>' line per frame (tools/energy.py)"
    )
    parser.add_argument(
        "--slow", type=int, default=1, help="send lists 1 and 2 N times less often"
    )
    parser.add_argument(
        "--repeat-list3", action="append", default=[], metavar="ISO",
        help="that hour's list 3 repeats the previous one (Aidon fault); repeatable",
    )
    parser.add_argument(
        "--drop-list3", action="append", default=[], metavar="ISO",
        help="that hour's list 3 is lost; repeatable",
    )
    parser.add_argument(
        "--silence", action="append", default=[], metavar="ISO/ISO",
        help="no frames from the first time to the second; repeatable",
    )
    args = parser.parse_args(argv)

    try:
        faults = Faults(
            [parse_time_ms(t) for t in args.repeat_list3],
            [parse_time_ms(t) for t in args.drop_list3],
            [tuple(parse_time_ms(t) for t in span.split("/")) for span in args.silence],
        )
        if args.slow < 1:
            raise ValueError("--slow must be 1 or more")
        framing = Framing(
            args.format,
            bytes.fromhex(args.key) if args.key else None,
            bytes.fromhex(args.auth_key) if args.auth_key else None,
        )
        simulator = Simulator(
            args.meter, args.phases, args.seed, slow=args.slow, faults=faults, framing=framing
        )
        start = (
            datetime.datetime.fromisoformat(args.start)
            if args.start
            else datetime.datetime.now().replace(microsecond=0)
        )
    except ValueError as exc:
        parser.error(str(exc))
    sinks = []
    line = None
    if args.baud is not None or args.parity is not None or args.invert:
        line = Line(args.baud or 2400, args.parity or "E", args.invert)
    if args.pty:
        pty_sink = PtySink()
        if line is not None:
            pty_sink.write(line.idle())
        sinks.append(pty_sink if line is None else LineSink(pty_sink, line))
        print(pty_sink.path, flush=True)
    if args.tcp is not None:
        tcp_sink = TCPSink(args.tcp, greeting=line.idle() if line is not None else b"")
        sinks.append(tcp_sink if line is None else LineSink(tcp_sink, line))
        print(f"tcp 127.0.0.1:{tcp_sink.port}", flush=True)
    if args.serial:
        sinks.append(SerialSink(args.serial, args.baud or 2400, args.parity or "E"))
    if not sinks:
        sinks.append(StdoutSink())
    logs = []
    if args.log:
        logs.append(LogSink(args.log))
    if args.frames:
        logs.append(FramesSink(args.frames))
    try:
        if args.tcp is not None and args.wait_client:
            tcp_sink.connected.wait()
        run(simulator, start, sinks, logs, args.count, args.duration, args.speed)
    except KeyboardInterrupt:
        pass
    finally:
        for sink in sinks:
            sink.close()
        for entry in logs:
            entry.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
