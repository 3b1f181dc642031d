"""The parser stays within its RAM budget on MicroPython, measured in the WebAssembly VM.

The dongle has about 100 KB of heap for everything, and the reader runs for months: waiting
for bytes must not allocate, one frame may allocate at most FRAME_BUDGET_BYTES (its reading
included), and nothing may stay behind. Figures come from gc.mem_alloc() deltas in
tools/parser_probe.py (one VM run for the whole file); its per-frame numbers are in the
failure message, and `make bench` prints them.
"""

import pytest

import corpus
import mpvm

corpus.require()
FRAME_BUDGET_BYTES = 1536
LEAK_FRAMES = 10000
NORWEGIAN_LISTS = [
    r
    for r in corpus.good_frames(*corpus.NORWEGIAN_VENDORS)
    if r["country"] == "NO" and r["list"] in ("1", "2", "3") and r.get("hcs_ok") is True
]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Per-frame lines by id, the leak line and the leaking self-check line."""
    frames = mpvm.write_frames(tmp_path_factory.mktemp("vm_memory") / "no.jsonl", NORWEGIAN_LISTS)
    lines = mpvm.probe("memory", frames, LEAK_FRAMES, data=[frames])
    per_frame = {line["id"]: line for line in lines if "id" in line}
    leak = [line for line in lines if line.get("leaky") is False]
    leaky = [line for line in lines if line.get("leaky") is True]
    assert len(per_frame) == len(NORWEGIAN_LISTS) and len(leak) == 1 and len(leaky) == 1
    return per_frame, leak[0], leaky[0]


def table(per_frame, field):
    rows = sorted(per_frame.values(), key=lambda line: -line[field])
    return "\n".join("%6d B  %s (%d bytes)" % (r[field], r["id"], r["frame_len"]) for r in rows)


def test_corpus_has_norwegian_frames_of_every_list():
    lists = {(r["file"], r["list"]) for r in NORWEGIAN_LISTS}
    assert {("aidon", "1"), ("kaifa", "1"), ("kamstrup", "2"), ("kamstrup", "3")} <= lists


def test_measurement_region_itself_allocates_nothing(measured):
    per_frame, _, _ = measured
    assert {line["empty_region"] for line in per_frame.values()} == {0}


def test_every_measured_frame_was_decoded(measured):
    per_frame, _, _ = measured
    # warm-up, chunked and byte-wise feeds: three readings from each frame
    assert {line["frames_ok"] for line in per_frame.values()} == {3}
    assert all(line["keys"] >= 1 for line in per_frame.values())


def test_bytes_that_do_not_complete_a_frame_allocate_nothing(measured):
    per_frame, _, _ = measured
    for field in ("noise", "partial_chunk", "partial_bytewise"):
        over = {i: line[field] for i, line in per_frame.items() if line[field] != 0}
        assert not over, "%s allocated bytes (per frame id): %s" % (field, over)


@pytest.mark.parametrize("field", ["frame_chunked", "frame_bytewise", "decode_frame"])
def test_one_frame_allocates_at_most_the_budget(measured, field):
    per_frame, _, _ = measured
    worst = max(line[field] for line in per_frame.values())
    assert worst <= FRAME_BUDGET_BYTES, "%s over %d B:\n%s" % (
        field,
        FRAME_BUDGET_BYTES,
        table(per_frame, field),
    )


def test_heap_in_use_after_many_frames_equals_that_after_ten(measured):
    _, leak, _ = measured
    assert leak["frames_ok"] == LEAK_FRAMES
    assert leak["heap_after_n"] == leak["heap_after_10"], leak


def test_leak_check_sees_a_callback_that_keeps_every_reading(measured):
    # Guards the check above: keeping readings must show as growth.
    _, _, leaky = measured
    grown = leaky["heap_after_n"] - leaky["heap_after_10"]
    assert grown >= 16 * (leaky["leak_frames"] - 10), leaky
