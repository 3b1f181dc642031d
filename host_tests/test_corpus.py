"""Every real frame of the shared corpus: good ones decode with the stated values, bad ones
are rejected and counted."""

import re
from datetime import datetime

import pytest

import corpus
import hanport

corpus.require()
GOOD = corpus.good_frames(*corpus.NORWEGIAN_VENDORS)
ALL_HDLC = [r for r in corpus.records(*corpus.HDLC_FILES) if r["format"].startswith("hdlc")]
BAD = [r for r in ALL_HDLC if corpus.is_bad_hdlc(r)]
NORWEGIAN_LISTS = [r for r in GOOD if r["country"] == "NO" and r["list"] in ("1", "2", "3")]

# Expected-value labels of the corpus sources, to canonical key and the factor to our unit.
_OBIS_LABEL = re.compile(r"^[01][-.][01][:.](\d+)\.(\d+)\.(\d+)")
_OBIS_KEYS = {
    "0.2.129": "list_ver_id",
    "0.0.5": "meter_id",
    "96.1.0": "meter_id",
    "96.1.1": "meter_type",
    "96.1.7": "meter_type",
    "1.0.0": "meter_datetime",
    "1.7.0": "active_power_import",
    "2.7.0": "active_power_export",
    "3.7.0": "reactive_power_import",
    "4.7.0": "reactive_power_export",
    "31.7.0": "current_l1",
    "51.7.0": "current_l2",
    "71.7.0": "current_l3",
    "32.7.0": "voltage_l1",
    "52.7.0": "voltage_l2",
    "72.7.0": "voltage_l3",
    "21.7.0": "active_power_import_l1",
    "22.7.0": "active_power_export_l1",
    "23.7.0": "reactive_power_import_l1",
    "24.7.0": "reactive_power_export_l1",
    "41.7.0": "active_power_import_l2",
    "42.7.0": "active_power_export_l2",
    "43.7.0": "reactive_power_import_l2",
    "44.7.0": "reactive_power_export_l2",
    "61.7.0": "active_power_import_l3",
    "62.7.0": "active_power_export_l3",
    "63.7.0": "reactive_power_import_l3",
    "64.7.0": "reactive_power_export_l3",
    "1.8.0": "active_power_import_total",
    "2.8.0": "active_power_export_total",
    "3.8.0": "reactive_power_import_total",
    "4.8.0": "reactive_power_export_total",
}
_NAMED = {
    "ams_active_power_import": "active_power_import",
    "ams_active_energy_import": "active_power_import_total",
    "active_energy_import": "active_power_import_total",
}
# Where a source states a value the frame does not carry, with the reason.
SOURCE_ERRORS = {
    ("hassams-aidon-mini", "active_power_import"): "frame carries 06 000002DD = 733 W; test says 734",
    ("ams-kaifa-gh242-1", "voltage_l1"): "amsreader prints the raw 0.1 V count 2322 as volts",
    ("ams-kaifa-gh242-1", "current_l1"): "amsreader prints the raw mA count 32 as amperes",
    ("ams-landis-gyr-gh934-1", "voltage_l1"): "amsreader's 24 V bug (#949): 234 V read as 23.4 V",
    ("ams-landis-gyr-gh934-1", "voltage_l2"): "amsreader's 24 V bug (#949): 235 V read as 23.5 V",
    ("ams-landis-gyr-gh934-1", "voltage_l3"): "amsreader's 24 V bug (#949): 233 V read as 23.3 V",
}
# yusijs/elwiz asserts values in its decoder's own units, per vendor (see expected_origin).
_ELWIZ = {
    "Aidon": {
        "power": ("active_power_import", 1000),
        "powerProduction": ("active_power_export", 1000),
        "currentL1": ("current_l1", 0.1),
        "currentL2": ("current_l2", 0.1),
        "currentL3": ("current_l3", 0.1),
        "voltagePhase1": ("voltage_l1", 0.1),
        "voltagePhase2": ("voltage_l2", 0.1),
        "voltagePhase3": ("voltage_l3", 0.1),
        "lastMeterConsumption": ("active_power_import_total", 1000),
        "meterId": ("meter_id", None),
        "meterType": ("meter_type", None),
    },
    "Kaifa": {
        "powImpActive": ("active_power_import", 1),
        "powExpReactive": ("reactive_power_export", 1),
        "currentL1": ("current_l1", 0.001),
        "currentL3": ("current_l3", 0.001),
        "voltageL1": ("voltage_l1", 0.1),
        "voltageL3": ("voltage_l3", 0.1),
        "accumulatedConsumption": ("active_power_import_total", 1),
    },
}
_UNIT_FACTOR = {"W": 1, "var": 1, "A": 1, "V": 1, "Wh": 1, "varh": 1, "kWh": 1000, "kW": 1000}


def _expectations(record):
    """(key, expected value, absolute tolerance) for what the record's source states."""
    out = []
    for label, stated in record["expected"].items():
        if record["id"].startswith("yusijs-elwiz-"):
            vendor = record["meter"].split()[0]
            key, factor = _ELWIZ.get(vendor, {}).get(label, (None, None))
            if key is None or factor is None:
                continue
            out.append((key, stated * factor, abs(factor) / 2))
            continue
        match = _OBIS_LABEL.match(label)
        key = _OBIS_KEYS.get(".".join(match.groups())) if match else _NAMED.get(label, label)
        if key is None or key.startswith("_"):
            continue
        if key == "meter_datetime":
            out.append((key, datetime.fromisoformat(stated), None))
            continue
        number = re.match(r"^(-?[\d.]+) ?([A-Za-z]*)$", str(stated))
        if number is None or key in ("meter_id", "meter_type", "list_ver_id"):
            out.append((key, stated, None))
            continue
        digits, unit = number.groups()
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        factor = _UNIT_FACTOR.get(unit, 1)
        value = float(digits) * factor
        # amsreader keeps values as float32: allow its rounding on large counters.
        out.append((key, value, max(factor * 0.5 * 10**-decimals, abs(value) * 1.2e-7) + 1e-9))
    return out


@pytest.mark.parametrize("record", GOOD, ids=corpus.ids(GOOD))
def test_good_frame_decodes(record):
    reading = hanport.decode_frame(bytes.fromhex(record["hex"]))
    assert reading, "empty reading"
    assert reading["meter_manufacturer"] in ("Aidon", "Kaifa", "Kamstrup")
    if record["list"] in ("2", "3") and record["country"] == "NO":
        for key in ("meter_id", "active_power_import", "current_l1", "voltage_l1"):
            assert key in reading
    if record["list"] == "3":
        assert "active_power_import_total" in reading
        assert "meter_datetime" in reading


@pytest.mark.parametrize("record", GOOD, ids=corpus.ids(GOOD))
def test_good_frame_comes_out_of_the_stream_reader(record):
    out = []
    reader = hanport.Reader(out.append)
    reader.feed(bytes.fromhex(record["hex"]))
    assert out == [hanport.decode_frame(bytes.fromhex(record["hex"]))]
    assert reader.stats.frames_ok == 1 and reader.stats.skipped_bytes == 0


WITH_EXPECTED = [r for r in GOOD if r.get("expected")]


@pytest.mark.parametrize("record", WITH_EXPECTED, ids=corpus.ids(WITH_EXPECTED))
def test_values_equal_what_the_source_states(record):
    reading = hanport.decode_frame(bytes.fromhex(record["hex"]))
    checked = 0
    for key, expected, tolerance in _expectations(record):
        if record["id"].startswith("ams-") and expected == 0 and key not in reading:
            continue  # amsreader prints 0 for "not in this frame"
        if (record["id"], key) in SOURCE_ERRORS:
            checked += 1
            continue
        if record["id"].startswith("ams-") and key not in reading and record["list"] != "3":
            continue  # amsreader's output keeps the energy of an earlier hourly list
        assert key in reading, key
        got = reading[key]
        if key == "meter_datetime":
            got = datetime.fromisoformat(got).replace(tzinfo=None)
            assert got == expected.replace(tzinfo=None)
        elif tolerance is None:
            assert got == expected, key
        else:
            assert abs(got - expected) <= tolerance, (key, got, expected)
        checked += 1
    assert checked, "no stated value could be checked"


def test_every_norwegian_list_is_in_the_corpus():
    seen = {(r["file"], r["list"]) for r in NORWEGIAN_LISTS}
    for vendor, lists in (("aidon", "123"), ("kaifa", "123"), ("kamstrup", "23")):
        for number in lists:
            assert (vendor, number) in seen


@pytest.mark.parametrize("record", BAD, ids=corpus.ids(BAD))
def test_bad_frame_is_rejected_and_counted(record):
    raw = bytes.fromhex(record["hex"])
    out = []
    reader = hanport.Reader(out.append)
    reader.feed(raw)
    reader.feed(b"\x7e")  # a following frame's flag ends a frame that lacked its own
    assert out == []
    stats = reader.stats
    rejected = stats.hcs_errors + stats.fcs_errors + stats.truncated + stats.bad_format
    pending = record.get("truncated") or not raw.startswith(b"\x7e")
    assert rejected >= 1 or (pending and stats.skipped_bytes + rejected >= 0)
    with pytest.raises(ValueError):
        hanport.decode_frame(raw)


def test_corrupted_fixtures_count_the_right_check():
    for record in BAD:
        if record["origin"] != "test-corruption":
            continue
        reader = hanport.Reader(lambda reading: None)
        reader.feed(bytes.fromhex(record["hex"]))
        if record["hcs_ok"] is False:
            assert reader.stats.hcs_errors == 1, record["id"]
        else:
            assert reader.stats.fcs_errors == 1, record["id"]


def test_frames_without_a_known_layout_are_undecodable_not_errors():
    others = [r for r in ALL_HDLC if corpus.is_good_hdlc(r) and r["file"] != "aidon"]
    for record in others:
        reader = hanport.Reader(lambda reading: None)
        reader.feed(bytes.fromhex(record["hex"]))
        stats = reader.stats
        assert stats.hcs_errors == stats.fcs_errors == 0, record["id"]


def _check_expected(record, reading):
    for key, expected, tolerance in _expectations(record):
        if (record["id"], key) in SOURCE_ERRORS or (expected == 0 and key not in reading):
            continue
        if tolerance is None:
            assert reading[key] == expected, key
        else:
            assert abs(reading[key] - expected) <= tolerance, (key, reading[key], expected)


def test_landis_gyr_push_over_block_transfer_decodes():
    """Three HDLC frames, each one GBT block; joined they are a push of capture objects and
    values without scalers (Landis+Gyr E450, CH)."""
    record = [r for r in ALL_HDLC if r["id"] == "ams-landis-gyr-gh740"][0]
    out = []
    reader = hanport.Reader(out.append)
    reader.feed(bytes.fromhex(record["hex"]))
    assert len(out) == 1 and reader.stats.frames_ok == 1
    reading = out[0]
    assert reading["meter_manufacturer"] == "Landis+Gyr"
    _check_expected(record, reading)
    assert reading["current_l1"] == 0.51 and reading["meter_id"] == "63326413"


def test_landis_gyr_joined_push_with_per_phase_power_and_integer_volts():
    from hanport import dlms

    record = [r for r in corpus.records("landis_gyr") if r["id"] == "ams-landis-gyr-gh934-1"][0]
    apdu = bytes.fromhex(record["hex"])
    reading = dlms.decode_info(apdu, 0, len(apdu))
    _check_expected(record, reading)
    assert reading["voltage_l1"] == 234
    phases = ("active_power_import_l1", "active_power_import_l2", "active_power_import_l3")
    assert sum(reading[k] for k in phases) == reading["active_power_import"]
