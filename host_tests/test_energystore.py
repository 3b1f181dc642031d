"""The energy state on flash: atomic writes, damaged files, a different meter, writes per hour."""

import builtins
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "firmware"))

import energy  # noqa: E402
import energystore  # noqa: E402
import osloclock  # noqa: E402
from hanport.hdlc import crc16  # noqa: E402

H = 3600
T0 = osloclock.wall_seconds("2026-02-02T10:00:00") - H  # 10:00 CET as s2k


def accounted(hours, meter_id="M1"):
    """An Energy after `hours` anchored hours of 1 kW and then 20 min of data."""
    acc = energy.Energy()
    wh = 5_000_000
    for k in range(hours + 1):
        t = T0 + k * H
        acc.feed(
            {
                "meter_id": meter_id,
                "meter_datetime": osloclock.iso(t),
                "active_power_import_total": wh,
                "active_power_export_total": 0,
                "reactive_power_import_total": 0,
                "reactive_power_export_total": 0,
            },
            t,
        )
        for s in range(0, H if k < hours else 1200, 10):
            acc.feed({"active_power_import": 1000 + k}, t + s)
        wh += 1000 + k
    return acc


def test_the_state_survives_a_save_and_load(tmp_path):
    path = str(tmp_path / "energy.json")
    acc = accounted(30)
    energystore.save(acc, path)
    copy = energy.Energy()
    assert energystore.load(copy, path) is None
    assert energystore.dump(copy) == energystore.dump(acc)
    assert os.path.getsize(path) < 4096  # compact: 30 hours, the month, one anchor


@pytest.mark.parametrize(
    "damage, message",
    [
        (None, "no energy state"),
        (lambda raw: raw[: len(raw) // 2], "truncated"),
        (lambda raw: raw[:-1], "truncated"),
        (lambda raw: raw.replace(b"1001", b"1002", 1), "corrupt"),
        (lambda raw: b"", "truncated"),
        (lambda raw: b"\xff" * 100 + b"\n", "truncated"),
        (lambda raw: raw * 100, "too large"),
    ],
)
def test_a_missing_truncated_or_corrupt_state_is_reported_and_starts_fresh(
    tmp_path, damage, message
):
    path = str(tmp_path / "energy.json")
    if damage is not None:
        energystore.save(accounted(3), path)
        with open(path, "rb") as f:
            raw = f.read()
        with open(path, "wb") as f:
            f.write(damage(raw))
    acc = accounted(2)
    problem = energystore.load(acc, path)
    assert message in problem and "starting fresh" in problem
    assert energystore.dump(acc) == energystore.dump(energy.Energy())


def test_a_state_of_another_meter_starts_a_new_series(tmp_path):
    path = str(tmp_path / "energy.json")
    energystore.save(accounted(3, meter_id="OLD"), path)
    acc = energy.Energy()
    assert energystore.load(acc, path) is None
    acc.feed({"meter_id": "NEW", "active_power_import": 10}, T0 + 4 * H)
    assert acc.meter_changes == 1 and acc.a_p < 0  # no difference across meters


class Crash(Exception):
    pass


class CrashingFile:
    """A file that takes `budget` bytes and then the power goes."""

    def __init__(self, real, budget):
        self.real = real
        self.budget = budget

    def write(self, data):
        if len(data) > self.budget[0]:
            self.real.write(data[: self.budget[0]])
            self.real.close()
            raise Crash
        self.budget[0] -= len(data)
        return self.real.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def test_a_write_killed_at_any_point_leaves_the_old_or_the_new_state(tmp_path, monkeypatch):
    path = str(tmp_path / "energy.json")
    old, new = accounted(5), accounted(6)
    energystore.save(new, path)
    size = os.path.getsize(path)
    rng = random.Random(10)  # deterministic cut points
    real_open, real_rename = builtins.open, os.rename
    outcomes = set()
    for trial in range(60):
        energystore.save(old, path)
        cut = rng.randrange(size + size // 4)  # a quarter of the runs complete the write
        fat = trial % 3 == 0  # FAT: rename over a file fails, remove first
        renames = []

        def fake_open(name, mode="r", *args, _cut=cut):
            f = real_open(name, mode, *args)
            return CrashingFile(f, [_cut]) if "w" in mode else f

        def fake_rename(a, b, _fat=fat, _cut=cut, _renames=renames):
            if _fat and os.path.exists(b):
                raise OSError("EEXIST")
            if _cut % 2 and _fat:
                raise Crash  # the power goes between remove and rename
            _renames.append(b)
            real_rename(a, b)

        monkeypatch.setattr(energystore, "open", fake_open, raising=False)
        monkeypatch.setattr(energystore.os, "rename", fake_rename)
        try:
            energystore.save(new, path)
        except Crash:
            pass
        monkeypatch.undo()
        acc = energy.Energy()
        problem = energystore.load(acc, path)
        assert problem is None, (trial, cut, problem)
        state = energystore.dump(acc)
        assert state in (energystore.dump(old), energystore.dump(new)), (trial, cut)
        outcomes.add("new" if state == energystore.dump(new) else "old")
    assert outcomes == {"old", "new"}


def test_the_saver_writes_at_most_once_per_closed_hour(tmp_path):
    path = str(tmp_path / "energy.json")
    acc = accounted(0)
    saver = energystore.Saver(acc, path)
    assert saver.step() is None and saver.writes == 0
    t = T0
    for k in range(1, 25):
        for s in range(0, H, 10):
            acc.feed({"active_power_import": 500}, t + s)
            saver.step()
        t += H
        acc.feed(
            {
                "meter_datetime": osloclock.iso(t),
                "active_power_import_total": 5_000_000 + 1000 + 500 * k,
                "active_power_export_total": 0,
            },
            t,
        )
        saver.step()
    assert saver.writes == 24  # one per hour: 8,784 a leap year
    saver.step(force=True)  # a clean restart
    assert saver.writes == 25


def test_the_saver_counts_a_failed_write_and_carries_on(tmp_path):
    acc = accounted(1)
    saver = energystore.Saver(acc, str(tmp_path / "no-such-dir" / "energy.json"))
    problem = saver.step(force=True)
    assert "not saved" in problem and saver.errors == 1


def log_at(text):
    """Period (hour) of a local time with its offset."""
    return (osloclock.wall_seconds(text) - int(text[19:22]) * H) // H


def test_the_hour_log_keeps_this_month_and_the_last(tmp_path):
    path = str(tmp_path / "energy.json.hours")
    log = energystore.HourLog(path, H)
    first = log_at("2026-01-31T22:00:00+01:00")
    for k in range(4):  # 22:00, 23:00 of 31 January; 00:00, 01:00 of 1 February
        log.append(first + k, (1000 + k, k), k == 2)
    log.append(first + 1, (5, 5), False)  # already logged: skipped
    assert list(log.read()) == [
        (first, (1000, 0), False),
        (first + 1, (1001, 1), False),
        (first + 2, (1002, 2), True),
        (first + 3, (1003, 3), False),
    ]
    march = log_at("2026-03-01T00:00:00+01:00")
    log.append(march, (7, 0), False)  # January falls out
    assert [p for p, _, _ in log.read()] == [first + 2, first + 3, march]
    again = energystore.HourLog(path, H)
    assert again.last_p == march and again.bad == 0


def test_a_torn_hour_log_line_is_skipped_and_the_next_one_stands(tmp_path):
    path = str(tmp_path / "energy.json.hours")
    log = energystore.HourLog(path, H)
    p = log_at("2026-02-02T10:00:00+01:00")
    log.append(p, (1000, 0), False)
    log.append(p + 1, (2000, 0), False)
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(raw[:-7])  # the power went while writing the second line
    log = energystore.HourLog(path, H)
    assert log.last_p == p and log.bad == 1
    log.append(p + 1, (2000, 0), False)
    log.append(p + 2, (3000, 0), True)
    assert list(log.read()) == [
        (p, (1000, 0), False), (p + 1, (2000, 0), False), (p + 2, (3000, 0), True)
    ]


def test_the_saver_fills_the_hour_log_from_the_state(tmp_path):
    acc = accounted(30)
    saver = energystore.Saver(acc, str(tmp_path / "energy.json"), str(tmp_path / "h"))
    assert saver.step(force=True) is None
    logged = list(saver.log.read())
    assert [(p, wh[:2], est) for p, wh, est in acc.hours()] == logged and len(logged) == 30


def test_a_checked_state_that_is_not_ours_starts_fresh(tmp_path):
    path = str(tmp_path / "energy.json")
    for text in (b"[1, 2]", b'{"v": 1, "period_s": 3600}', b'"x"'):
        with open(path, "wb") as f:
            f.write(text + "\n{} {:04x}\n".format(len(text), crc16(text, 0, len(text))).encode())
        acc = accounted(1)
        assert "starting fresh" in energystore.load(acc, path)
        assert energystore.dump(acc) == energystore.dump(energy.Energy())


def test_an_overlong_line_in_the_hour_log_is_skipped_in_bounded_reads(tmp_path):
    path = str(tmp_path / "energy.json.hours")
    log = energystore.HourLog(path, H)
    p = log_at("2026-02-02T10:00:00+01:00")
    log.append(p, (1000, 0), False)
    with open(path, "ab") as f:
        f.write(b"7" * 100_000 + b"\n")
    log = energystore.HourLog(path, H)
    log.append(p + 1, (2000, 0), True)
    assert list(log.read()) == [(p, (1000, 0), False), (p + 1, (2000, 0), True)]
    assert log.bad == 1
