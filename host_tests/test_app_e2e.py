"""End to end on real parts: simulator -> TCP -> application (run_host) -> mosquitto -> subscriber.

The simulator logs every frame with the values it encoded; the application runs as its own
process exactly as `make demo` runs it; an independent `mosquitto_sub` records what arrives.
"""

import json
import pathlib
import subprocess
import sys
import time

import energymode
import pytest

from simproc import start_simulator

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"


class Run:
    """A simulator and the application wired together; both ended by stop()."""

    def __init__(self, tmp_path, broker, meter, start, speed, duration_s, extra=(), sim_extra=()):
        self.log_path = tmp_path / "sim.jsonl"
        self.sim, port = start_simulator(meter, self.log_path, start, speed, *sim_extra)
        self.app = subprocess.Popen(
            [
                sys.executable,
                str(TOOLS / "run_host.py"),
                "--uart",
                "tcp://" + port,
                "--mqtt",
                "{}:{}".format(broker.host, broker.port),
                "--duration",
                str(duration_s),
                "--diagnostics",
                "1",
                "--client-id",
                "e2e-" + meter,
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = ""

    def wait(self, timeout):
        self.output, _ = self.app.communicate(timeout=timeout)
        self.ended = time.time()
        return self.app.returncode

    def end(self, timeout=30):
        """Stop the app as a power cut would (SIGTERM: no clean MQTT disconnect, so the broker
        sends its Last Will); SIGINT would do nothing where a test runner ignores it."""
        self.app.terminate()
        self.wait(timeout)
        return self.app.returncode is not None

    def sent(self):
        """The simulator's log; a last line without its newline is still being written."""
        lines = self.log_path.read_text().split("\n")[:-1]
        return [json.loads(line) for line in lines if line]

    def stop(self):
        for proc in (self.app, self.sim):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        self.sim.stdout.close()


@pytest.fixture
def run(tmp_path):
    made = []

    def start(broker, meter, start="2024-03-01T12:59:35", speed=20, duration_s=3.0, extra=(),
              sim_extra=()):
        made.append(Run(tmp_path, broker, meter, start, speed, duration_s, extra, sim_extra))
        return made[-1]

    yield start
    for r in made:
        r.stop()


def same_values(got, sent):
    if set(got) != set(sent):
        return False
    for key, value in sent.items():
        if isinstance(value, float) or isinstance(got[key], float):
            if got[key] != pytest.approx(value, rel=1e-9, abs=1e-9):
                return False
        elif got[key] != value:
            return False
    return True


# The energy mode's sensors (on by default), announced besides the reading keys.
ENERGY_KEYS = {row[0] for row in energymode.SENSORS}


def numeric_keys(sent):
    return {k for s in sent for k, v in s["values"].items() if isinstance(v, (int, float))}


@pytest.mark.parametrize("meter", ["aidon", "kaifa", "kamstrup"])
def test_values_that_arrive_equal_what_the_simulator_encoded(
    meter, mqtt_broker, mqtt_subscriber, run
):
    sub = mqtt_subscriber(mqtt_broker, "hanport/#", "homeassistant/#")
    # The simulator sends 40 meter seconds (10 s at speed 4, an hourly list 3 included) and
    # stops; the app runs until every list 2/3 it sent has arrived, however busy the machine.
    # Not faster: states wait a second after new sensors are announced (publisher.SETTLE_MS),
    # and a list 2 every 2.5 s keeps, like the meter's 10 s, well clear of that.
    r = run(mqtt_broker, meter, speed=4, duration_s=120, sim_extra=("--duration", "40"))
    r.sim.wait(60)
    sent = r.sent()
    meter_id = next(s["values"]["meter_id"] for s in sent if "meter_id" in s["values"])
    full = sum(1 for s in sent if s["list"] >= 2)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        topic = "hanport/{}/state".format(meter_id)
        if sum(1 for m in sub.messages if m.topic == topic and b"meter_id" in m.payload) >= full:
            break
        time.sleep(0.1)
    assert r.end(), r.output
    states = [
        json.loads(m.payload)
        for m in sub.messages
        if m.topic == "hanport/{}/state".format(meter_id)
    ]
    # Every state message is one encoded reading, in order; only superseded ones may be missing.
    position = 0
    lists_seen = set()
    for state in states:
        while position < len(sent) and not same_values(state, sent[position]["values"]):
            position += 1
        assert position < len(sent), (
            "state not sent by the simulator (or out of order): {}".format(state)
        )
        lists_seen.add(sent[position]["list"])
    assert lists_seen == ({2, 3} if meter == "kamstrup" else {1, 2, 3})
    # No list 2/3 reading is lost (list 1 may be superseded).
    assert len([s for s in states if "meter_id" in s]) == full > 0
    status = [m for m in sub.messages if m.topic == "hanport/{}/status".format(meter_id)]
    assert status[0].payload == b"online"
    # After the app is gone the broker holds its Last Will, retained, and the discovery configs.
    late = mqtt_subscriber(
        mqtt_broker,
        "hanport/{}/status".format(meter_id),
        "homeassistant/sensor/hanport_{}/+/config".format(meter_id),
    )
    retained = late.wait_for(1 + len(numeric_keys(sent) | ENERGY_KEYS), timeout=5)
    assert all(m.retain for m in retained)
    assert [m.payload for m in retained if m.topic.endswith("/status")] == [b"offline"]
    # Discovery: a complete config for every numeric value, energy totals for the dashboard.
    configs = {
        m.topic.split("/")[3]: json.loads(m.payload)
        for m in sub.messages
        if m.topic.startswith("homeassistant/sensor/hanport_{}/".format(meter_id))
    }
    assert set(configs) == numeric_keys(sent) | ENERGY_KEYS
    total = configs["active_power_import_total"]
    assert total["state_class"] == "total_increasing" and total["unit_of_measurement"] == "Wh"
    assert total["device"]["serial_number"] == meter_id
    diags = [json.loads(m.payload) for m in sub.messages if m.topic.endswith("/diagnostics")]
    assert diags and diags[-1]["frames_ok"] >= diags[-1]["published"] > 0
    assert diags[-1]["fcs_errors"] == 0 and diags[-1]["task_errors"] == 0


def test_broker_stopped_and_restarted_mid_run(mqtt_broker, mqtt_subscriber, run):
    r = run(mqtt_broker, "kaifa", start="2024-03-01T10:00:00", speed=4, duration_s=9.0)
    sub = mqtt_subscriber(mqtt_broker, "hanport/+/state", "hanport/+/diagnostics")
    assert sub.wait_for(3, timeout=10, topic=None)
    mqtt_broker.stop()
    time.sleep(2.0)
    mqtt_broker.start()
    sub_after = mqtt_subscriber(mqtt_broker, "hanport/+/diagnostics", "hanport/+/state")
    after = sub_after.wait_for(6, timeout=10)
    assert r.wait(30) == 0, r.output
    states = [m for m in after if m.topic.endswith("/state")]
    diags = [json.loads(m.payload) for m in after if m.topic.endswith("/diagnostics")]
    assert states, r.output
    assert diags and diags[-1]["mqtt_connects"] >= 2 and diags[-1]["mqtt_failures"] >= 1
    assert diags[-1]["task_errors"] == 0
    # The meter was read all along: frames counted while the broker was away.
    assert diags[-1]["frames_ok"] >= diags[-1]["published"]
    assert "retry in" in r.output and "Traceback" not in r.output


def test_refused_credentials_give_clear_error_and_keep_retrying(mqtt_broker_factory, run):
    broker = mqtt_broker_factory(users={"han": "right"})
    r = run(
        broker,
        "aidon",
        start="2024-03-01T10:00:00",
        speed=10,
        duration_s=5.0,
        extra=("--user", "han", "--password", "wrong"),
    )
    assert r.wait(30) == 0, r.output
    refusals = [line for line in r.output.splitlines() if "broker refused the connection" in line]
    assert len(refusals) >= 2, r.output
    assert "bad user name or password" in refusals[0] or "not authorised" in refusals[0]
    assert "Traceback" not in r.output
