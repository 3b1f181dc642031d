"""hanport.p1: P1/DSMR telegrams decode onto the HDLC vocabulary, CRCs are checked.

Every P1 record of the corpus either decodes (and agrees with its stated values and with the
`dsmr_parser` package on every value both read) or is rejected with the reason its record
states: a bad CRC, a missing end, or a DSMR 4+ telegram without its CRC.
"""

import datetime
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

import corpus
import sensors
from hanport import obis, p1

RECORDS = [r for r in corpus.records("p1") if r.get("text")]
TEXT_KEYS = ("meter_manufacturer", "meter_type", "meter_id", "meter_datetime")


def telegram(text):
    raw = bytearray(text.encode("latin-1"))
    start = raw.index(b"/")
    return raw, start


def decode(text):
    raw, start = telegram(text)
    return p1.decode(raw, start, len(raw))


def rejection(record):
    """The reason a corpus record must be rejected for, or None when it must decode."""
    text = record["text"]
    if record.get("crc_ok") is False:
        return "bad CRC"
    if "!" not in text:
        return "closing '!'"
    if "1-3:0.2.8(42)" in text and record.get("crc_ok") is None:
        return "requires a CRC"
    return None


@pytest.mark.parametrize("record", RECORDS, ids=corpus.ids(RECORDS))
def test_corpus_telegram_decodes_or_is_rejected_for_its_stated_reason(record):
    reason = rejection(record)
    if reason is not None:
        with pytest.raises(ValueError, match=reason):
            decode(record["text"])
        return
    reading = decode(record["text"])
    assert any(key not in TEXT_KEYS for key in reading)
    for key, value in reading.items():
        if key not in TEXT_KEYS:
            row = sensors.quantity(key)
            assert row is not None, key  # every numeric key has its unit in sensors.py
            unit = row[1]
            # The value was stored in the key's unit (Home Assistant writes cubic metres m³).
            assert p1._unit_of(key) == unit.replace("m³", "m3"), key
            assert isinstance(value, (int, float)), key


STATED_KEYS = {"active_energy_import": ("active_power_import_total", 1000)}
WITH_EXPECTED = [r for r in RECORDS if r.get("expected")]


@pytest.mark.parametrize("record", WITH_EXPECTED, ids=corpus.ids(WITH_EXPECTED))
def test_corpus_telegram_gives_the_values_its_source_states(record):
    reading = decode(record["text"])
    checked = 0
    for name, stated in record["expected"].items():
        if name.startswith("_"):
            continue
        if name == "meter_id":
            assert reading["meter_id"] == stated
            checked += 1
            continue
        number = float(stated.split()[0])
        key, factor = STATED_KEYS.get(name, (name, 1))
        assert reading[key] == pytest.approx(number * factor, abs=1e-6), name
        checked += 1
    assert checked >= 8


def test_every_changed_character_fails_the_crc():
    record = next(r for r in RECORDS if r["id"] == "ams-kamstrup-gh578-1")
    raw, start = telegram(record["text"])
    bang = raw.index(b"!")
    for at in range(start, bang, 7):
        bad = bytearray(raw)
        bad[at] ^= 0x04
        with pytest.raises(ValueError, match="bad CRC"):
            p1.decode(bad, start, len(bad))


def test_a_telegram_of_unknown_lines_only_is_rejected():
    body = b"/ABC5 test\r\n\r\n0-0:96.13.0()\r\n1-0:99.99.9(12*kW)\r\n!"
    text = body + b"%04X\r\n" % p1.crc16_arc(body, 0, len(body))
    with pytest.raises(ValueError, match="no known values"):
        p1.decode(bytearray(text), 0, len(text))


def test_a_value_in_the_wrong_unit_is_left_out():
    body = b"/ABC5 test\r\n\r\n1-0:1.7.0(1.5*kWh)\r\n1-0:2.7.0(0.250*kW)\r\n!"
    text = body + b"%04X\r\n" % p1.crc16_arc(body, 0, len(body))
    reading = p1.decode(bytearray(text), 0, len(text))
    assert "active_power_import" not in reading
    assert reading["active_power_export"] == 250


# dsmr_parser's line signatures (C.D.E, with the channel for M-Bus lines) to our keys.
def dsmr_values(text):
    from dsmr_parser import telegram_specifications
    from dsmr_parser.parsers import TelegramParser

    parser = TelegramParser(telegram_specifications.V5, apply_checksum_validation=False)
    out = {}
    for signature, obj in parser.parse(text).items():
        code = signature.replace("\\", "").replace("^d-d:", "").split(".+?")[0]
        value = getattr(obj, "value", None)
        if code.startswith("24.2.1") or code.startswith("24.2.3"):
            values = getattr(obj, "values", None)
            value = values[-1]["value"] if values else value
        out[code] = (value, getattr(obj, "unit", None))
    return out


def our_key(code):
    parts = code.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return obis.KEYS.get(obis.obis_id(1, int(parts[0]), int(parts[1]), int(parts[2])))


SCALE = {"kW": 1000, "kWh": 1000, "kvar": 1000, "kvarh": 1000}


def test_agrees_with_dsmr_parser_on_every_value_both_read():
    compared = 0
    telegrams = 0
    for record in RECORDS:
        if rejection(record) is not None:
            continue
        ours = decode(record["text"])
        theirs = dsmr_values(record["text"])
        telegrams += 1
        for code, (value, unit) in theirs.items():
            if code == "1.0.0" and isinstance(value, datetime.datetime):
                if "meter_datetime" in ours:
                    # dsmr_parser ignores the W/S flag and assumes Dutch time: compare the
                    # wall-clock time the meter wrote.
                    mine = datetime.datetime.fromisoformat(ours["meter_datetime"])
                    local = value.astimezone(ZoneInfo("Europe/Amsterdam"))
                    assert mine.replace(tzinfo=None) == local.replace(tzinfo=None), record["id"]
                    compared += 1
                continue
            key = our_key(code)
            if code.startswith("24.2"):
                key = "gas_volume" if "gas_volume" in ours else None
            if key is None or key not in ours or not isinstance(value, Decimal) or unit is None:
                continue
            factor = SCALE.get(unit.replace("VAr", "var").replace("KW", "kW"), 1)
            want = float(value) * factor
            assert ours[key] == pytest.approx(want, rel=1e-9), (record["id"], code)
            compared += 1
    assert telegrams >= 20
    assert compared >= 300, json.dumps(compared)
