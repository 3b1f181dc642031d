"""COSEM date-time to ISO 8601."""

from hanport.axdr import iso_datetime


def test_date_time_with_utc_deviation_gives_an_offset():
    raw = bytes.fromhex("07e60a0f06140000ff000000")  # 2022-10-15 20:00:00, deviation 0
    assert iso_datetime(raw, 0) == "2022-10-15T20:00:00+00:00"


def test_deviation_is_utc_minus_local():
    raw = bytes.fromhex("07e5031702123200ffffc400")  # deviation -60: local is UTC+1
    assert iso_datetime(raw, 0) == "2021-03-23T18:50:00+01:00"


def test_unspecified_deviation_gives_local_time():
    raw = bytes.fromhex("07e1090c02171218ff800000")
    assert iso_datetime(raw, 0) == "2017-09-12T23:18:24"


def test_unspecified_date_gives_none():
    assert iso_datetime(bytes.fromhex("ffff0c0102171218ff800000"), 0) is None
    assert iso_datetime(bytes.fromhex("07e1ff0c02171218ff800000"), 0) is None


def test_unspecified_seconds_read_as_zero():
    assert iso_datetime(bytes.fromhex("07e1090c021712ffff800000"), 0) == "2017-09-12T23:18:00"


def test_reads_at_an_offset():
    raw = b"\x00\x00" + bytes.fromhex("07e1090c02171218ff800000")
    assert iso_datetime(raw, 2) == "2017-09-12T23:18:24"
