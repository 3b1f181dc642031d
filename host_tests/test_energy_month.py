"""A generated month through tools/simulate.py and tools/energy.py, checked against the truth.

March 2026 from an Aidon with every fault (repeated list 3, lost list 3, a span with no frames,
a reboot with the state file in between) and the change to summer time; a few days around the
change back in October with the Aidon repeat of the second 02:00. The truth is the simulator's
own registers at every hour; days, the month's figure and the step are computed here with
zoneinfo and plain arithmetic, not with the module.
"""

import datetime
import json
import subprocess
import sys
import zoneinfo

import pytest

from mpvm import ROOT

sys.path.insert(0, str(ROOT / "tools"))

import simulate  # noqa: E402

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
UTC = datetime.timezone.utc
SLOW = 24  # list 1 every 60 s, list 2 every 4 min: a month in seconds, power still exact
LADDER_W = [0, 2000, 5000, 10000, 15000, 20000, 25000, 50000, 75000, 100000, 150000, 200000]

MARCH = {
    "start": "2026-03-01T00:00:00+01:00",
    "end": "2026-04-01T00:00:10+02:00",
    "repeat": ["2026-03-03T05:00:00+01:00", "2026-03-29T05:00:00+02:00"],
    "drop": [
        "2026-03-05T18:00:00+01:00",
        "2026-03-05T19:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ],
    "silence": [
        "2026-03-10T22:30:00+01:00/2026-03-11T02:20:00+01:00",
        "2026-03-16T11:40:00+01:00/2026-03-16T15:05:00+01:00",  # the reboot
    ],
    "reboot": "2026-03-16T13:00:00+01:00",
}
OCTOBER = {
    "start": "2026-10-24T00:00:00+02:00",
    "end": "2026-10-27T00:00:10+01:00",
    "repeat": ["2026-10-25T03:00:00+01:00"],  # repeats the second 02:00
    "drop": ["2026-10-25T02:00:00+02:00"],  # the first 02:00 lost: the second is still later
    "silence": [],
}


def ms(text):
    return simulate.parse_time_ms(text)


def generate(case, path):
    """The faulty recording through the simulator's command line."""
    duration = (ms(case["end"]) - ms(case["start"])) / 1000
    cmd = [sys.executable, str(ROOT / "tools" / "simulate.py"), "--speed", "0", "--seed", "3"]
    cmd += ["--start", case["start"], "--duration", str(duration), "--slow", str(SLOW)]
    cmd += ["--frames", str(path)]
    for t in case["repeat"]:
        cmd += ["--repeat-list3", t]
    for t in case["drop"]:
        cmd += ["--drop-list3", t]
    for span in case["silence"]:
        cmd += ["--silence", span]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=600)


def truth(case, monkeypatch):
    """The meter's import register (Wh) at every hour, UTC ms -> Wh, without faults."""
    monkeypatch.setattr(simulate.hanencode, "build_frame", lambda meter, raw: b"")
    sim = simulate.Simulator("Aidon", 3, 3, slow=SLOW)
    start = datetime.datetime.fromisoformat(case["start"])
    registers = {}
    for when, reading, _ in sim.frames(start):
        t = simulate._to_ms(when)
        if t > ms(case["end"]):
            break
        if "active_power_import_total" in reading:
            registers[t - t % simulate.HOUR_MS] = reading["active_power_import_total"]
    return registers


def energy_tool(frames, *args):
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "energy.py"), *map(str, args), str(frames)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return json.loads(out.stdout)


def anchors(case, registers):
    """Hours whose list 3 arrives and is used."""
    lost = {ms(t) - ms(t) % simulate.HOUR_MS for t in case["repeat"] + case["drop"]}
    spans = [tuple(ms(t) for t in s.split("/")) for s in case["silence"]]
    return sorted(
        h
        for h in registers
        if h not in lost and not any(a <= h + 10_000 < b for a, b in spans)
    )


def check_hours(out, registers, used):
    hours = out["hours"]
    starts = [simulate.parse_time_ms(h["start"]) for h in hours]
    assert starts == list(range(used[0], used[-1], simulate.HOUR_MS)), "every hour, once"
    used_set = set(used)
    run_start = None
    for h, hour in zip(starts, hours):
        wh = round(hour["import_kwh"] * 1000)
        exact = h in used_set and h + simulate.HOUR_MS in used_set
        assert hour["estimated"] is (not exact), hour
        if exact:
            assert wh == registers[h + simulate.HOUR_MS] - registers[h], hour
        elif h in used_set:
            run_start, run_wh = h, 0
        if not exact:
            run_wh += wh
            if h + simulate.HOUR_MS in used_set:
                assert run_wh == registers[h + simulate.HOUR_MS] - registers[run_start]
    assert sum(1 for h in hours if h["estimated"]) > 0


def expected_days_and_month(hours):
    days = {}
    for hour in hours:
        start = datetime.datetime.fromisoformat(hour["start"])
        date = start.astimezone(OSLO).date().isoformat()
        wh = round(hour["import_kwh"] * 1000)
        if date not in days or wh > days[date][0]:
            days[date] = (wh, hour["start"])
    months = {}
    for date, (wh, _) in days.items():
        months.setdefault(date[:7], []).append((wh, date))
    figures = {}
    for month, maxima in months.items():
        top = sorted(maxima, key=lambda x: (-x[0], x[1]))[:3]
        mean_w = sum(wh for wh, _ in top) / len(top)
        step = max(i for i, limit in enumerate(LADDER_W) if mean_w >= limit)
        figures[month] = (round(mean_w) / 1000, step, top)
    return days, figures


def check_days_and_month(out):
    days, figures = expected_days_and_month(out["hours"])
    assert {d["date"]: (round(d["max_kwh"] * 1000), d["max_start"]) for d in out["days"]} == days
    for month in out["months"]:
        capacity_kw, step, top = figures[month["month"]]
        assert month["method"] == "TRE_DØGNMAX_MND"
        assert month["capacity_kw"] == capacity_kw
        high = LADDER_W[step + 1] // 1000 if step + 1 < len(LADDER_W) else None
        assert month["step"] == [LADDER_W[step] // 1000, high]
        assert [(round(t["kwh"] * 1000), t["date"]) for t in month["top"]] == top


@pytest.fixture(scope="module")
def march(tmp_path_factory):
    path = tmp_path_factory.mktemp("energy") / "march.txt"
    generate(MARCH, path)
    return path


def test_a_faulty_march_gives_exact_hours_exact_gap_sums_and_the_right_step(
    march, monkeypatch
):
    registers = truth(MARCH, monkeypatch)
    out = energy_tool(march)
    used = anchors(MARCH, registers)
    check_hours(out, registers, used)
    check_days_and_month(out)
    assert out["rejected"] == {"stale": 2, "backwards": 0}
    assert len(out["days"]) == 31 and [m["month"] for m in out["months"]] == ["2026-03"]
    spring = [h["start"] for h in out["hours"] if h["start"].startswith("2026-03-29")]
    assert len(spring) == 23 and "2026-03-29T02:00:00+01:00" not in spring


def test_a_reboot_with_the_state_file_gives_what_one_run_gives(march, tmp_path):
    reboot_s = ms(MARCH["reboot"]) / 1000
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    with open(march) as f, open(first, "w") as a, open(second, "w") as b:
        for line in f:
            (a if float(line.split()[0]) < reboot_s else b).write(line)
    state = tmp_path / "energy.json"
    one = energy_tool(march)
    part1 = energy_tool(first, "--state", state)
    part2 = energy_tool(second, "--state", state)
    assert part2 == one
    assert part2["hours"][: len(part1["hours"])] == part1["hours"], "run 1's hours stand"


def test_the_change_back_in_october_gives_a_25_hour_day(tmp_path, monkeypatch):
    path = tmp_path / "october.txt"
    generate(OCTOBER, path)
    registers = truth(OCTOBER, monkeypatch)
    out = energy_tool(path)
    check_hours(out, registers, anchors(OCTOBER, registers))
    check_days_and_month(out)
    autumn = [h["start"] for h in out["hours"] if h["start"].startswith("2026-10-25")]
    assert len(autumn) == 25
    assert "2026-10-25T02:00:00+02:00" in autumn and "2026-10-25T02:00:00+01:00" in autumn
    assert out["rejected"] == {"stale": 1, "backwards": 0}
