"""tools/energy.py: its output format, settings file, stdin and bad input."""

import json
import subprocess
import sys

import pytest

from mpvm import ROOT

TOOL = ROOT / "tools" / "energy.py"


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    path = tmp_path_factory.mktemp("energy_tool") / "day.txt"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "simulate.py"), "--speed", "0", "--seed", "5",
         "--start", "2026-02-02T00:00:00+01:00", "--duration", "86410", "--slow", "24",
         "--frames", str(path), "--drop-list3", "2026-02-02T12:00:00+01:00"],
        check=True, stdout=subprocess.DEVNULL, timeout=300,
    )
    return path


def tool(*args, stdin=None):
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)],
        input=stdin, capture_output=True, text=True, timeout=300,
    )


def test_the_output_is_exactly_the_documented_object(day):
    out = tool(day)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1
    result = json.loads(out.stdout)
    assert list(result) == ["hours", "days", "months", "rejected"]
    assert len(result["hours"]) == 24
    for hour in result["hours"]:
        assert list(hour) == ["start", "import_kwh", "export_kwh", "estimated"]
    assert [h["estimated"] for h in result["hours"]].count(True) == 2
    assert result["hours"][0]["start"] == "2026-02-02T00:00:00+01:00"
    (only_day,) = result["days"]
    assert list(only_day) == ["date", "max_kwh", "max_start"] and only_day["date"] == "2026-02-02"
    (month,) = result["months"]
    assert list(month) == ["month", "method", "capacity_kw", "step", "top"]
    assert month["month"] == "2026-02" and month["top"][0]["date"] == "2026-02-02"
    assert month["capacity_kw"] == only_day["max_kwh"]  # one day so far: its maximum
    assert result["rejected"] == {"stale": 0, "backwards": 0}


def test_settings_come_from_the_config_file_and_stdin_works(day, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"energy": {"method": "MND_MAX", "ladder_kw": [0, 1, 1.5, 9]}}))
    out = tool("--config", cfg, "-", stdin=day.read_text())
    assert out.returncode == 0, out.stderr
    (month,) = json.loads(out.stdout)["months"]
    assert month["method"] == "MND_MAX"
    assert month["step"] in ([1, 1.5], [1.5, 9], [0, 1], [9, None])


def test_bad_settings_and_bad_lines_are_reported(day, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"days": 0}))
    out = tool("--config", cfg, day)
    assert out.returncode == 2 and "energy.days" in out.stderr
    lines = day.read_text().splitlines()
    junk = "\n".join(lines[:50] + ["12 zz", "not a line", "1.5 7e00"] + lines[50:]) + "\n"
    out = tool("-", stdin=junk)
    assert out.returncode == 0 and "3 line(s) skipped" in out.stderr
    assert json.loads(out.stdout) == json.loads(tool(day).stdout)
