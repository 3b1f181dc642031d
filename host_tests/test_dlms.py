"""Information field to reading: LLC, Data-Notification header forms, list layouts, and the
vendor rules (Aidon scalers, Kaifa positions and units, Kamstrup fixed scalers, OBIS lists)."""

import pytest

import hanencode as enc
from hanport import dlms

CLOCK = bytes.fromhex("07e60a0f06140000ff000000")  # 2022-10-15 20:00:00 UTC


def decode_apdu(apdu, llc=True):
    info = enc.llc_pdu(apdu) if llc else apdu
    return dlms.decode_info(info, 0, len(info))


def notification(body, form=enc.DT_ABSENT):
    return enc.data_notification(body, 0x40000000, enc.notification_datetime(CLOCK, form))


def aidon_element(code, value, scaler=None, unit=None):
    parts = [enc.obis(code), value]
    if unit is not None:
        parts.append(enc.scaler_unit(scaler, unit))
    return enc.structure(parts)


def test_header_date_time_in_all_three_forms():
    body = enc.array([aidon_element("1.0.1.7.0.255", enc.uint32(5), 0, 27)])
    for form in (enc.DT_TAGGED, enc.DT_LENGTH):
        reading = decode_apdu(notification(body, form))
        assert reading["meter_datetime"] == "2022-10-15T20:00:00+00:00"
    assert "meter_datetime" not in decode_apdu(notification(body, enc.DT_ABSENT))


def test_llc_header_is_optional_but_checked_when_present():
    body = enc.array([aidon_element("1.0.1.7.0.255", enc.uint32(5), 0, 27)])
    assert decode_apdu(notification(body), llc=False)["active_power_import"] == 5
    bad = b"\xe6\xe6\x00" + notification(body)
    with pytest.raises(ValueError, match="LLC"):
        dlms.decode_info(bad, 0, len(bad))


def test_encrypted_and_block_transfer_apdus_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="encrypted"):
        decode_apdu(b"\xdb\x08" + bytes(30))
    with pytest.raises(ValueError, match="block transfer"):
        decode_apdu(b"\xe0\x40" + bytes(30))
    with pytest.raises(ValueError, match="not a data notification"):
        decode_apdu(b"\xc4\x01" + bytes(30))


def test_every_payload_refusal_number_has_its_own_words():
    # The decoders raise axdr.refusal(number); the words live in rejects (loaded only then).
    from hanport import axdr, rejects

    numbers = [
        getattr(module, name)
        for module in (axdr, dlms)
        for name in dir(module)
        if name.startswith("_R_")
    ]
    assert sorted(numbers) == list(range(len(rejects.PAYLOAD)))
    assert "0x77" in str(axdr.refusal(axdr._R_UNKNOWN_TAG, 0x77))
    assert str(axdr.refusal(dlms._R_LLC)) == "bad LLC header"


def test_aidon_scalers_are_applied():
    body = enc.array(
        [
            aidon_element("1.1.0.2.129.255", enc.visible_string("AIDON_V0001")),
            aidon_element("1.0.31.7.0.255", enc.int16(-51), -1, 33),
            aidon_element("1.0.32.7.0.255", enc.uint16(2435), -1, 35),
            aidon_element("1.0.1.8.0.255", enc.uint32(16377725), 1, 30),
            aidon_element("0.0.1.0.0.255", enc.octet_string(CLOCK)),
            aidon_element("1.0.14.7.0.255", enc.uint16(500), -1, 44),  # frequency: no key
        ]
    )
    reading = decode_apdu(notification(body))
    assert reading == {
        "list_ver_id": "AIDON_V0001",
        "current_l1": -5.1,
        "voltage_l1": 243.5,
        "active_power_import_total": 163777250,
        "meter_datetime": "2022-10-15T20:00:00+00:00",
        "meter_manufacturer": "Aidon",
    }


def test_kaifa_values_by_position_with_units_fixed():
    values = [
        enc.octet_string(b"KFM_001"),
        enc.octet_string(b"6970631401753985"),
        enc.octet_string(b"MA304H3E"),
        enc.uint32(1316), enc.uint32(0), enc.uint32(0), enc.uint32(129),
        enc.int32(1746), enc.int32(4565), enc.int32(4712),
        enc.uint32(2400), enc.uint32(0), enc.uint32(2402),
    ]
    reading = decode_apdu(notification(enc.structure(values), enc.DT_TAGGED))
    assert reading["meter_manufacturer"] == "Kaifa"
    assert reading["current_l1"] == 1.746 and reading["current_l3"] == 4.712
    assert reading["voltage_l3"] == 240.2
    assert reading["meter_type"] == "MA304H3E"


def test_value_only_list_from_an_unknown_meter_is_refused():
    values = [enc.octet_string(b"XYZ1030789"), enc.uint32(1)] + [enc.uint32(0)] * 7
    with pytest.raises(ValueError, match="unknown meter"):
        decode_apdu(notification(enc.structure(values)))
    # An Iskraemeco layout, but with a count none of its layouts has.
    values = [enc.octet_string(b"ISK1030789"), enc.uint32(1)] + [enc.uint32(0)] * 6
    with pytest.raises(ValueError, match="unknown meter"):
        decode_apdu(notification(enc.structure(values)))


def test_kamstrup_pairs_with_fixed_scalers():
    items = [enc.visible_string("Kamstrup_V0001")]
    for code, value in (
        ("1.1.0.0.5.255", enc.visible_string("5706567274389702")),
        ("1.1.96.1.1.255", enc.visible_string("6841121BN243101040")),
        ("1.1.31.7.0.255", enc.uint32(564)),
        ("1.1.32.7.0.255", enc.uint16(232)),
        ("1.1.1.8.0.255", enc.uint32(427244)),
        ("0.1.1.0.0.255", enc.octet_string(CLOCK)),
    ):
        items += [enc.obis(code), value]
    reading = decode_apdu(notification(enc.structure(items), enc.DT_LENGTH))
    assert reading["current_l1"] == 5.64
    assert reading["voltage_l1"] == 232
    assert reading["active_power_import_total"] == 4272440
    assert reading["meter_manufacturer"] == "Kamstrup"


def test_kamstrup_ct_meter_currents_in_milliamperes():
    items = [enc.visible_string("Kamstrup_V0001")]
    for code, value in (
        ("1.1.96.1.1.255", enc.visible_string("6851121BN243101040")),
        ("1.1.31.7.0.255", enc.uint32(5640)),
    ):
        items += [enc.obis(code), value]
    reading = decode_apdu(notification(enc.structure(items)))
    assert reading["current_l1"] == 5.64


def test_generic_obis_list_decodes_per_phase_keys_without_a_vendor():
    body = enc.structure(
        [
            enc.obis("1.0.21.7.0.255"), enc.uint32(100),
            enc.obis("1.0.41.7.0.255"), enc.uint32(200),
            enc.obis("1.0.13.7.0.255"), enc.uint16(98),
        ]
    )
    reading = decode_apdu(notification(body))
    assert reading == {
        "active_power_import_l1": 100,
        "active_power_import_l2": 200,
        "power_factor": 98,
    }


def test_malformed_bodies_raise_value_error():
    for body in (
        enc.uint32(5),  # not a list
        enc.structure([]),  # empty
        enc.array([enc.structure([enc.obis("1.0.1.7.0.255")])]),  # element without value
        enc.array([enc.structure([enc.uint8(1), enc.uint8(2)])]),  # no OBIS code
    ):
        with pytest.raises((ValueError, IndexError)):
            decode_apdu(notification(body))


def capture_object(class_id, code, attribute):
    return enc.structure([enc.uint16(class_id), enc.obis(code), enc.int8(attribute), enc.uint16(0)])


def test_captured_layout_names_values_by_their_capture_objects():
    objects = enc.array(
        [
            capture_object(40, "0.0.25.9.0.255", 2),  # the push's own object list
            capture_object(40, "0.0.25.9.0.255", 1),  # its logical name: not a value
            capture_object(1, "0.0.96.1.0.255", 2),
            capture_object(3, "1.0.1.7.0.255", 2),
            capture_object(3, "1.0.31.7.0.255", 2),
            capture_object(3, "1.0.5.8.0.255", 2),  # reactive energy QI: no canonical key
        ]
    )
    body = enc.structure(
        [
            objects,
            enc.octet_string(bytes.fromhex("0000190900ff")),
            enc.octet_string(b"63326413"),
            enc.uint32(362),
            enc.uint16(51),
            enc.uint32(34671),
        ]
    )
    reading = decode_apdu(notification(body, enc.DT_LENGTH))
    assert reading == {
        "meter_datetime": "2022-10-15T20:00:00+00:00",
        "meter_id": "63326413",
        "active_power_import": 362,
        "current_l1": 0.51,
        "meter_manufacturer": "Landis+Gyr",
    }


def test_captured_layout_with_a_value_count_mismatch_is_refused():
    objects = enc.array([capture_object(40, "0.0.25.9.0.255", 2), capture_object(3, "1.0.1.7.0.255", 2)])
    body = enc.structure([objects, enc.uint32(1), enc.uint32(2)])
    with pytest.raises(ValueError, match="capture objects"):
        decode_apdu(notification(body))
