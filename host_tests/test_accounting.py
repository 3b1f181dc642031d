"""Every frame is accounted for (the rule in firmware/hanport/reader.py).

A frame whose checksums verify adds exactly one to exactly one of frames_ok, undecodable and
push_frames; a push that is given up adds one to `abandoned` with its reason in last_error.
These tests feed good frames one at a time and check that after each one."""

from hypothesis import example, given, strategies as st

import hanencode as enc
import hanport
from hanport import hdlc

COUNTERS = ("frames_ok", "undecodable", "push_frames")


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def counts(reader):
    stats = reader.stats
    return [getattr(stats, name) for name in COUNTERS]


def feed_accounted(reader, frames):
    """Feed frames one by one; each must move exactly one counter by exactly one."""
    for frame in frames:
        before = counts(reader)
        reader.feed(frame)
        moved = [b - a for a, b in zip(before, counts(reader))]
        assert sorted(moved) == [0, 0, 1], (frame.hex(), dict(zip(COUNTERS, moved)))


def reading_frame(power):
    return enc.build_frame("Aidon", {"active_power_import": power})


def gbt_frames(power=77, block_size=9):
    apdu = enc.apdu("Aidon", {"active_power_import": power, "current_l1": 1.5})[3:]
    blocks = enc.gbt_blocks(apdu, block_size)
    return [enc.hdlc_frame(enc.llc_pdu(blocks[0]))] + [enc.hdlc_frame(b) for b in blocks[1:]]


def block(number, data, last=False):
    """One GBT block, without the LLC header (E0 | control | number | ack | length | data)."""
    control = 0x80 if last else 0x00
    return bytes((0xE0, control, number >> 8, number & 0xFF, 0, 0, len(data))) + data


def test_empty_blocks_found_by_hypothesis_are_counted():
    """The two examples that made `make test` fail at random: a block with no data, not last."""
    for info in (bytes.fromhex("e0000000000000"), bytes.fromhex("e0400000000100")):
        reader = hanport.Reader(lambda r: None)
        feed_accounted(reader, [enc.hdlc_frame(info)])
        assert reader.stats.undecodable == 1 and not reader.push_pending
        assert "block" in str(reader.last_error)


def test_a_whole_push_holds_its_parts_and_gives_one_reading():
    out = []
    reader = hanport.Reader(out.append)
    frames = gbt_frames()
    feed_accounted(reader, frames)
    assert len(out) == 1 and reader.stats.push_frames == len(frames) - 1
    assert reader.stats.abandoned == 0 and not reader.push_pending


def test_segments_hold_their_parts_and_give_one_reading():
    out = []
    reader = hanport.Reader(out.append)
    info = enc.apdu("Aidon", {"active_power_import": 42, "current_l1": 1.5, "voltage_l1": 230.1})
    segments = enc.hdlc_segments(info, 16)
    feed_accounted(reader, segments)
    assert len(out) == 1 and reader.stats.push_frames == len(segments) - 1


def abandoned_by(frames, clock=None, buffer_size=2048):
    reader = hanport.Reader(lambda r: None, buffer_size, **({"clock": clock} if clock else {}))
    feed_accounted(reader, frames)
    return reader


def test_a_new_push_gives_up_the_one_before():
    first = gbt_frames(power=1)
    reader = abandoned_by(first[:2] + gbt_frames(power=2))
    assert reader.stats.abandoned == 1 and reader.stats.frames_ok == 1


def test_a_block_out_of_order_gives_up_the_push_and_is_rejected():
    frames = gbt_frames()
    reader = abandoned_by([frames[0], frames[2]])
    assert reader.stats.abandoned == 1 and reader.stats.undecodable == 1
    assert not reader.push_pending and "without the blocks before it" in str(reader.last_error)


def test_a_block_with_no_data_gives_up_the_push():
    frames = gbt_frames()
    reader = abandoned_by([frames[0], enc.hdlc_frame(block(2, b""))])
    assert reader.stats.abandoned == 1 and reader.stats.undecodable == 1
    assert "no data" in str(reader.last_error)


def test_a_block_without_its_start_is_rejected():
    reader = abandoned_by([enc.hdlc_frame(block(5, b"\x01\x02"))])
    assert reader.stats.undecodable == 1 and reader.stats.abandoned == 0


def test_a_whole_frame_in_the_middle_gives_up_the_push():
    frames = gbt_frames()
    reader = abandoned_by(frames[:2] + [reading_frame(5)])
    assert reader.stats.abandoned == 1 and reader.stats.frames_ok == 1


def test_a_push_that_never_ends_is_given_up_after_the_timeout():
    clock = Clock()
    frames = gbt_frames()
    reader = abandoned_by(frames[:2], clock)
    assert reader.push_pending
    clock.ms += hdlc.PUSH_TIMEOUT_MS
    reader.expire()
    assert reader.push_pending  # not late yet
    clock.ms += 1
    reader.expire()
    assert not reader.push_pending and reader.stats.abandoned == 1
    assert "timed out" in str(reader.last_error)
    out = []
    reader._on_reading = out.append
    feed_accounted(reader, [reading_frame(7)])  # the framer is back to a clean start
    assert [r["active_power_import"] for r in out] == [7]


def test_a_late_part_after_the_timeout_is_a_counted_stray():
    clock = Clock()
    frames = gbt_frames()
    reader = abandoned_by(frames[:2], clock)
    clock.ms += hdlc.PUSH_TIMEOUT_MS + 1
    feed_accounted(reader, frames[2:3])  # feed() checks the time before the bytes
    assert reader.stats.abandoned == 1 and reader.stats.undecodable == 1


def test_a_push_too_large_for_the_buffer_is_given_up_and_the_next_frame_kept():
    out = []
    reader = hanport.Reader(out.append, buffer_size=128)
    first = enc.hdlc_frame(enc.llc_pdu(block(1, bytes(100))))
    feed_accounted(reader, [first])
    assert reader.push_pending
    feed_accounted(reader, [reading_frame(3)])  # 100 held + this frame > 128 bytes
    assert reader.stats.abandoned == 1 and [r["active_power_import"] for r in out] == [3]


def test_a_bad_frame_breaks_hdlc_segments():
    info = enc.apdu("Aidon", {"active_power_import": 42, "current_l1": 1.5})
    first, second = enc.hdlc_segments(info, 20)[:2]
    reader = abandoned_by([first])
    bad = bytearray(second)
    bad[-3] ^= 0xFF
    reader.feed(bytes(bad))
    assert reader.stats.abandoned == 1 and reader.stats.fcs_errors == 1


def test_an_empty_segment_gives_up_the_push_and_is_rejected():
    info = enc.apdu("Aidon", {"active_power_import": 42, "current_l1": 1.5})
    first = enc.hdlc_segments(info, 20)[0]
    reader = abandoned_by([first, enc.hdlc_frame(b"", segmented=True)])
    assert reader.stats.abandoned == 1 and reader.stats.undecodable == 1
    assert "without data" in str(reader.last_error)


block_info = st.builds(
    lambda control, number, size, data: bytes(
        (0xE0, control, number >> 8, number & 0xFF, 0, 0, size)
    )
    + data,
    st.sampled_from((0x00, 0x40, 0x80, 0xC0)),
    st.integers(min_value=0, max_value=4),
    st.integers(min_value=0, max_value=0x84),
    st.binary(max_size=40),
)
infos = st.one_of(
    block_info,
    block_info.map(enc.llc_pdu),
    st.binary(min_size=1, max_size=60),
    st.binary(max_size=60).map(lambda b: b"\xe6\xe7\x00" + b),
)


@given(st.lists(st.tuples(infos, st.booleans()), min_size=1, max_size=12))
@example([(bytes.fromhex("e0000000000000"), False)])
@example([(bytes.fromhex("e0400000000100"), False)])
def test_any_sequence_of_good_frames_is_accounted_for(parts):
    reader = hanport.Reader(lambda r: None, buffer_size=256)
    frames = []
    for info, segmented in parts:
        frames.append(enc.hdlc_frame(info, segmented=segmented))
    feed_accounted(reader, frames)
    assert reader.pending_bytes <= 256


def test_the_meter_poller_gives_up_a_push_while_the_line_is_quiet():
    import uartsrc

    class QuietUART:
        def any(self):
            return 0

    clock = Clock()
    reader = abandoned_by(gbt_frames()[:1], clock)
    source = uartsrc.MeterSource(QuietUART(), reader)
    source.poll()
    assert reader.push_pending
    clock.ms += hdlc.PUSH_TIMEOUT_MS + 1
    source.poll()
    assert not reader.push_pending and reader.stats.abandoned == 1
