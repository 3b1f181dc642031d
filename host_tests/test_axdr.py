"""A-XDR decoding of every data type, built by the project's encoder."""

import pytest

import hanencode as enc
from hanport import axdr


def decode(data):
    cur = axdr.Cursor()
    cur.reset(data, 0, len(data))
    value = cur.value()
    assert cur.pos == len(data)
    return value


@pytest.mark.parametrize(
    "encoded, value",
    [
        (enc.uint32(4_000_000_000), 4_000_000_000),
        (enc.int32(-5), -5),
        (enc.uint16(65535), 65535),
        (enc.int16(-32768), -32768),
        (enc.uint8(200), 200),
        (enc.int8(-1), -1),
        (enc.enum(27), 27),
        (enc.uint64(2**63 + 5), 2**63 + 5),
        (enc.int64(-(2**40)), -(2**40)),
        (enc.boolean(True), True),
        (enc.null(), None),
        (enc.float32(1.5), 1.5),
        (enc.float64(-2.25), -2.25),
        (enc.visible_string("AIDON_V0001"), "AIDON_V0001"),
        (enc.octet_string(b"KFM_001"), "KFM_001"),
        (enc.utf8_string("Målar"), "Målar"),
    ],
)
def test_simple_values(encoded, value):
    assert decode(encoded) == value


def test_binary_octet_string_becomes_hex():
    assert decode(enc.octet_string(b"\xff\x00\x81")) == "ff0081"


def test_long_length_forms():
    for size in (127, 128, 255, 256, 1000):
        text = "x" * size
        assert decode(enc.visible_string(text)) == text


def test_bit_strings_up_to_64_bits_are_numbers_and_longer_ones_are_passed_over():
    assert decode(enc.bit_string("1010")) == 0b10100000  # padded to whole bytes, as sent
    assert decode(enc.bit_string("1" * 64)) == 2**64 - 1
    # A longer one has no number, but its bytes are passed over: the item after it is read.
    data = enc.bit_string("10" * 40) + enc.uint16(7)
    cur = axdr.Cursor()
    cur.reset(data, 0, len(data))
    assert cur.value() is None
    assert cur.value() == 7


def test_skip_walks_nested_containers():
    item = enc.structure([enc.array([enc.uint8(1), enc.octet_string(b"ab")]), enc.date_time(bytes(12))])
    data = item + enc.uint16(7)
    cur = axdr.Cursor()
    cur.reset(data, 0, len(data))
    cur.skip()
    assert cur.value() == 7


def test_truncated_data_raises_value_error():
    data = enc.uint32(1)[:-1]
    cur = axdr.Cursor()
    cur.reset(data, 0, len(data))
    with pytest.raises(ValueError):
        cur.value()


def test_unknown_tag_raises_value_error():
    for method in ("value", "skip"):
        cur = axdr.Cursor()
        cur.reset(b"\x77\x00", 0, 2)
        with pytest.raises(ValueError, match="0x77"):
            getattr(cur, method)()


def test_nesting_is_bounded():
    data = b"\x02\x01" * 20 + b"\x00"
    cur = axdr.Cursor()
    cur.reset(data, 0, len(data))
    with pytest.raises(ValueError, match="deep"):
        cur.skip()
