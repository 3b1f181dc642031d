"""The streaming framer, on frames built by the project's own encoder (tools/hanencode.py)."""

import pytest

import hanencode as enc
import hanport
from hanport import hdlc
from hanport.hdlc import crc16

READING = {"active_power_import": 1234}


def frame(power=1234, **options):
    return enc.build_frame("Aidon", {"active_power_import": power}, **options)


def feed_all(data, chunk=None, buffer_size=2048):
    out = []
    reader = hanport.Reader(out.append, buffer_size)
    if chunk is None:
        reader.feed(data)
    else:
        for i in range(0, len(data), chunk):
            reader.feed(data[i : i + chunk])
    return out, reader.stats


def test_crc16_check_value():
    assert crc16(b"123456789", 0, 9) == 0x906E


def test_frame_split_at_every_position_gives_one_reading():
    data = frame()
    for cut in range(len(data) + 1):
        out = []
        reader = hanport.Reader(out.append)
        reader.feed(data[:cut])
        reader.feed(memoryview(data)[cut:])
        assert out == [{"active_power_import": 1234, "meter_manufacturer": "Aidon"}], cut


def test_accepts_bytes_bytearray_and_memoryview():
    data = frame()
    for kind in (bytes, bytearray, memoryview):
        out, _ = feed_all(kind(data))
        assert len(out) == 1


def test_frames_sharing_one_flag_and_doubled_flags_all_decode():
    a, b, c = frame(1), frame(2), frame(3)
    out, stats = feed_all(a + b[1:] + b"\x7e" + c, chunk=5)
    assert [r["active_power_import"] for r in out] == [1, 2, 3]
    assert stats.skipped_bytes == 0


def test_flag_byte_inside_a_frame_is_data():
    data = frame(0x7E7E7E7E)
    assert data.count(b"\x7e") > 2
    out, _ = feed_all(data, chunk=1)
    assert out[0]["active_power_import"] == 0x7E7E7E7E


def test_rejects_bad_fcs_and_keeps_the_next_frame():
    bad = bytearray(frame(1))
    bad[-4] ^= 0x01  # a payload byte: FCS no longer matches
    out, stats = feed_all(bytes(bad) + frame(2))
    assert [r["active_power_import"] for r in out] == [2]
    assert stats.fcs_errors == 1


def test_rejects_bad_hcs_and_keeps_the_next_frame():
    bad = bytearray(frame(1))
    bad[8] ^= 0xFF  # the HCS itself
    out, stats = feed_all(bytes(bad) + frame(2), chunk=3)
    assert [r["active_power_import"] for r in out] == [2]
    assert stats.hcs_errors == 1


def test_garbage_between_frames_is_skipped_and_counted():
    junk = b"\x00\x01\xa0\x13garbage\xff"
    out, stats = feed_all(junk + frame(1) + junk + frame(2), chunk=7)
    assert [r["active_power_import"] for r in out] == [1, 2]
    assert stats.skipped_bytes == 2 * len(junk)


def test_good_frame_inside_a_truncated_one_is_found_again():
    long_frame = enc.build_frame(
        "Aidon",
        {"list_ver_id": "AIDON_V0001", "meter_id": "7359992890941742", "meter_type": "6515",
         "active_power_import": 1, "active_power_export": 0, "reactive_power_import": 0,
         "reactive_power_export": 0, "current_l1": 1.0, "voltage_l1": 230.0},
    )
    cut = long_frame[:40]  # its length field promises far more than arrives
    # The cut frame is known bad only once its length has arrived; then the frames it
    # swallowed are scanned again.
    out, stats = feed_all(cut + frame(7) + frame(8) + frame(9) * 3, chunk=16)
    assert [r["active_power_import"] for r in out] == [7, 8, 9, 9, 9]
    assert stats.truncated + stats.fcs_errors >= 1


def test_oversized_frame_is_refused_and_counted():
    big = frame(5)
    out, stats = feed_all(b"\x7e\xa7\xff" + big, buffer_size=128)
    assert [r["active_power_import"] for r in out] == [5]
    assert stats.oversized == 1


def test_frame_length_below_the_minimum_is_a_bad_format():
    out, stats = feed_all(b"\x7e\xa0\x03\x00" + frame(5))
    assert len(out) == 1 and stats.bad_format == 1


def test_missing_closing_flag_is_truncated():
    data = bytearray(frame(1))
    data[-1] = 0x00
    out, stats = feed_all(bytes(data) + frame(2))
    assert [r["active_power_import"] for r in out] == [2]
    assert stats.truncated == 1


def test_segmented_frames_are_reassembled():
    reading = {"active_power_import": 42, "current_l1": 1.5, "voltage_l1": 231.0,
               "active_power_export": 0}
    info = enc.apdu("Aidon", reading)
    segments = enc.hdlc_segments(info, 20)
    assert len(segments) > 2 and segments[0][1] & 0x08 and not segments[-1][1] & 0x08
    whole = hanport.decode_frame(enc.hdlc_frame(info))
    for chunk in (1, 13, 1000):
        out, stats = feed_all(b"".join(segments), chunk=chunk)
        assert out == [whole]
        assert stats.frames_ok == 1


def test_interrupted_segments_are_dropped_and_counted():
    info = enc.apdu("Aidon", {"active_power_import": 42, "current_l1": 1.5})
    first = enc.hdlc_segments(info, 20)[0]
    out, stats = feed_all(first + b"\x55" + frame(9))
    assert [r["active_power_import"] for r in out] == [9]
    assert stats.abandoned == 1 and stats.push_frames == 1 and stats.truncated == 0


def test_undecodable_payload_is_counted_not_raised():
    out, stats = feed_all(enc.hdlc_frame(b"\xe6\xe7\x00\xdb\x08" + bytes(40)) + frame(3))
    assert [r["active_power_import"] for r in out] == [3]
    assert stats.undecodable == 1


def test_buffer_is_allocated_once():
    reader = hanport.Reader(lambda r: None, buffer_size=512)
    buf = reader._framer._buf
    for _ in range(3):
        reader.feed(frame() + b"junk" + b"\x7e\xa7\xff")
    assert reader._framer._buf is buf and len(buf) == 512


def test_buffer_size_has_a_floor():
    with pytest.raises(ValueError):
        hanport.Reader(lambda r: None, buffer_size=8)


def test_header_with_four_byte_addresses():
    data = frame(11, dest=b"\x00\x02\x00\x23", src=b"\x00\x00\x00\x03")
    out, _ = feed_all(data, chunk=2)
    assert out[0]["active_power_import"] == 11


def test_address_without_end_bit_is_a_bad_format():
    info = enc.apdu("Aidon", {"active_power_import": 1})
    good = enc.hdlc_frame(info)
    bad = bytearray(good)
    bad[3] = 0x40  # destination address loses its end bit: the header runs into the data
    assert hdlc.check_frame(bad, 1, len(bad) - 1) in (hdlc.BAD_FORMAT, hdlc.BAD_HCS)


def test_decode_frame_gives_clear_errors():
    good = frame(1)
    with pytest.raises(ValueError, match="7E"):
        hanport.decode_frame(good[1:])
    with pytest.raises(ValueError, match="length"):
        hanport.decode_frame(good[:-2] + b"\x7e")
    bad = bytearray(good)
    bad[-3] ^= 1
    with pytest.raises(ValueError, match="FCS"):
        hanport.decode_frame(bytes(bad))
    with pytest.raises(ValueError, match="segmented"):
        hanport.decode_frame(enc.hdlc_segments(enc.apdu("Aidon", READING), 8)[0])


def gbt_frames(power=77, block_size=9):
    """An Aidon-layout APDU pushed as General Block Transfer, LLC only in the first frame."""
    apdu = enc.apdu("Aidon", {"active_power_import": power, "current_l1": 1.5})[3:]
    blocks = enc.gbt_blocks(apdu, block_size)
    return [enc.hdlc_frame(enc.llc_pdu(blocks[0]))] + [enc.hdlc_frame(b) for b in blocks[1:]]


def test_general_block_transfer_blocks_are_joined():
    frames = gbt_frames()
    assert len(frames) > 3
    for chunk in (1, 7, 1000):
        out, stats = feed_all(b"".join(frames), chunk=chunk)
        assert [r["active_power_import"] for r in out] == [77]
        assert stats.abandoned == 0 and stats.push_frames == len(frames) - 1


def test_noise_and_bad_frames_between_blocks_do_not_break_the_join():
    frames = gbt_frames()
    bad = bytearray(frame(5))
    bad[-4] ^= 1
    data = frames[0] + b"noise" + frames[1] + bytes(bad) + b"".join(frames[2:])
    out, stats = feed_all(data, chunk=5)
    assert [r["active_power_import"] for r in out] == [77]
    assert stats.fcs_errors == 1


def test_a_lost_block_drops_the_push_and_counts_it():
    frames = gbt_frames()
    out, stats = feed_all(b"".join(frames[:1] + frames[2:]) + frame(6))
    assert [r["active_power_import"] for r in out] == [6]
    assert stats.abandoned == 1
    # The blocks after the gap have no push to join: each is a counted reject.
    assert stats.undecodable == len(frames) - 2 and stats.push_frames == 1


def test_a_new_apdu_in_the_middle_of_a_push_is_delivered():
    frames = gbt_frames()
    out, stats = feed_all(frames[0] + frames[1] + frame(8) + b"".join(gbt_frames(power=9)))
    assert [r["active_power_import"] for r in out] == [8, 9]
    assert stats.abandoned == 1 and stats.truncated == 0


def test_a_single_block_is_refused_by_decode_frame():
    with pytest.raises(ValueError, match="block transfer"):
        hanport.decode_frame(gbt_frames()[0])
