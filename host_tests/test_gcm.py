"""hanport.gcm: ciphered DLMS APDUs are checked and decrypted exactly as AES-GCM says.

The reference is the `cryptography` package; the device's AES-ECB is stood in for by
tools/hosttwin/cryptolib.py (which itself uses `cryptography` under CPython).
"""

import random
import sys

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import corpus

sys.path.insert(0, str(corpus.ROOT / "tools" / "hosttwin"))

from hanport import gcm  # noqa: E402

ENCRYPTED = 0x20
AUTHENTICATED = 0x10


def axdr_length(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def seal(control, key, auth_key, title, counter, plain):
    """A general-glo-ciphering APDU made by `cryptography` (the reference)."""
    iv = title + counter.to_bytes(4, "big")
    if control & ENCRYPTED and control & AUTHENTICATED:
        sealed = AESGCM(key).encrypt(iv, plain, bytes([control]) + auth_key)
        body = sealed[:-16] + sealed[-16:-4]  # DLMS keeps 12 of the 16 tag bytes
    elif control & ENCRYPTED:
        body = Cipher(algorithms.AES(key), modes.CTR(iv + b"\0\0\0\2")).encryptor().update(plain)
    elif control & AUTHENTICATED:
        tag = AESGCM(key).encrypt(iv, b"", bytes([control]) + auth_key + plain)
        body = plain + tag[:12]
    else:
        body = plain
    inner = bytes([control]) + counter.to_bytes(4, "big") + body
    return bytes([0xDB, 8]) + title + axdr_length(len(inner)) + inner


def unwrap(apdu, key, auth_key=None):
    buf = bytearray(b"\x7e\x7e" + apdu + b"\x7e")  # not at offset 0, with bytes behind it
    start, end = gcm.Decryptor(key, auth_key).open(buf, 2, len(buf) - 1)
    return bytes(buf[start:end])


def randbytes(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


@pytest.mark.parametrize("control", [0x30, 0x20, 0x10, 0x00])
def test_round_trips_every_security_control_and_size(control):
    rng = random.Random(control)
    for size in (0, 1, 15, 16, 17, 127, 128, 500, 511, 512, 513, 1100, 1900):
        key, auth_key, title = randbytes(rng, 16), randbytes(rng, 16), randbytes(rng, 8)
        plain = randbytes(rng, size)
        apdu = seal(control, key, auth_key, title, rng.randrange(1 << 32), plain)
        assert unwrap(apdu, key, auth_key) == plain
        if control & AUTHENTICATED:
            assert unwrap(apdu, key, None) == plain  # no auth key: the tag cannot be checked


def test_every_flipped_tag_bit_is_rejected():
    rng = random.Random(7)
    key, auth_key = randbytes(rng, 16), randbytes(rng, 16)
    apdu = seal(0x30, key, auth_key, b"KFM\x10\x20\x02\x98\x02", 0x1234, randbytes(rng, 200))
    for bit in range(96):
        bad = bytearray(apdu)
        bad[len(bad) - 12 + bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ValueError, match="tag mismatch"):
            unwrap(bytes(bad), key, auth_key)


@pytest.mark.parametrize("control", [0x30, 0x10])
def test_wrong_keys_and_changed_bytes_are_rejected_when_tagged(control):
    rng = random.Random(11 + control)
    key, auth_key = randbytes(rng, 16), randbytes(rng, 16)
    apdu = seal(control, key, auth_key, randbytes(rng, 8), 99, randbytes(rng, 120))
    other = randbytes(rng, 16)
    for k, ak in ((other, auth_key), (key, other)):
        with pytest.raises(ValueError, match="tag mismatch"):
            unwrap(apdu, k, ak)
    for at in (3, 11, 13, 20, len(apdu) - 20):  # title, SC, counter, data
        bad = bytearray(apdu)
        bad[at] ^= 0x01
        with pytest.raises(ValueError):
            unwrap(bytes(bad), key, auth_key)


def test_tag_is_checked_before_any_byte_is_decrypted():
    rng = random.Random(3)
    key, auth_key = randbytes(rng, 16), randbytes(rng, 16)
    apdu = bytearray(seal(0x30, key, auth_key, randbytes(rng, 8), 5, randbytes(rng, 64)))
    apdu[-1] ^= 0x80
    buf = bytearray(apdu)
    with pytest.raises(ValueError):
        gcm.Decryptor(key, auth_key).open(buf, 0, len(buf))
    assert buf == apdu  # the ciphertext is untouched


@pytest.mark.parametrize(
    "apdu, reason",
    [
        (bytes.fromhex("db07") + bytes(20), "system title"),
        (bytes.fromhex("db08") + bytes(8) + bytes.fromhex("30") + bytes(10), "announced"),
        (bytes.fromhex("db08") + bytes(8) + bytes.fromhex("83000010") + bytes(16), "length"),
        (bytes.fromhex("db08") + bytes(8) + bytes.fromhex("0ab0") + bytes(9), "compression"),
        (bytes.fromhex("db08") + bytes(8) + bytes.fromhex("0a30") + bytes(9), "shorter"),
        (bytes.fromhex("db08") + bytes(6), "system title"),
    ],
)
def test_malformed_ciphered_apdus_are_rejected_with_a_reason(apdu, reason):
    with pytest.raises(ValueError, match=reason):
        unwrap(apdu, bytes(16), bytes(16))


def test_keys_must_be_16_bytes():
    with pytest.raises(ValueError, match="16 bytes"):
        gcm.Decryptor(bytes(15))
    with pytest.raises(ValueError, match="16 bytes"):
        gcm.Decryptor(bytes(16), bytes(17))


def corpus_apdu(record):
    """The ciphered APDU of an encrypted corpus record (HDLC, M-Bus or DLMS/UDP wrapper)."""
    raw = bytes.fromhex(record["hex"])
    if record["format"].startswith("hdlc"):
        return raw[raw.index(b"\xe6\xe7\x00") + 3 : -3]
    if record["format"].startswith("udp"):
        return raw[8:]
    out = b""  # M-Bus: drop 68 L L 68 and C, A, CI, STSAP, DTSAP; then CS 16
    pos = 0
    while pos < len(raw):
        length = raw[pos + 1]
        out += raw[pos + 9 : pos + 4 + length]
        pos += length + 6
    return out


def reference_open(apdu, key, auth_key):
    """Decrypt with `cryptography`: AESGCM (tag checked) when tagged and the AK is known."""
    pos = 11
    size = apdu[10]
    if size == 0x81:
        size, pos = apdu[11], 12
    elif size == 0x82:
        size, pos = (apdu[11] << 8) | apdu[12], 13
    control = apdu[pos]
    iv = apdu[2:10] + apdu[pos + 1 : pos + 5]
    body = apdu[pos + 5 : pos + size]
    if control & AUTHENTICATED and auth_key is not None:
        tag = body[-12:]
        decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=12)).decryptor()
        decryptor.authenticate_additional_data(bytes([control]) + auth_key)
        return decryptor.update(body[:-12]) + decryptor.finalize()
    if control & AUTHENTICATED:
        body = body[:-12]
    return Cipher(algorithms.AES(key), modes.CTR(iv + b"\0\0\0\2")).decryptor().update(body)


KEYED = [r for r in corpus.records("encrypted") if r.get("key")]


@pytest.mark.parametrize("record", KEYED, ids=corpus.ids(KEYED))
def test_corpus_records_decrypt_as_cryptography_does(record):
    apdu = corpus_apdu(record)
    key = bytes.fromhex(record["key"])
    auth_key = bytes.fromhex(record["auth_key"]) if record.get("auth_key") else None
    plain = unwrap(apdu, key, auth_key)
    assert plain == reference_open(apdu, key, auth_key)
    assert plain[0] == 0x0F  # a data-notification
    if record.get("expected_plaintext"):
        assert plain.hex() == record["expected_plaintext"].lower().replace(" ", "")
    if auth_key is not None:
        with pytest.raises(ValueError, match="tag mismatch"):
            unwrap(apdu, key, bytes(16))
