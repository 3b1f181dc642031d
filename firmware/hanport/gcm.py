"""Unwrap a ciphered DLMS APDU (AES-128-GCM, IEC 62056-5-3 / DLMS Green Book security suite 0).

    DB|DF | 08 | system title(8) | length (A-XDR) | SC | invocation counter(4) | data | [tag(12)]
    SC (security control): 0x10 authenticated, 0x20 encrypted, 0x80 compressed, 0x0F suite
    IV = system title | invocation counter;  J0 = IV | 00000001;  data counters from IV | 00000002
    encrypted + authenticated: AAD = SC | AK, GHASH over AAD and ciphertext
    authenticated only:        AAD = SC | AK | data, no ciphertext (GMAC)

The dongle's MicroPython has `cryptolib.aes(key, 1)` (AES-ECB) and nothing else of GCM, so
the CTR keystream is built by encrypting all counter blocks of a chunk in one ECB call, and
GHASH is done here on ints with a 4-bit table (Shoup). When a tag is expected and an
authentication key is set, the tag is checked over the ciphertext before a single byte is
decrypted, so nothing unauthenticated reaches the decoder. Decryption happens in place.
Key handling (settings, secrecy) is the caller's; this module only uses the bytes it is given.
On a PC, `tools/hosttwin/cryptolib.py` stands in for the device's `cryptolib`.

Some meters send the ciphered APDU bare, with no HDLC or M-Bus frame around it: the
Luxembourg Smarty (its plaintext a P1 telegram) and DLMS pushes without a link layer. `Framer`
collects one from the stream by its own length field, for a reader that has a key.

Everything else a key brings is here too, so a reader without one never loads it: `decryptor`
and `key_bytes` (the keys as given) and `decode_ciphered` (the DLMS layer's way into a
ciphered APDU).
"""

from .compat import const

_AUTHENTICATED = const(0x10)
_ENCRYPTED = const(0x20)
_COMPRESSED = const(0x80)
_TAG_BYTES = const(12)
_TITLE_BYTES = const(8)
_KEYSTREAM_BYTES = const(512)  # counter blocks per ECB call: a 500-byte frame takes one call
_GLO_CIPHERING = const(0xDB)
_R = 0xE1 << 120  # GHASH reduction: x^128 = x^7 + x^2 + x + 1 in GCM's reflected order
_DATA_NOTIFICATION = const(0x0F)


def decryptor(key, auth_key):
    """A Decryptor for keys given as 16 bytes or 32 hex digits (auth_key may be None)."""
    return Decryptor(key_bytes(key), key_bytes(auth_key))


def key_bytes(key):
    """A key given as 16 bytes or 32 hex digits, as bytes; None stays None."""
    if key is None or not isinstance(key, str):
        return key
    try:
        return bytes.fromhex(key)
    except ValueError:
        raise ValueError("a key is 32 hex digits")


def decode_ciphered(buf, start, end, cur, cipher):
    """dlms.decode_apdu of a general-glo/ded-ciphering APDU at buf[start], with the key's
    Decryptor: checked and decrypted in place, then read as a data notification."""
    from . import dlms

    title = start + 2
    start, end = cipher.open(buf, start, end)  # the tag is checked first
    if end - start < 6 or buf[start] != _DATA_NOTIFICATION:
        raise ValueError("decrypted APDU is not a data notification (wrong key?)")
    reading = dlms.decode_apdu(buf, start, end, cur)
    if "meter_manufacturer" not in reading:
        from . import makers  # the system title names the maker (AT Kaifa, Sagemcom)

        maker = makers.name(buf, title)
        if maker is not None:
            reading["meter_manufacturer"] = maker
    return reading


class Framer:
    """Collects a bare ciphered APDU, DB 08 <title> <length> <length bytes>, at the front of
    the HDLC framer's buffer (idle meanwhile), and hands it to on_apdu(buf, 0, end)."""

    def __init__(self, framer, on_apdu):
        self._hdlc = framer  # its buffer and counters are shared
        self._buf = framer._buf
        self._on_apdu = on_apdu
        self.active = False
        self._at = 0
        self._need = 0

    def held(self):
        return self._at if self.active else 0

    def begin(self):
        self.active = True
        self._at = 0
        self._need = 11  # DB 08 title(8) and the first length byte

    def feed(self, src, i, end):
        """Consume src[i:end]; returns where it stopped (end, past the APDU, or at a byte
        that shows this was none, left for the HDLC framer)."""
        buf = self._buf
        at = self._at
        need = self._need
        while i < end:
            b = src[i]
            if (at == 0 and b != _GLO_CIPHERING) or (at == 1 and b != _TITLE_BYTES):
                self.active = False  # not one: the byte goes back to the HDLC framer
                self._hdlc.skipped_bytes += at
                return i
            buf[at] = b
            at += 1
            i += 1
            if at != need:
                continue
            if at == 11:  # the first length byte (A-XDR: n, or 81 n, or 82 n n)
                size = buf[10]
                need = 12 if size == 0x81 else 13 if size == 0x82 else 11 + size
                if size > 0x82 or size == 0x80 or size < 5:  # SC and invocation counter at least
                    need = 0
            elif at == 12 and buf[10] == 0x81:
                need = 12 + buf[11] if buf[11] >= 5 else 0
            elif at == 13 and buf[10] == 0x82:
                need = 13 + ((buf[11] << 8) | buf[12])
                if need < 18:
                    need = 0
            else:
                self.active = False
                self._on_apdu(buf, 0, at)
                return i
            if need == 0 or need > len(buf):
                self.active = False
                if need == 0:
                    self._hdlc.bad_format += 1
                else:
                    self._hdlc.oversized += 1
                return i
            self._need = need
        self._at = at
        return i


def _mulx(a):
    return (a >> 1) ^ _R if a & 1 else a >> 1


class Decryptor:
    """Checks and decrypts ciphered APDUs with one meter's keys (16 bytes each)."""

    def __init__(self, key, auth_key=None):
        if len(key) != 16 or (auth_key is not None and len(auth_key) != 16):
            raise ValueError("AES-128 keys are 16 bytes (32 hex digits)")
        import cryptolib  # the device's AES; only imported once a key is configured

        self._aes = cryptolib.aes(bytes(key), 1)  # mode 1 = ECB (ESP32 has no MODE_ECB name)
        self._auth_key = bytes(auth_key) if auth_key is not None else None
        self._stream = bytearray(_KEYSTREAM_BYTES)
        self._iv = bytearray(12)  # system title | invocation counter
        self._block = bytearray(16)  # GHASH input block being filled
        self._fill = 0
        self._y = [0, 0, 0, 0, 0]  # GHASH state, as 5 words (see _mult)
        h = bytearray(16)
        self._aes.encrypt(h, h)
        self._table = _table(int.from_bytes(h, "big"))

    def open(self, buf, start, end):
        """Unwrap the ciphered APDU at buf[start:end] in place.

        Returns (start, end) of the plain APDU inside buf; raises ValueError with the
        reason when it cannot be unwrapped (bad length, no key, wrong tag)."""
        pos = start + 1
        if end - pos < 2 + _TITLE_BYTES or buf[pos] != _TITLE_BYTES:
            raise ValueError("ciphered APDU: bad system title")
        title = pos + 1
        pos = title + _TITLE_BYTES
        size = buf[pos]
        pos += 1
        if size == 0x81:
            size = buf[pos]
            pos += 1
        elif size == 0x82:
            size = (buf[pos] << 8) | buf[pos + 1]
            pos += 2
        elif size > 0x80:
            raise ValueError("ciphered APDU: bad length")
        if size < 5 or pos + size > end:
            raise ValueError("ciphered APDU: %d bytes announced, %d present" % (size, end - pos))
        control = buf[pos]
        if control & _COMPRESSED:
            raise ValueError("ciphered APDU: compression (SC 0x%02x) not supported" % control)
        data = pos + 5
        data_end = pos + size
        iv = self._iv
        for j in range(_TITLE_BYTES):
            iv[j] = buf[title + j]
        for j in range(4):
            iv[_TITLE_BYTES + j] = buf[pos + 1 + j]
        if control & _AUTHENTICATED:
            data_end -= _TAG_BYTES
            if data_end < data:
                raise ValueError("ciphered APDU: shorter than its tag")
            if self._auth_key is not None and not self._tag_ok(buf, pos, data, data_end):
                raise ValueError("ciphered APDU: authentication tag mismatch (wrong key?)")
        if control & _ENCRYPTED:
            self._crypt(buf, data, data_end)
        return data, data_end

    def _counter_blocks(self, first, count):
        """Write `count` counter blocks IV | first.. into the stream buffer."""
        stream = self._stream
        iv = self._iv
        at = 0
        for n in range(first, first + count):
            for j in range(12):
                stream[at + j] = iv[j]
            stream[at + 12] = (n >> 24) & 0xFF
            stream[at + 13] = (n >> 16) & 0xFF
            stream[at + 14] = (n >> 8) & 0xFF
            stream[at + 15] = n & 0xFF
            at += 16

    def _crypt(self, buf, start, end):
        """XOR the CTR keystream (counters from 2) into buf[start:end]."""
        stream = self._stream
        counter = 2
        while start < end:
            chunk = end - start
            if chunk > _KEYSTREAM_BYTES:
                chunk = _KEYSTREAM_BYTES
            blocks = (chunk + 15) >> 4
            self._counter_blocks(counter, blocks)
            if blocks << 4 == _KEYSTREAM_BYTES:
                self._aes.encrypt(stream, stream)
            else:
                view = memoryview(stream)[: blocks << 4]
                self._aes.encrypt(view, view)
            for j in range(chunk):
                buf[start + j] ^= stream[j]
            start += chunk
            counter += blocks

    def _tag_ok(self, buf, control_at, data, data_end):
        """GHASH, then compare E(J0) ^ S with the 12 tag bytes that follow the data."""
        y = self._y
        for j in range(5):
            y[j] = 0
        self._fill = 0
        self._absorb(buf, control_at, control_at + 1)
        auth_key = self._auth_key
        self._absorb(auth_key, 0, 16)
        if buf[control_at] & _ENCRYPTED:
            aad_bytes = 17
            self._flush()
            self._absorb(buf, data, data_end)
            text_bytes = data_end - data
        else:
            aad_bytes = 17 + data_end - data
            self._absorb(buf, data, data_end)
            text_bytes = 0
        self._flush()
        block = self._block
        bits = aad_bytes << 3
        for j in range(8):
            block[7 - j] = (bits >> (8 * j)) & 0xFF
        bits = text_bytes << 3
        for j in range(8):
            block[15 - j] = (bits >> (8 * j)) & 0xFF
        self._mult(block, 0)
        _bytes_of(y, block)
        self._counter_blocks(1, 1)
        stream = memoryview(self._stream)[:16]
        self._aes.encrypt(stream, stream)
        diff = 0
        for j in range(_TAG_BYTES):
            diff |= stream[j] ^ block[j] ^ buf[data_end + j]
        return diff == 0

    def _absorb(self, src, start, end):
        """GHASH the bytes src[start:end], after those absorbed before (blocks of 16)."""
        block = self._block
        fill = self._fill
        i = start
        while i < end:
            if not fill and end - i >= 16:
                self._mult(src, i)  # a whole block: straight from the source
                i += 16
                continue
            block[fill] = src[i]
            fill += 1
            i += 1
            if fill == 16:
                self._mult(block, 0)
                fill = 0
        self._fill = fill

    def _flush(self):
        """Zero-pad and hash a partly filled block; nothing to do when none is."""
        fill = self._fill
        if fill:
            block = self._block
            for j in range(fill, 16):
                block[j] = 0
            self._mult(block, 0)
            self._fill = 0

    def _mult(self, src, at):
        """Y = (Y ^ src[at:at+16]) * H in GF(2^128), on small ints so that nothing is allocated.

        A 128-bit value is 5 words of at most 28 bits (MicroPython's small ints hold 30 on
        the ESP32): w0 = bits 127-112, w1 = 111-84, w2 = 83-56, w3 = 55-28, w4 = 27-0 (bit
        127 is the coefficient of x^0, GCM's reflected order). Horner's rule over the 32
        nibbles, the last first: Z = Z * x^4 ^ table[nibble]."""
        y = self._y
        m = self._table
        r = _REDUCE
        x0 = y[0] ^ ((src[at] << 8) | src[at + 1])
        x1 = y[1] ^ (
            (src[at + 2] << 20) | (src[at + 3] << 12) | (src[at + 4] << 4) | (src[at + 5] >> 4)
        )
        x2 = y[2] ^ (
            ((src[at + 5] & 15) << 24) | (src[at + 6] << 16) | (src[at + 7] << 8) | src[at + 8]
        )
        x3 = y[3] ^ (
            (src[at + 9] << 20) | (src[at + 10] << 12) | (src[at + 11] << 4) | (src[at + 12] >> 4)
        )
        x4 = y[4] ^ (
            ((src[at + 12] & 15) << 24) | (src[at + 13] << 16) | (src[at + 14] << 8) | src[at + 15]
        )
        z0 = z1 = z2 = z3 = z4 = 0
        for k in range(32):
            if k < 7:
                n = x4 & 15
                x4 >>= 4
            elif k < 14:
                n = x3 & 15
                x3 >>= 4
            elif k < 21:
                n = x2 & 15
                x2 >>= 4
            elif k < 28:
                n = x1 & 15
                x1 >>= 4
            else:
                n = x0 & 15
                x0 >>= 4
            low = z4 & 15  # Z * x^4: shift right 4, fold the 4 bits that fall off back in
            z4 = (z4 >> 4) | ((z3 & 15) << 24)
            z3 = (z3 >> 4) | ((z2 & 15) << 24)
            z2 = (z2 >> 4) | ((z1 & 15) << 24)
            z1 = (z1 >> 4) | ((z0 & 15) << 24)
            n *= 5
            z0 = (z0 >> 4) ^ r[low] ^ m[n]
            z1 ^= m[n + 1]
            z2 ^= m[n + 2]
            z3 ^= m[n + 3]
            z4 ^= m[n + 4]
        y[0] = z0
        y[1] = z1
        y[2] = z2
        y[3] = z3
        y[4] = z4


def _bytes_of(w, out):
    """The 16 bytes of the 5-word value w (see Decryptor._mult) into out."""
    out[0] = w[0] >> 8
    out[1] = w[0] & 0xFF
    out[2] = w[1] >> 20
    out[3] = (w[1] >> 12) & 0xFF
    out[4] = (w[1] >> 4) & 0xFF
    out[5] = ((w[1] & 15) << 4) | (w[2] >> 24)
    out[6] = (w[2] >> 16) & 0xFF
    out[7] = (w[2] >> 8) & 0xFF
    out[8] = w[2] & 0xFF
    out[9] = w[3] >> 20
    out[10] = (w[3] >> 12) & 0xFF
    out[11] = (w[3] >> 4) & 0xFF
    out[12] = ((w[3] & 15) << 4) | (w[4] >> 24)
    out[13] = (w[4] >> 16) & 0xFF
    out[14] = (w[4] >> 8) & 0xFF
    out[15] = w[4] & 0xFF


def _words(v):
    """A 128-bit int as the 5 words of Decryptor._mult."""
    mask = 0xFFFFFFF
    return (v >> 112, (v >> 84) & mask, (v >> 56) & mask, (v >> 28) & mask, v & mask)


# Z * x^4 folds the 4 bits shifted out (degrees 124-127) back in: their image, all in w0.
_REDUCE = (
    0x0000, 0x1C20, 0x3840, 0x2460, 0x7080, 0x6CA0, 0x48C0, 0x54E0,
    0xE100, 0xFD20, 0xD940, 0xC560, 0x9180, 0x8DA0, 0xA9C0, 0xB5E0,
)


def _table(h):
    """Words of v * H for each nibble v (v as the GCM polynomial of degree < 4 at the top of
    a block), flat: table[5 * v : 5 * v + 5]. Made once per key, the only big ints here."""
    x1 = _mulx(h)
    x2 = _mulx(x1)
    x3 = _mulx(x2)
    table = []
    for v in range(16):
        p = (h if v & 8 else 0) ^ (x1 if v & 4 else 0) ^ (x2 if v & 2 else 0)
        table.extend(_words(p ^ (x3 if v & 1 else 0)))
    return tuple(table)
