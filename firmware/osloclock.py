"""Norwegian local time (Europe/Oslo) without a time zone database, in seconds since 2000.

Why: MicroPython has no `datetime` and no zone data, and `time.mktime`/`gmtime` differ between
ports (epoch 1970 or 2000, local or UTC). The energy accounting needs local hours and days, so
the calendar arithmetic and the EU summer-time rule are written out here: CET (UTC+1), and
CEST (UTC+2) from the last Sunday of March to the last Sunday of October, changing at
01:00 UTC both times. Times are whole seconds since 2000-01-01 00:00 UTC ("s2k"): they stay
MicroPython small ints until 2034, so nothing here allocates a big int.

Wall time, as a meter clock shows it, is counted the same way ("wall seconds since 2000").
"""

EPOCH_DAYS = 10957  # days from 1970-01-01 to 2000-01-01
_DAY = 86400


def days_from_civil(year, month, day):
    """Days since 2000-01-01 of a proleptic Gregorian date (negative before)."""
    if month <= 2:
        year -= 1
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 - EPOCH_DAYS


def civil_from_days(days):
    """(year, month, day) of a day number since 2000-01-01."""
    z = days + EPOCH_DAYS + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


def weekday(days):
    """0 = Monday .. 6 = Sunday (2000-01-01 was a Saturday)."""
    return (days + 5) % 7


def _last_sunday(year, month):
    last = days_from_civil(year + month // 12, month % 12 + 1, 1) - 1
    return last - (weekday(last) + 1) % 7


def summer_time(year):
    """(start, end) of CEST in `year` as s2k: the last Sundays of March and October, 01:00 UTC."""
    return _last_sunday(year, 3) * _DAY + 3600, _last_sunday(year, 10) * _DAY + 3600


def offset(s2k):
    """UTC offset in seconds (3600 or 7200) at the instant `s2k`."""
    year = civil_from_days(s2k // _DAY)[0]
    start, end = summer_time(year)
    return 7200 if start <= s2k < end else 3600


def local(s2k):
    """Wall seconds since 2000 at the instant `s2k`."""
    return s2k + offset(s2k)


def instants(wall):
    """The instants (s2k, earliest first) the wall clock `wall` can mean: two in the hour the
    clocks go back, none in the hour they skip (then the CET reading, as if not yet changed)."""
    summer = wall - 7200
    winter = wall - 3600
    if offset(summer) == 7200:
        if offset(winter) == 3600:
            return summer, winter
        return summer, summer
    return winter, winter


def wall_seconds(text):
    """Wall seconds since 2000 of 'YYYY-MM-DDTHH:MM:SS...' (any offset after it is ignored);
    None when the text is not such a time."""
    try:
        days = days_from_civil(int(text[0:4]), int(text[5:7]), int(text[8:10]))
        return days * _DAY + int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])
    except (ValueError, TypeError, IndexError):
        return None


def iso(s2k):
    """'YYYY-MM-DDTHH:MM:SS+HH:00' in Norwegian local time of the instant `s2k`."""
    off = offset(s2k)
    wall = s2k + off
    year, month, day = civil_from_days(wall // _DAY)
    secs = wall % _DAY
    return "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}+{:02d}:00".format(
        year, month, day, secs // 3600, secs // 60 % 60, secs % 60, off // 3600
    )


def date_iso(days):
    """'YYYY-MM-DD' of a day number since 2000."""
    return "{:04d}-{:02d}-{:02d}".format(*civil_from_days(days))
