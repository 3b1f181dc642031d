"""tools/decode.py, run as a user runs it: hex lines in, one JSON line out per line; raw
captures in, one JSON line per good frame with errors and stats on stderr."""

import json
import subprocess
import sys

import corpus
import hanport

CLI = str(corpus.ROOT / "tools" / "decode.py")


def run(args, stdin):
    return subprocess.run(
        [sys.executable, CLI] + args, input=stdin, capture_output=True, timeout=60
    )


def test_hex_mode_gives_one_json_line_per_input_line_in_order():
    records = corpus.records(*corpus.NORWEGIAN_VENDORS)
    lines = []
    for record in records:
        text = record["hex"]
        lines.append(" ".join(text[i : i + 2] for i in range(0, len(text), 2)))
    lines += ["not hex at all", "", "7ea0"]
    result = run(["--hex", "-"], ("\n".join(lines) + "\n").encode())
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(out) == len(lines)
    for record, answer in zip(records, out):
        if record["format"] == "hdlc" and corpus.is_good_hdlc(record):
            assert answer["readings"] == [hanport.decode_frame(bytes.fromhex(record["hex"]))]
            assert answer["errors"] == []
        elif corpus.is_bad_hdlc(record):
            assert answer["readings"] == []
            assert answer["errors"], record["id"]
    assert out[-3]["errors"][0].startswith("not hex")
    assert out[-2]["errors"] == ["empty line"]
    assert out[-1]["errors"] == ["incomplete frame at end of input"]


def test_hex_mode_reads_a_file(tmp_path):
    record = corpus.good_frames("kamstrup")[0]
    path = tmp_path / "captures.txt"
    path.write_text(record["hex"] + "\n" + record["hex"] + record["hex"][2:] + "\n")
    result = run(["--hex", str(path)], b"")
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [len(o["readings"]) for o in out] == [1, 2]


def test_raw_mode_streams_readings_and_reports_errors_and_stats(tmp_path):
    records = corpus.records("aidon")
    data = b"".join(bytes.fromhex(r["hex"]) for r in records)
    path = tmp_path / "capture.bin"
    path.write_bytes(data)
    result = run([str(path)], b"")
    assert result.returncode == 0
    readings = [json.loads(line) for line in result.stdout.decode().splitlines()]
    expected = []
    hanport.Reader(expected.append).feed(data)
    assert readings == expected and len(readings) >= 20
    err = result.stderr.decode().splitlines()
    assert any(line.startswith("error: ") and "rejected" in line for line in err)
    stats = json.loads(err[-1][len("stats: ") :])
    assert stats["frames_ok"] == len(readings)
    assert stats["hcs_errors"] + stats["fcs_errors"] >= 4


def test_missing_file_is_a_clear_error():
    result = run(["/nonexistent/capture.bin"], b"")
    assert result.returncode == 2
    assert b"No such file" in result.stderr


def test_hex_mode_says_when_a_push_is_cut_off_or_given_up():
    import hanencode as enc

    apdu = enc.apdu("Aidon", {"active_power_import": 5, "current_l1": 1.5})[3:]
    blocks = enc.gbt_blocks(apdu, 9)
    first = enc.hdlc_frame(enc.llc_pdu(blocks[0]))
    third = enc.hdlc_frame(blocks[2])
    result = run(["--hex", "-"], (first.hex() + "\n" + (first + third).hex() + "\n").encode())
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert out[0] == {
        "readings": [],
        "errors": ["a push of several frames is incomplete at the end of the input"],
    }
    given_up = "1 push(es) of several frames given up: block 3 arrived where block 2 was due"
    assert given_up in out[1]["errors"]
    assert "1 frame(s) undecodable: block 3 without the blocks before it" in out[1]["errors"]


def test_keys_decrypt_ciphered_captures_in_hex_mode():
    by_id = {r["id"]: r for r in corpus.records("encrypted")}
    evn = by_id["doc-evn-kaifa-ma309-mbus"]
    result = run(["--key", evn["key"], "--hex", "-"], (evn["hex"] + "\n").encode())
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["errors"] == []
    assert answer["readings"][0]["active_power_import_total"] == 12937
    # Without the key: the same line says why it gives nothing.
    answer = json.loads(run(["--hex", "-"], (evn["hex"] + "\n").encode()).stdout)
    assert answer["readings"] == [] and "no decryption key" in answer["errors"][0]
    lg = by_id["ams-landis-gyr-gh501-1"]
    args = ["--key", lg["key"], "--auth-key", "00" * 16, "--hex", "-"]
    answer = json.loads(run(args, (lg["hex"] + "\n").encode()).stdout)
    assert "tag mismatch" in answer["errors"][0]


def test_a_bad_key_is_a_usage_error():
    for args in (["--key", "abc"], ["--auth-key", "00" * 16]):
        result = run(args + ["--hex", "-"], b"")
        assert result.returncode == 2 and b"key" in result.stderr


def test_raw_mode_reads_p1_telegrams(tmp_path):
    p1 = [r for r in corpus.records("p1") if r.get("crc_ok")]
    data = b"".join(r["text"].encode("latin-1") for r in p1)
    path = tmp_path / "p1.txt"
    path.write_bytes(data)
    result = run([str(path)], b"")
    readings = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(readings) == len(p1)
    assert all("meter_manufacturer" in r for r in readings)


def test_hex_mode_says_when_a_telegram_is_cut_off():
    line = b"/KFM5 cut\r\n1-0:1.7.0(0.1*kW)\r\n".hex() + "\n" + "680505" + "\n"
    out = [json.loads(x) for x in run(["--hex", "-"], line.encode()).stdout.splitlines()]
    assert out[0]["errors"] == ["incomplete frame at end of input"]
    assert out[1]["errors"] == ["incomplete frame at end of input"]
