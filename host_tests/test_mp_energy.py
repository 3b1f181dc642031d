"""The energy mode end to end in the real MicroPython (32-bit build): the simulator over hour
boundaries with a repeated and a lost list 3, the energy topic and its Home Assistant sensors at
a real mosquitto, GET /api/v1/energy, the state on the staged flash surviving a restart, the
page section in headless chromium, and the clock from the real `ntptime` talking to a local NTP
responder on 127.0.0.1 before the first list 3.

Skipped, saying why, when no MicroPython interpreter or umqtt.simple is at hand.
"""

import calendar
import json
import socket
import struct
import threading
import time

import pytest
from mphost import MpDongle, device_config, need_umqtt

UNIX_2000 = 946684800
NTP_1970 = 2208988800


def energy_messages(sub, meter_id):
    topic = "hanport/{}/energy".format(meter_id)
    return [json.loads(m.payload) for m in sub.messages if m.topic == topic]


def list3s(sent):
    """{meter clock "YYYY-MM-DDTHH:MM": import register} of the list 3s sent (the first of
    each clock: a repeat carries the hour before's clock)."""
    out = {}
    for s in sent:
        if s["list"] == 3:
            out.setdefault(s["values"]["meter_datetime"][:16], s["values"])
    return out


def saved_with(path, hours):
    """The state file's bytes once it holds `hours` closed hours (energystore's format: JSON,
    then a line with its length and CRC)."""
    try:
        data = path.read_bytes()
        state = json.loads(data[: data.rindex(b"\n", 0, len(data) - 1)])
    except (OSError, ValueError):
        return None
    return data if len(state["hours"]) == hours else None


class NTPResponder:
    """Answers NTP queries on 127.0.0.1:123 with a chosen time that runs on from `start_unix`.
    Port 123 is one per machine: a test that finds it taken waits for it (generous deadline),
    so tests running at once take turns instead of failing."""

    def __init__(self, start_unix, timeout=300):
        self.start_unix = start_unix
        self.t0 = time.monotonic()
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.bind(("127.0.0.1", 123))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.sock.settimeout(0.2)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def now(self):
        return self.start_unix + (time.monotonic() - self.t0)

    def _serve(self):
        while not self._stop:
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            if len(query) < 48:
                continue
            self.queries += 1
            secs = int(self.now()) + NTP_1970
            answer = bytearray(48)
            answer[0] = 0x24  # no leap warning, version 4, server
            answer[1] = 2
            answer[24:32] = query[40:48]  # originate = the client's transmit
            struct.pack_into("!II", answer, 32, secs, 0)
            struct.pack_into("!II", answer, 40, secs, 0)
            self.sock.sendto(answer, peer)

    def close(self):
        self._stop = True
        self.thread.join()
        self.sock.close()


def unix_of(local_iso, offset_h):
    return calendar.timegm(time.strptime(local_iso, "%Y-%m-%dT%H:%M:%S")) - offset_h * 3600


def energy_config(broker, ntp_host=""):
    cfg = device_config(broker, client_id="mp-energy", diagnostics_s=5)
    cfg["energy"]["ntp_host"] = ntp_host
    cfg["energy"]["publish_s"] = 5
    return cfg


def test_hours_over_boundaries_reach_mosquitto_the_api_and_survive_a_restart(
    tmp_path, mqtt_broker, mqtt_subscriber
):
    need_umqtt("1.8.0")
    sub = mqtt_subscriber(mqtt_broker, "hanport/#", "homeassistant/#")
    faults = ("--slow", "8", "--repeat-list3", "2026-03-02T11:00:00+01:00",
              "--drop-list3", "2026-03-02T12:00:00+01:00")
    (tmp_path / "a").mkdir()
    d = MpDongle(tmp_path / "a", energy_config(mqtt_broker), "aidon", speed=120,
                 start="2026-03-02T09:59:00+01:00", umqtt="1.8.0", sim_args=faults)
    try:
        d.wait_for(lambda: "2026-03-02T14:00" in list3s(d.sent()), timeout=300,
                   what="the 14:00 list 3 sent")
        answer = d.wait_for(
            lambda: (lambda a: a if len(a["hours"]) == 4 else None)(d.json("/api/v1/energy")),
            timeout=60, what="four closed hours in /api/v1/energy",
        )
        # The hour is saved by the energy task's next pass (once a second).
        state = d.wait_for(lambda: saved_with(tmp_path / "a" / "fs" / "energy.json", 4),
                           timeout=30, what="the state file with four hours")
        d.assert_clean()
        hours_log = (tmp_path / "a" / "fs" / "energy.hours").read_bytes()
    finally:
        d.stop()
    sent = d.sent()
    meter_id = next(s["values"]["meter_id"] for s in sent if "meter_id" in s["values"])
    regs = list3s(sent)
    reg = {k[11:13]: v["active_power_import_total"] for k, v in regs.items()}
    hours = answer["hours"]
    # 10:00-13:00 in local time = 09:00-12:00 UTC; exact register differences, one gap split.
    assert [h[0] for h in hours] == [
        unix_of("2026-03-02T{}:00:00".format(hh), 1) - UNIX_2000 for hh in ("10", "11", "12", "13")
    ]
    assert [h[3] for h in hours] == [1, 1, 1, 0]
    assert sum(h[1] for h in hours[:3]) == reg["13"] - reg["10"]
    assert hours[3][1] == reg["14"] - reg["13"]
    assert answer["counters"]["stale"] == 1 and answer["counters"]["estimated"] == 3
    month = answer["month"]
    assert month["month"] == "2026-03"
    assert month["top"][0]["kwh"] == max(h[1] for h in hours) / 1000
    assert answer["days"] == [[2, max(h[1] for h in hours), month and answer["days"][0][2]]]
    # MQTT: the energy message (retained), its last hour the exact one, and its sensors.
    msgs = energy_messages(sub, meter_id)
    assert msgs and msgs[-1]["last_hour_start"] == "2026-03-02T13:00:00+01:00"
    assert msgs[-1]["last_hour_kwh"] == hours[3][1] / 1000
    assert msgs[-1]["rejected"] == 1 and msgs[-1]["clock"] == "meter"
    lasts = [m["last_hour_start"] for m in msgs if "last_hour_start" in m]
    assert lasts == sorted(lasts)  # never an older hour after a newer one
    late = mqtt_subscriber(mqtt_broker, "hanport/{}/energy".format(meter_id))
    (kept,) = late.wait_for(1, timeout=10)  # retained: the newest, for a Home Assistant starting
    assert kept.retain and json.loads(kept.payload) == msgs[-1]
    configs = {
        m.topic.split("/")[3]: json.loads(m.payload)
        for m in sub.messages
        if m.topic.startswith("homeassistant/sensor/hanport_{}/energy_".format(meter_id))
    }
    assert set(configs) >= {"energy_hour", "energy_last_hour", "energy_capacity", "energy_step",
                            "energy_headroom"}
    assert configs["energy_capacity"]["state_topic"] == "hanport/{}/energy".format(meter_id)
    # Restart on the same flash, the meter silent: the closed hours are there at once.
    (tmp_path / "b").mkdir()
    d2 = MpDongle(tmp_path / "b", energy_config(None), "aidon", speed=1,
                  start="2026-03-02T14:30:00+01:00", sim_args=("--silence",
                  "2026-03-02T14:30:00+01:00/2026-03-02T15:30:00+01:00"),
                  files={"energy.json": state, "energy.hours": hours_log})
    browser = None
    try:
        again = d2.wait_for(lambda: d2.json("/api/v1/energy"), timeout=30, what="the API")
        assert again["hours"] == hours and again["month"] == month, (again, d2.output)
        assert "starting fresh" not in d2.output
        from cdp import Browser

        browser = Browser(390, 844)
        browser.goto("http://127.0.0.1:{}/".format(d2.port))
        browser.wait_for("!document.getElementById('energy').hidden", timeout=30)
        bars = browser.evaluate("document.querySelectorAll('#hours rect').length")
        assert bars == 4
        estimated = browser.evaluate("document.querySelectorAll('#hours rect.est').length")
        assert estimated == 3
        top = browser.evaluate("document.getElementById('top').textContent")
        assert top.startswith("03-02 ")
        ladder = browser.evaluate("document.querySelector('#ladder span.on').textContent")
        low, high = month["step"]
        assert ladder == "{}–{}".format(low, high)
        d2.assert_clean()
    finally:
        if browser is not None:
            browser.close()
        d2.stop()


def test_ntp_sets_the_clock_before_the_first_list3(tmp_path, mqtt_broker, mqtt_subscriber):
    need_umqtt("1.8.0")
    start = "2026-03-02T09:30:00"  # no list 3 for half an hour at speed 1
    ntp = NTPResponder(unix_of(start, 1))
    sub = mqtt_subscriber(mqtt_broker, "hanport/#")
    d = None
    try:
        d = MpDongle(tmp_path, energy_config(mqtt_broker, "127.0.0.1"), "aidon", speed=1,
                     start=start, umqtt="1.8.0")
        d.wait_output("clock set by NTP: 2026-03-02T09:30", timeout=60)
        meter_id = d.wait_for(
            lambda: next((s["values"]["meter_id"] for s in d.sent() if "meter_id" in s["values"]),
                         None), timeout=30, what="a list 2")
        msg = d.wait_for(
            lambda: next((m for m in energy_messages(sub, meter_id) if m.get("hour_kwh")), None),
            timeout=90, what="an energy message with this hour's kWh",
        )
        assert msg["clock"] == "ntp" and msg["hour_start"] == "2026-03-02T09:00:00+01:00"
        answer = d.json("/api/v1/energy")
        assert answer["clock"]["source"] == "ntp" and answer["hour"]["kwh"] > 0
        assert answer["clock"]["now"].startswith("2026-03-02T09:")
        status = d.json("/api/v1/status")["counters"]
        assert status["ntp_syncs"] == 1 and status["ntp_failures"] == 0
        assert ntp.queries == 1
        d.assert_clean()
    finally:
        if d is not None:
            d.stop()
        ntp.close()
