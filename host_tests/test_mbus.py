"""M-Bus long frames carrying DLMS (hanport.mbus through hanport.Reader).

Telegrams are checked (L twice, checksum, stop byte), a push's segments are joined in order in
the reader's one buffer and go to the same DLMS layer as HDLC frames, and every telegram is
accounted for: a reading, a counted reject with its reason, or a part held for the rest.
"""

import random
import sys

import corpus
import hanencode as enc
import hanport

sys.path.insert(0, str(corpus.ROOT / "tools" / "hosttwin"))  # cryptolib for keyed records

COUNTERS = ("frames_ok", "undecodable", "push_frames")


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms


def plain_apdu(power=1234):
    """A Norwegian Kaifa list 2 as an APDU without LLC header."""
    reading = {
        "meter_datetime": "2024-01-02T03:04:05+01:00",
        "list_ver_id": "KFM_001",
        "meter_id": "6970631401753985",
        "meter_type": "MA304H3E",
        "active_power_import": power,
        "active_power_export": 0,
        "reactive_power_import": 0,
        "reactive_power_export": 262,
        "current_l1": 1.2,
        "current_l2": 0.4,
        "current_l3": 2.1,
        "voltage_l1": 230.1,
        "voltage_l2": 231.2,
        "voltage_l3": 229.8,
    }
    return enc.apdu("Kaifa", reading)[3:]


def hdlc_reading(apdu):
    return hanport.decode_frame(enc.hdlc_frame(enc.llc_pdu(apdu)))


def telegram(ci, data, c=0x53):
    user = bytes((c, 0xFF, ci, 0x01, 0x67)) + data
    return bytes((0x68, len(user), len(user), 0x68)) + user + bytes((sum(user) & 0xFF, 0x16))


def counts(reader):
    return [getattr(reader.stats, name) for name in COUNTERS]


def feed_accounted(reader, telegrams):
    for t in telegrams:
        before = counts(reader)
        reader.feed(t)
        moved = sorted(b - a for a, b in zip(before, counts(reader)))
        assert moved == [0, 0, 1], t.hex()


def split(data):
    out = []
    pos = 0
    while pos < len(data):
        size = data[pos + 1] + 6
        out.append(data[pos : pos + size])
        pos += size
    return out


def test_a_push_split_over_several_telegrams_gives_the_hdlc_reading():
    apdu = plain_apdu()
    want = hdlc_reading(apdu)
    for max_data in (250, 100, 37, 9):
        got = []
        reader = hanport.Reader(got.append)
        telegrams = split(enc.mbus_telegrams(apdu, max_data))
        feed_accounted(reader, telegrams)
        assert got == [want]
        assert reader.stats.push_frames == len(telegrams) - 1
        assert not reader.push_pending


def test_telegrams_in_random_chunks_with_noise_between():
    rng = random.Random(5)
    apdus = [plain_apdu(p) for p in range(100, 110)]
    want = [hdlc_reading(a) for a in apdus]
    stream = b"".join(
        bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randrange(5)))
        + enc.mbus_telegrams(a, rng.choice((40, 120, 250)))
        for a in apdus
    )
    got = []
    reader = hanport.Reader(got.append)
    i = 0
    while i < len(stream):
        size = rng.choice((1, 2, 5, 64, 300))
        reader.feed(stream[i : i + size])
        i += size
    assert got == want


def test_bad_checksum_and_stop_byte_are_counted_not_read():
    good = telegram(0x10, plain_apdu())
    bad_sum = bytearray(good)
    bad_sum[-2] ^= 1
    bad_stop = bytearray(good)
    bad_stop[-1] = 0x17
    got = []
    reader = hanport.Reader(got.append)
    reader.feed(bytes(bad_sum))
    reader.feed(bytes(bad_stop))
    assert got == []
    assert reader.stats.fcs_errors == 1 and reader.stats.bad_format == 1
    reader.feed(good)
    assert len(got) == 1


def test_segments_out_of_order_or_restarted_are_abandoned_with_a_reason():
    apdu = plain_apdu()
    first, second, third = apdu[:50], apdu[50:100], apdu[100:]
    reader = hanport.Reader(lambda r: None)
    feed_accounted(reader, [telegram(0x00, first), telegram(0x02, third)])
    assert reader.stats.abandoned == 1 and reader.stats.undecodable == 1
    assert "segment 2" in str(reader.last_error)
    feed_accounted(reader, [telegram(0x00, first), telegram(0x00, first)])
    assert reader.stats.abandoned == 2 and "new push" in reader.last_abandoned
    feed_accounted(reader, [telegram(0x01, second), telegram(0x12, third)])
    assert reader.stats.frames_ok == 1  # the push held since the second restart completes


def test_a_segment_without_its_first_is_undecodable():
    reader = hanport.Reader(lambda r: None)
    feed_accounted(reader, [telegram(0x11, plain_apdu()[50:])])
    assert "without the ones before it" in str(reader.last_error)
    assert reader.stats.abandoned == 0


def test_a_telegram_that_carries_no_dlms_is_undecodable():
    reader = hanport.Reader(lambda r: None)
    feed_accounted(reader, [telegram(0x72, bytes(20))])  # EN 13757-3 variable data
    assert "CI 0x72" in str(reader.last_error)


def test_a_push_waiting_too_long_is_given_up():
    clock = Clock()
    reader = hanport.Reader(lambda r: None, clock=clock)
    reader.feed(telegram(0x00, plain_apdu()[:60]))
    assert reader.push_pending
    clock.ms = 6000
    reader.expire()
    assert not reader.push_pending and reader.stats.abandoned == 1
    assert "timed out" in reader.last_abandoned


def test_an_hdlc_frame_breaking_into_an_m_bus_push_abandons_it():
    got = []
    reader = hanport.Reader(got.append)
    reader.feed(telegram(0x00, plain_apdu()[:60]))
    reader.feed(enc.hdlc_frame(enc.llc_pdu(plain_apdu(7))))
    assert reader.stats.abandoned == 1 and "HDLC" in reader.last_abandoned
    assert [r["active_power_import"] for r in got] == [7]


def test_a_stray_68_before_an_hdlc_frame_loses_nothing():
    frame = enc.hdlc_frame(enc.llc_pdu(plain_apdu(9)))
    for noise in (b"\x68", b"\x68\x7e", b"\x68\x05", b"\x68\x7e\x7e", b"\x68\x68\x68"):
        got = []
        reader = hanport.Reader(got.append)
        reader.feed(noise + frame)
        assert [r["active_power_import"] for r in got] == [9], noise.hex()


def test_every_m_bus_corpus_record_is_accounted_for():
    """mbus.jsonl: no key for any record, so ciphered pushes end undecodable (no key); the
    records the corpus marks broken (mbus_ok false) never give a reading."""
    for record in corpus.records("mbus"):
        got = []
        reader = hanport.Reader(got.append)
        reader.feed(bytes.fromhex(record["hex"]))
        assert got == [], record["id"]
        if record["mbus_ok"] and record.get("frames", 1) == 2:
            assert reader.stats.undecodable == 1 and reader.stats.push_frames == 1
            assert "no decryption key" in str(reader.last_error)


def test_keyed_m_bus_corpus_records_decode():
    by_id = {r["id"]: r for r in corpus.records("encrypted")}
    evn = by_id["doc-evn-kaifa-ma309-mbus"]
    got = []
    reader = hanport.Reader(got.append, key=evn["key"])
    reader.feed(bytes.fromhex(evn["hex"]))
    # The values the corpus builder read from the document's plaintext (see its notes).
    reading = got[0]
    assert reading["meter_datetime"].startswith("2021-09-27T09:47:15")
    assert reading["active_power_import_total"] == 12937
    assert reading["active_power_export_total"] == 0
    assert reading["active_power_import"] == 0 and reading["active_power_export"] == 0
    assert reading["voltage_l1"] == 233.7 and reading["voltage_l2"] == 0
    assert reading["current_l1"] == reading["current_l2"] == reading["current_l3"] == 0
    assert reading["power_factor"] == 1.0
    assert reading["meter_id"] == "181220000009"
    assert reading["meter_manufacturer"] == "Kaifa"  # from the system title "KFM..."
    pl = by_id["ams-kaifa-gh905-1"]
    got = []
    reader = hanport.Reader(got.append, key=pl["key"])
    reader.feed(bytes.fromhex(pl["hex"]))
    assert got[0]["meter_id"] == "1KFM0200169986"  # the serial the issue names
    assert abs(sum(got[0][k] for k in ("voltage_l1", "voltage_l2", "voltage_l3")) - 693.7) < 1e-6


def test_a_lone_flag_between_the_segments_of_a_push_does_no_harm():
    apdu = plain_apdu(42)
    telegrams = split(enc.mbus_telegrams(apdu, 60))
    got = []
    reader = hanport.Reader(got.append)
    for t in telegrams:
        reader.feed(b"\x7e" + t)
    assert [r["active_power_import"] for r in got] == [42]
    assert reader.stats.abandoned == 0
