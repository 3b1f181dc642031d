"""M-Bus, P1, ciphered and Iskraemeco frames read the same in the MicroPython VM as under
CPython, within the allocation budget per frame.

The VM has no `cryptolib`; tools/hosttwin/cryptolib.py stands in for it there (plain-Python
AES, since `cryptography` is CPython-only), so the GCM code around the AES is the dongle's.
The cost figures put the AES calls apart: on the ESP32 they are C (hardware AES).
"""

import json
import random

import pytest

import corpus
import hanencode as enc
import mpvm

corpus.require()
HOSTTWIN = corpus.ROOT / "tools" / "hosttwin"


def record_lines():
    out = []
    for record in corpus.records("encrypted", "mbus", "p1", "other_hdlc"):
        data = record["text"].encode("latin-1") if record.get("text") else None
        line = {"id": record["id"], "hex": data.hex() if data else record["hex"]}
        if record.get("key"):
            line["key"] = record["key"]
            line["auth_key"] = record.get("auth_key")
        out.append(line)
    rng = random.Random(2024)
    for record in corpus.good_frames(*corpus.NORWEGIAN_VENDORS)[::4]:
        key = bytes(rng.randrange(256) for _ in range(16))
        auth_key = bytes(rng.randrange(256) for _ in range(16))
        raw = bytes.fromhex(record["hex"])
        plain = raw[raw.index(b"\xe6\xe7\x00") + 3 : -3]
        title = b"KFM" + bytes(rng.randrange(256) for _ in range(5))
        sealed = enc.glo_ciphering(plain, key, auth_key, title, rng.randrange(1 << 32))
        frame = enc.hdlc_frame(enc.llc_pdu(sealed))
        line = {"id": "fresh-" + record["id"], "hex": frame.hex(), "key": key.hex()}
        line["auth_key"] = auth_key.hex()
        out.append(line)
    for record in corpus.records("p1")[::3]:  # ciphered P1, as the Luxembourg Smarty sends it
        if record.get("crc_ok"):
            key = bytes(rng.randrange(256) for _ in range(16))
            text = record["text"].encode("latin-1")
            sealed = enc.glo_ciphering(text[text.index(b"/") :], key, key, bytes(8), 9)
            out.append({"id": "smarty-" + record["id"], "hex": sealed.hex(), "key": key.hex()})
    return out


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    return path


def probe_both(*args, data):
    cpython = mpvm.probe(*args, vm=False)
    result = mpvm.run(mpvm.PROBE, *args, paths=[mpvm.FIRMWARE, HOSTTWIN], data=data)
    assert result.returncode == 0, result.stderr
    return cpython, mpvm.json_lines(result.stdout)


def test_every_format_reads_in_the_vm_as_under_cpython(tmp_path):
    path = write_lines(tmp_path / "records.jsonl", record_lines())
    cpython, vm = probe_both("formats", path, data=[path])
    assert len(vm) == len(cpython) > 100
    problems = []
    for want, got in zip(cpython, vm):
        for field in ("readings", "stats", "error"):
            if not mpvm.same_values(want[field], got[field]):
                problems.append("%s %s: %s / %s" % (want["id"], field, want[field], got[field]))
    assert not problems, "\n".join(problems)
    fresh = [line for line in cpython if line["id"].startswith(("fresh-", "smarty-"))]
    assert len(fresh) > 20 and all(len(line["readings"]) == 1 for line in fresh)


def frame_of_500_bytes(key, auth_key):
    """A ciphered (tag and encryption) HDLC frame of about 500 bytes: a list of 6-byte OBIS
    codes and uint32 values, as long lists are."""
    items = []
    for n in range(40):
        items += [enc.obis("1.0.%d.7.0.255" % (n % 60 + 1)), enc.uint32(n * 1000)]
    plain = enc.data_notification(enc.structure(items))
    sealed = enc.glo_ciphering(plain, key, auth_key, b"KFM\x10\x20\x02\x98\x02", 77)
    return enc.hdlc_frame(enc.llc_pdu(sealed))


@pytest.fixture(scope="module")
def costs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vm_formats")
    key, auth_key = bytes(range(16)), bytes(range(16, 32))
    big = frame_of_500_bytes(key, auth_key)
    norwegian = corpus.good_frames("kaifa")[-1]
    raw = bytes.fromhex(norwegian["hex"])
    plain = raw[raw.index(b"\xe6\xe7\x00") + 3 : -3]
    small = enc.hdlc_frame(enc.llc_pdu(enc.glo_ciphering(plain, key, auth_key, bytes(8), 5)))
    p1 = next(r for r in corpus.records("p1") if r["id"] == "ams-kamstrup-gh578-1")
    p1_text = p1["text"].encode("latin-1")
    lines = [
        {"id": "glo-500", "hex": big.hex(), "key": key.hex(), "auth_key": auth_key.hex()},
        {"id": "glo-kaifa", "hex": small.hex(), "key": key.hex(), "auth_key": auth_key.hex()},
        {"id": "p1-kamstrup", "hex": p1_text[p1_text.index(b"/") :].hex()},
        {"id": "mbus-kaifa", "hex": enc.mbus_telegrams(plain, 100).hex()},
        {"id": "hdlc-kaifa", "hex": norwegian["hex"]},
    ]
    path = write_lines(tmp / "cost.jsonl", lines)
    result = mpvm.run(mpvm.PROBE, "cost", path, 5, paths=[mpvm.FIRMWARE, HOSTTWIN], data=[path])
    assert result.returncode == 0, result.stderr
    out = {line["id"]: line for line in mpvm.json_lines(result.stdout)}
    print(json.dumps(out, indent=1))
    return out


def test_every_cost_frame_was_read(costs):
    assert all(line["frames_ok"] == 5 for line in costs.values()), costs
    assert 480 <= costs["glo-500"]["frame_len"] <= 600


# Heap allocated per frame by the parser itself (AES calls apart), bytes, in the 32-bit VM.
BUDGET = {
    "glo-500": 1000,  # GHASH and CTR work on small ints and preallocated buffers
    "glo-kaifa": 1000,
    "p1-kamstrup": 3000,  # the 28-key reading: its dict, floats and strings
    "mbus-kaifa": 500,
    "hdlc-kaifa": 500,
}


@pytest.mark.parametrize("frame_id", sorted(BUDGET))
def test_allocation_per_frame_is_within_budget(costs, frame_id):
    line = costs[frame_id]
    own = line["alloc_per_frame"] - line["aes_alloc_per_frame"]
    assert own <= BUDGET[frame_id], line
