"""The parser gives the same results on MicroPython (WebAssembly VM) as under CPython.

The dongle runs hanport on MicroPython, whose ints, floats, str and bytes differ from CPython's
in details. tools/parser_probe.py runs unchanged in both; CPython's output is the reference.
Each test runs the VM once for all its frames.
"""

import json
import random

import pytest

import corpus
import hanport
import mpvm

corpus.require()
HDLC = [r for r in corpus.records(*corpus.HDLC_FILES) if r["format"].startswith("hdlc")]
GOOD = [
    r
    for r in HDLC
    if r["format"] == "hdlc" and r.get("fcs_ok") is True and r.get("hcs_ok") is True
]
BAD = [r for r in HDLC if r.get("fcs_ok") is False]


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("vm_parser")


def decoded_both_ways(path):
    """{id: probe line} from CPython and from the VM, for the frames file PATH."""
    cpython = {line["id"]: line for line in mpvm.probe("decode", path, vm=False)}
    vm = {line["id"]: line for line in mpvm.probe("decode", path, data=[path])}
    return cpython, vm


def differences(cpython, vm):
    out = []
    for frame_id, want in cpython.items():
        got = vm.get(frame_id)
        if got is None:
            out.append("%s: no result from the VM" % frame_id)
            continue
        for field in ("reading", "error", "readings", "stats"):
            if not mpvm.same_values(want[field], got[field]):
                out.append(
                    "%s %s:\n  CPython %s\n  VM      %s"
                    % (frame_id, field, json.dumps(want[field]), json.dumps(got[field]))
                )
    return out


def test_good_frames_decode_in_the_vm_as_under_cpython(frames_dir):
    cpython, vm = decoded_both_ways(mpvm.write_frames(frames_dir / "good.jsonl", GOOD))
    assert len(cpython) == len(GOOD)
    assert sum(1 for line in cpython.values() if line["reading"]) >= len(GOOD) // 2
    problems = differences(cpython, vm)
    assert not problems, "\n".join(problems)


def test_bad_frames_are_rejected_in_the_vm_as_under_cpython(frames_dir):
    cpython, vm = decoded_both_ways(mpvm.write_frames(frames_dir / "bad.jsonl", BAD))
    assert len(cpython) == len(BAD)
    assert all(line["reading"] is None and line["error"] for line in cpython.values())
    problems = differences(cpython, vm)
    assert not problems, "\n".join(problems)


def garbage(rng):
    """Noise that looks like frame starts: flags, format bytes, random data."""
    pool = (0x7E, 0xA0, 0xA1, 0xA8, 0x13, 0xE6)
    size = rng.randrange(0, 40)
    return bytes(
        rng.choice(pool) if rng.random() < 0.3 else rng.randrange(256) for _ in range(size)
    )


def test_corpus_stream_in_random_chunks_gives_exactly_the_good_frames_in_the_vm(frames_dir):
    # Every HDLC capture, good and bad, three times over with fresh garbage before each.
    rng = random.Random(20240601)
    parts = []
    for _ in range(3):
        for record in HDLC:
            parts.append(garbage(rng))
            parts.append(bytes.fromhex(record["hex"]))
    parts.append(b"\x7e")
    stream = b"".join(parts)
    sizes = []
    while sum(sizes) < len(stream):
        sizes.append(rng.choice((1, 2, 3, 7, 64, 500, 4096)))
    stream_path = frames_dir / "stream.bin"
    stream_path.write_bytes(stream)
    chunks_path = frames_dir / "chunks.json"
    chunks_path.write_text(json.dumps(sizes))

    # Reference: the good captures back to back, nothing between (GBT blocks kept in separate
    # records join, as they do in the stream).
    want = []
    reference = hanport.Reader(want.append)
    for record in GOOD:
        reference.feed(bytes.fromhex(record["hex"]))
    want = json.loads(json.dumps(want)) * 3
    cpython = mpvm.probe("stream", stream_path, chunks_path, vm=False)
    vm = mpvm.probe("stream", stream_path, chunks_path, data=[stream_path, chunks_path])

    assert vm[-1]["fed"] == len(stream)
    got = [line["reading"] for line in vm[:-1]]
    assert len(got) == len(want)
    assert mpvm.same_values(got, want)
    assert [line["reading"] for line in cpython[:-1]] == want
    assert vm[-1]["stats"] == cpython[-1]["stats"]


def test_value_comparison_tolerates_float_formatting_only():
    assert mpvm.same_values({"a": [1, 9.3]}, {"a": [1, 9.300000000000001]})
    assert not mpvm.same_values({"a": 1}, {"a": 1.0})
    assert not mpvm.same_values({"a": 9.3}, {"a": 9.31})
    assert not mpvm.same_values({"a": 1}, {"a": 1, "b": 2})
