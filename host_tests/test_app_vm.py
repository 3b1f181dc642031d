"""The application logic on MicroPython: the same script runs in the MicroPython VM and CPython,
and CPython's result is the reference. Covers config, meter source -> parser -> publisher,
discovery and back-off, with a fake UART and a fake umqtt client (no hardware in the VM).
"""

import json
import pathlib
import subprocess
import sys

import mpvm

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import hanencode  # noqa: E402
from samples import AIDON_LIST2  # noqa: E402

LIST2 = AIDON_LIST2

SCRIPT = r"""
import json
import sys

import config
import discovery
import hanport
import meter
import publisher
import uartsrc
from backoff import Backoff

work = sys.argv[1]
out = {}

# Config: missing file, atomic update, strict refusal.
cfg, problems = config.load(work + "/missing.json")
out["missing"] = problems
config.update({"wifi": {"ssid": "home"}, "mqtt": {"port": 8883}}, work + "/c.json")
cfg, problems = config.load(work + "/c.json")
out["loaded"] = [cfg["wifi"]["ssid"], cfg["mqtt"]["port"], problems]
try:
    config.update({"mqtt": {"port": 0}}, work + "/c.json")
    out["refused"] = None
except ValueError as exc:
    out["refused"] = str(exc)
with open(work + "/bad.json", "w") as f:
    f.write("{broken")
out["broken"] = config.load(work + "/bad.json")[1]


class UART:
    def __init__(self, data):
        self.data = data

    def any(self):
        return len(self.data)

    def readinto(self, buf):
        n = min(len(buf), len(self.data))
        if not n:
            return None
        buf[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


sent = []


class Client:
    def __init__(self):
        self.sock = None

    def set_callback(self, cb):
        pass

    def set_last_will(self, topic, msg, retain=False, qos=0):
        sent.append([topic, msg, retain])

    def connect(self, clean_session=True):
        return 0

    def publish(self, topic, msg, retain=False, qos=0):
        if not isinstance(msg, str):
            msg = bytes(msg).decode()
        sent.append([topic, msg, retain])

    def subscribe(self, topic, qos=0):
        pass

    def check_msg(self):
        return None

    pongs = 0  # answers to ping(), as firmware/mqttclient.py's clients count them

    def ping(self):
        self.pongs += 1


m = meter.Meter()
now = [0]
pub = publisher.Publisher(Client, m, "han", discovery.Discovery(), clock=lambda: now[0])


def on_reading(reading):
    m.update(reading)
    pub.offer(reading)


reader = hanport.Reader(on_reading, uartsrc.FRAME_MAX)
frame = bytes.fromhex(sys.argv[2])
src = uartsrc.MeterSource(UART(b"\x00garbage\x7e\x7e" + frame[:20] + frame + frame), reader)
for _ in range(10):
    src.poll()
    pub.step()
    now[0] += 500  # states wait a moment after discovery configs
out["stats"] = reader.stats.as_dict()
out["sent"] = sent
out["superseded"] = pub.superseded
b = Backoff(1000, 5000)
out["backoff"] = [b.fail() for _ in range(5)]
print(json.dumps(out))
"""


def parse(stdout):
    out = json.loads(stdout.strip().splitlines()[-1])
    # Payloads are JSON in JSON; their key order differs between interpreters.
    out["sent"] = [[t, json.loads(p) if p[:1] == "{" else p, r] for t, p, r in out["sent"]]
    return out


def test_app_logic_gives_the_same_result_on_micropython_as_on_cpython(tmp_path):
    script = tmp_path / "app_vm_script.py"
    script.write_text(SCRIPT)
    frame = hanencode.build_frame("Aidon", LIST2).hex()
    (tmp_path / "vm").mkdir()
    (tmp_path / "py").mkdir()
    vm = mpvm.run(
        script, tmp_path / "vm", frame, paths=[ROOT / "firmware"], data=[tmp_path / "vm"]
    )
    assert vm.returncode == 0, vm.stderr
    py = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "py"), frame],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "firmware")},
        check=True,
    )
    on_vm = parse(vm.stdout.replace(str(tmp_path / "vm"), "WORK"))
    on_py = parse(py.stdout.replace(str(tmp_path / "py"), "WORK"))

    # Discovery follows the reading's key order, which is the dict order of each interpreter.
    def canonical(sent):
        return sorted(json.dumps(item, sort_keys=True) for item in sent)

    assert canonical(on_vm.pop("sent")) == canonical(on_py["sent"])
    assert on_vm == {k: v for k, v in on_py.items() if k != "sent"}
    # And the reference itself is right.
    assert on_py["loaded"] == ["home", 8883, []]
    assert "mqtt.port must be between 1 and 65535" in on_py["refused"]
    assert on_py["broken"] == ["config file WORK/bad.json is not valid JSON; using defaults"]
    assert on_py["stats"]["frames_ok"] == 2
    states = [p for t, p, r in on_py["sent"] if t.endswith("/state")]
    assert len(states) == 1 and on_py["superseded"] == 1  # both frames came in one poll
    assert states[0]["voltage_l1"] == 230.1
    assert len([t for t, p, r in on_py["sent"] if t.endswith("/config")]) == 10
    assert on_py["backoff"] == [1000, 2000, 4000, 5000, 5000]
