"""energymode.py: the accounting fed by the app, its clock (NTP first, then the meter clock), its
file, its MQTT message and API answer, and its settings (config.py) and Home Assistant sensors.

The meter here is the simulator's recording (tools/simulate.py --frames) decoded by the real
parser; the dongle's ticks follow the recording's arrival times.
"""

import json
import subprocess
import sys

import config
import discovery
import energymode
import hanport
import osloclock
import pytest

from mpvm import ROOT

START = "2026-03-02T10:00:00+01:00"
UNIX_2000 = 946684800


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Four hours with the 11:00 list 3 repeated (Aidon) and the 12:00 one lost."""
    path = tmp_path_factory.mktemp("energymode") / "frames.txt"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "simulate.py"), "--speed", "0", "--seed", "3",
         "--start", "2026-03-02T09:59:30+01:00", "--duration", str(4 * 3600 + 60),
         "--frames", str(path), "--slow", "4",
         "--repeat-list3", "2026-03-02T11:00:00+01:00",
         "--drop-list3", "2026-03-02T12:00:00+01:00"],
        check=True, stdout=subprocess.DEVNULL, timeout=300,
    )
    rows = []
    for line in path.read_text().split("\n"):
        if line:
            t, hexa = line.split(" ", 1)
            rows.append((float(t), bytes.fromhex(hexa)))
    return rows


class Ticks:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms & ((1 << 30) - 1)


def run(mode, ticks, frames, upto=None, t0=None):
    """Feed the recording, the ticks following its arrival times; the readings fed."""
    readings = []
    reader = hanport.Reader(readings.append)
    t0 = frames[0][0] if t0 is None else t0
    for t, frame in frames:
        if upto is not None and t >= upto:
            break
        ticks.ms = int((t - t0) * 1000)
        readings.clear()
        reader.feed(frame)
        for r in readings:
            mode.feed(r)
        mode.step()


def make(tmp_path, ticks, cfg=None, ntp=None, up=True):
    energy_cfg = config.defaults()["energy"]
    energy_cfg.update(cfg or {})
    return energymode.EnergyMode(
        energy_cfg, lambda: up, ticks, str(tmp_path / "energy.json"),
        str(tmp_path / "energy.hours"), ntp or (lambda host: (_ for _ in ()).throw(OSError(host))),
    )


def test_hours_close_exactly_with_a_repeated_and_a_lost_list3(tmp_path, frames):
    ticks = Ticks()
    mode = make(tmp_path, ticks)
    run(mode, ticks, frames)
    hours = mode.acc.hours()
    starts = [osloclock.iso(p * 3600) for p, _, _ in hours]
    assert starts == [
        "2026-03-02T10:00:00+01:00", "2026-03-02T11:00:00+01:00",
        "2026-03-02T12:00:00+01:00", "2026-03-02T13:00:00+01:00",
    ]
    # 11:00's list 3 is the 10:00 one again and 12:00's is lost: 10-13 is one gap, split.
    assert [est for _, _, est in hours] == [True, True, True, False]
    assert mode.acc.stale == 1  # the repeated list 3, counted once and not used
    assert mode.time_source == "meter"
    # The clock follows the meter: the last anchor 14:00, plus the seconds since it arrived.
    s2k, _ = mode.time()
    assert osloclock.iso(s2k).startswith("2026-03-02T14:0")
    # Saved when hours close: the gap's three at 13:00, then 13:00-14:00.
    assert mode.saver.writes == 2
    assert mode.saver.log.last_p == hours[-1][0]


def test_the_state_survives_a_restart(tmp_path, frames):
    ticks = Ticks()
    mode = make(tmp_path, ticks)
    mid = frames[0][0] + 2 * 3600 + 300  # after 12:05, in the hour whose list 3 is lost
    run(mode, ticks, frames, upto=mid)
    first = mode.acc.hours()
    mode.save()
    again = make(tmp_path, Ticks())
    assert again.acc.hours() == first
    run(again, Ticks(), [f for f in frames if f[0] >= mid], t0=frames[0][0])
    whole = make(tmp_path / "x" if (tmp_path / "x").mkdir() is None else None, Ticks())
    run(whole, Ticks(), frames)
    # The register differences are exact; a restart only changes how a gap is split.
    total = [sum(wh[0] for _, wh, _ in m.acc.hours()) for m in (again, whole)]
    assert total[0] == total[1]
    assert [p for p, _, _ in again.acc.hours()] == [p for p, _, _ in whole.acc.hours()]


def test_ntp_sets_the_clock_before_the_first_list3_and_the_meter_then_rules(tmp_path, frames):
    ticks = Ticks()
    asked = []
    ntp_s2k = int(frames[0][0]) - UNIX_2000 + 3  # NTP says 3 s later than the recording

    def ntp(host):
        asked.append(host)
        return ntp_s2k + ticks.ms // 1000

    mode = make(tmp_path, ticks, {"ntp_host": "127.0.0.1"}, ntp)
    run(mode, ticks, frames, upto=frames[0][0] + 20)  # before the first list 3 (10:00:1x)
    assert mode.time_source == "ntp" and asked == ["127.0.0.1"]
    assert mode.due()
    msg = mode.message()
    assert msg["clock"] == "ntp" and msg["hour_start"] == "2026-03-02T09:00:00+01:00"
    run(mode, ticks, frames, upto=frames[0][0] + 3600)
    assert mode.time_source == "meter" and asked == ["127.0.0.1"]  # no query once the meter rules


def test_no_clock_and_no_ntp_means_no_power_is_integrated_until_the_first_list3(tmp_path, frames):
    ticks = Ticks()
    mode = make(tmp_path, ticks, {"ntp_host": ""})
    run(mode, ticks, frames, upto=frames[0][0] + 20)
    assert mode.time_source is None and mode.acc.pd_n == 0 and not mode.due()


def test_ntp_failures_are_counted_and_retried_later(tmp_path, frames):
    ticks = Ticks()
    mode = make(tmp_path, ticks)
    mode.step()
    mode.step()
    assert mode.ntp_failures == 1  # the second pass waits for the retry time
    ticks.ms += 600001
    mode.step()
    assert mode.ntp_failures == 2
    counters = {}
    mode.add_counters(counters)
    assert counters["ntp_failures"] == 2 and counters["energy_stale"] == 0


def test_message_and_answer(tmp_path, frames):
    ticks = Ticks()
    mode = make(tmp_path, ticks)
    run(mode, ticks, frames)
    msg = mode.message()
    assert msg["last_hour_start"] == "2026-03-02T13:00:00+01:00"
    assert msg["step"] == "{}-{} kW".format(msg["step_from_kw"], msg["step_to_kw"])
    assert msg["rejected"] == 1 and msg["estimated"] == 3 and msg["month"] == "2026-03"
    assert None not in msg.values()
    text = json.dumps(msg)
    assert len(text) < 2048  # the publisher's buffer
    answer = mode.answer()
    assert [h[0] for h in answer["hours"]] == [p * 3600 for p, _, _ in mode.acc.hours()]
    assert answer["days"] == [[2, max(h[1] for h in answer["hours"]), answer["days"][0][2]]]
    assert answer["ladder_kw"][:3] == [0, 2, 5] and answer["clock"]["source"] == "meter"
    # due: after an hour closes at once, else every publish_s
    mode.sent()
    assert not mode.due()
    ticks.ms += 60000
    assert mode.due()
    mode.sent()
    mode.again()
    assert mode.due()


def test_energy_settings_are_checked_by_the_accounting():
    cfg = config.defaults()
    problems = config.merge(cfg, {"energy": {"method": "SUM", "ladder_kw": [0, 5, 2],
                                             "days": 0, "windows": [{"hours": [24]}]}})
    assert len(problems) == 4
    assert any("method" in p for p in problems) and any("ladder_kw" in p for p in problems)
    assert config.merge(cfg, {"energy": {"method": "MND_MAX", "ladder_kw": [0, 1.5, 9],
                                         "resolution_min": 15, "enabled": True}}) == []
    assert cfg["energy"]["ladder_kw"] == [0, 1.5, 9] and cfg["energy"]["enabled"] is True
    assert config.parse("energy.ladder_kw", "[0, 3, 6]") == [0, 3, 6]
    with pytest.raises(ValueError):
        config.parse("energy.ladder_kw", "0, 3")


def test_a_bad_stored_setting_boots_with_its_default(tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"energy": {"method": "SUM", "days": 2, "ladder_kw": "5"}}))
    cfg, problems = config.load(str(path))
    assert cfg["energy"]["days"] == 2 and cfg["energy"]["method"] == "SUM"  # types only here
    assert len(problems) == 1 and "ladder_kw must be a list" in problems[0]
    mode = make(tmp_path, Ticks(), cfg["energy"])
    assert mode.acc.capacity.method == "TRE_DØGNMAX_MND" and mode.acc.capacity.days_n == 2
    assert "energy.method must be one of" in capsys.readouterr().out


def test_home_assistant_sensors_for_the_energy_message():
    class Meter:
        id = "123"
        manufacturer = "Aidon"
        model = "6534"

    disc = discovery.Discovery()
    disc.add(energymode.SENSORS)
    assert disc.due[0] == "energy_hour" and len(disc.due) == len(energymode.SENSORS)
    configs = {
        k: json.loads(discovery.config_payload(k, Meter, "hanport", disc.extra)) for k in disc.due
    }
    for cfg in configs.values():
        assert cfg["state_topic"] == "hanport/123/energy"
    assert configs["energy_hour"]["state_class"] == "total_increasing"
    assert configs["energy_hour"]["unit_of_measurement"] == "kWh"
    last = configs["energy_last_hour"]
    assert last["state_class"] == "total"
    assert "last_hour_start" in last["last_reset_value_template"]
    assert configs["energy_capacity"]["device_class"] == "power"
    assert "state_class" not in configs["energy_step"]
    assert "device_class" not in configs["energy_headroom"]
    assert configs["energy_rejected"]["entity_category"] == "diagnostic"
    import mqttconnect

    mqttconnect.forget(disc)  # a new meter: the energy sensors stay known
    assert disc.due == [row[0] for row in energymode.SENSORS]
