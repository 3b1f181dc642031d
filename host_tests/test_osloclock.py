"""Norwegian local time without a zone database: the EU rule, wall clocks, calendar arithmetic."""

import datetime
import os
import random
import sys
import zoneinfo

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "firmware"))

import osloclock  # noqa: E402

UTC = datetime.timezone.utc
OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
Y2K = datetime.datetime(2000, 1, 1, tzinfo=UTC)


def s2k(text):
    return int((datetime.datetime.fromisoformat(text) - Y2K).total_seconds())


@pytest.mark.parametrize(
    "year, start, end",
    [
        (2026, "2026-03-29T01:00:00+00:00", "2026-10-25T01:00:00+00:00"),
        (2027, "2027-03-28T01:00:00+00:00", "2027-10-31T01:00:00+00:00"),
    ],
)
def test_summer_time_starts_and_ends_on_the_last_sundays_at_0100_utc(year, start, end):
    assert osloclock.summer_time(year) == (s2k(start), s2k(end))
    assert osloclock.offset(s2k(start) - 1) == 3600
    assert osloclock.offset(s2k(start)) == 7200
    assert osloclock.offset(s2k(end) - 1) == 7200
    assert osloclock.offset(s2k(end)) == 3600
    assert osloclock.iso(s2k(start) - 1).endswith("T01:59:59+01:00")
    assert osloclock.iso(s2k(start)).endswith("T03:00:00+02:00")
    assert osloclock.iso(s2k(end) - 1).endswith("T02:59:59+02:00")
    assert osloclock.iso(s2k(end)).endswith("T02:00:00+01:00")


@pytest.mark.parametrize("year, day", [(2026, 25), (2027, 31)])
def test_the_wall_clock_02_00_of_the_autumn_change_means_two_instants_an_hour_apart(year, day):
    wall = osloclock.wall_seconds("{}-10-{}T02:00:00+00:00".format(year, day))
    first, second = osloclock.instants(wall)
    assert second - first == 3600
    assert osloclock.iso(first) == "{}-10-{}T02:00:00+02:00".format(year, day)
    assert osloclock.iso(second) == "{}-10-{}T02:00:00+01:00".format(year, day)


@pytest.mark.parametrize("year, day", [(2026, 29), (2027, 28)])
def test_the_skipped_02_30_of_the_spring_change_is_read_as_winter_time(year, day):
    wall = osloclock.wall_seconds("{}-03-{}T02:30:00".format(year, day))
    first, second = osloclock.instants(wall)
    assert first == second
    assert osloclock.iso(first) == "{}-03-{}T03:30:00+02:00".format(year, day)


def test_local_time_agrees_with_the_zone_database_for_forty_years():
    rng = random.Random(10)
    for _ in range(20000):
        t = rng.randrange(0, 40 * 365 * 86400)
        expected = (Y2K + datetime.timedelta(seconds=t)).astimezone(OSLO)
        assert osloclock.iso(t) == expected.isoformat()
        wall = osloclock.wall_seconds(expected.isoformat())
        assert t in osloclock.instants(wall)


def test_calendar_round_trips_and_weekdays():
    for days in range(-40000, 80000, 13):
        year, month, day = osloclock.civil_from_days(days)
        assert osloclock.days_from_civil(year, month, day) == days
        date = datetime.date(2000, 1, 1) + datetime.timedelta(days=days)
        assert (year, month, day) == (date.year, date.month, date.day)
        assert osloclock.weekday(days) == date.weekday()


def test_wall_seconds_ignores_the_offset_and_rejects_junk():
    assert osloclock.wall_seconds("2026-12-01T16:00:00+00:00") == osloclock.wall_seconds(
        "2026-12-01T16:00:00+01:00"
    )
    assert osloclock.wall_seconds("2000-01-01T00:00:01") == 1
    assert osloclock.wall_seconds("garbage") is None
    assert osloclock.wall_seconds("") is None
