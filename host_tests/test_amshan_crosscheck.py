"""Cross-check against amshan, the established Python HAN parser: on every corpus frame
amshan decodes, our reading has the same value for every key amshan gives, except the
disagreements listed below where amshan is wrong (each with the reason)."""

import math
from datetime import datetime

import pytest

import corpus
import hanport

corpus.require()
hdlc = pytest.importorskip("han.hdlc")
autodecoder = pytest.importorskip("han.autodecoder")

FRAMES = [r for r in corpus.good_frames(*corpus.HDLC_FILES)]

# Frames where amshan's output is wrong, and why. Our reading is checked by test_corpus.
AMSHAN_WRONG = {
    "ams-kaifa-gh242-4": "Kaifa MA304T4 list (KFM_001, 18 values, uint64 energy) that amshan "
    "misreads as Kamstrup, giving only a date-time",
    "ams-iskraemeco-gh869-1": "Iskraemeco value-only list (ISK...) misread as Kaifa list 2",
    "ams-iskraemeco-gh869-2": "Iskraemeco value-only list (ISK...) misread as Kaifa list 2",
    "ams-iskraemeco-gh869-5": "Iskraemeco value-only list (ISK...) misread as Kaifa list 2",
    "ams-iskraemeco-gh615-2": "Iskraemeco value-only list misread as Kamstrup (date-time only)",
    "ams-iskraemeco-gh615-4": "Iskraemeco value-only list misread as Kamstrup (date-time only)",
    "ams-iskraemeco-gh869-3": "Iskraemeco value-only list misread as Kamstrup (date-time only)",
    "ams-iskraemeco-gh869-4": "Iskraemeco value-only list misread as Kamstrup (date-time only)",
    "ams-iskraemeco-gh956-2": "Iskraemeco value-only list misread as Kamstrup (date-time only)",
    "ams-iskraemeco-gh1072-1": "first segment (7E A8) of a segmented frame, misread alone as "
    "Kamstrup (date-time only)",
}


def amshan_reading(raw):
    frames = hdlc.HdlcFrameReader(False).read(raw)
    if len(frames) != 1 or not frames[0].is_good_ffc:
        return None
    try:
        return autodecoder.AutoDecoder().decode_message_payload(frames[0].payload)
    except Exception:  # amshan raises KeyError/AttributeError on some real frames
        return None


def same(key, theirs, ours):
    if key == "meter_datetime":
        if not isinstance(theirs, datetime):
            theirs = datetime.fromisoformat(str(theirs))
        return theirs == datetime.fromisoformat(ours)
    if isinstance(theirs, (int, float)) and isinstance(ours, (int, float)):
        return math.isclose(theirs, ours, rel_tol=1e-9, abs_tol=1e-9)
    return theirs == ours


def disagreements(record):
    raw = bytes.fromhex(record["hex"])
    theirs = amshan_reading(raw)
    if theirs is None:
        return None
    ours = hanport.decode_frame(raw)
    return [(k, v, ours.get(k)) for k, v in theirs.items() if k not in ours or not same(k, v, ours[k])]


@pytest.mark.parametrize("record", FRAMES, ids=corpus.ids(FRAMES))
def test_agrees_with_amshan(record):
    if record["id"] in AMSHAN_WRONG:
        pytest.skip("amshan wrong: " + AMSHAN_WRONG[record["id"]])
    try:
        found = disagreements(record)
    except ValueError as err:
        # We refuse only frames that are not Norwegian-vendor lists (e.g. Iskra value lists).
        assert record["file"] not in corpus.NORWEGIAN_VENDORS, err
        assert amshan_reading(bytes.fromhex(record["hex"])) is None, err
        return
    if found is None:
        pytest.skip("amshan cannot decode this frame")
    assert found == []


def test_listed_disagreements_are_real():
    """Each frame listed as amshan-wrong still disagrees (or the entry must go)."""
    by_id = {r["id"]: r for r in FRAMES}
    for frame_id in AMSHAN_WRONG:
        record = by_id[frame_id]
        theirs = amshan_reading(bytes.fromhex(record["hex"]))
        assert theirs is not None, frame_id
        try:
            ours = hanport.decode_frame(bytes.fromhex(record["hex"]))
        except ValueError:
            continue  # we refuse what amshan misreads
        assert any(not same(k, v, ours.get(k)) for k, v in theirs.items()), frame_id


def test_agreement_covers_every_norwegian_frame():
    agreed = 0
    for record in FRAMES:
        if record["file"] in corpus.NORWEGIAN_VENDORS and record["id"] not in AMSHAN_WRONG:
            if disagreements(record) == []:
                agreed += 1
    norwegian = [r for r in FRAMES if r["file"] in corpus.NORWEGIAN_VENDORS]
    unreadable = [r["id"] for r in norwegian if amshan_reading(bytes.fromhex(r["hex"])) is None]
    assert agreed + len(unreadable) + 1 == len(norwegian), unreadable
