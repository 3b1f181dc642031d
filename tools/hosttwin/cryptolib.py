"""Host twin of MicroPython's `cryptolib`: AES-ECB encryption only, as hanport/gcm.py uses it.

Why: the dongle's MicroPython has `cryptolib.aes(key, 1)` in C; CPython has no `cryptolib`, and
neither has the MicroPython WebAssembly VM the tests run. With `tools/hosttwin/` on sys.path this
module takes its place. Under CPython it uses the `cryptography` package (pinned in
requirements-dev.txt); where that is missing (the VM) it falls back to a plain-Python AES-128,
which is slow but exact, so the GCM code above it runs unchanged.
"""

MODE_ECB = 1

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:  # MicroPython VM
    Cipher = None


class aes:  # noqa: N801 - the device module's name
    def __init__(self, key, mode, iv=None):
        if mode != MODE_ECB:
            raise ValueError("host twin: only ECB (mode 1) is provided")
        if len(key) != 16:
            raise ValueError("host twin: only AES-128 is provided")
        if Cipher is not None:
            self._cpy = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()
        else:
            self._cpy = None
            self._round_keys = _expand(bytes(key))

    def encrypt(self, data, out=None):
        if len(data) % 16:
            raise ValueError("data length must be a multiple of 16")
        if self._cpy is not None:
            result = self._cpy.update(bytes(data))
        else:
            result = bytearray(len(data))
            for at in range(0, len(data), 16):
                _encrypt_block(self._round_keys, data, at, result)
        if out is None:
            return bytes(result)
        out[: len(result)] = result
        return None


def _xtime(a):
    a <<= 1
    return (a ^ 0x11B) if a & 0x100 else a


def _sbox():
    """The AES S-box, computed (multiplicative inverse in GF(2^8), then the affine map)."""
    box = bytearray(256)
    p = q = 1
    while True:
        p = p ^ _xtime(p)  # p *= 3
        q ^= q << 1  # q /= 3
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        s = q ^ ((q << 1) | (q >> 7)) ^ ((q << 2) | (q >> 6)) ^ ((q << 3) | (q >> 5))
        s ^= (q << 4) | (q >> 4)
        box[p] = (s ^ 0x63) & 0xFF
        if p == 1:
            break
    box[0] = 0x63
    return bytes(box)


_SBOX = _sbox()


def _expand(key):
    words = [key[i : i + 4] for i in range(0, 16, 4)]
    rcon = 1
    for i in range(4, 44):
        t = bytearray(words[i - 1])
        if i % 4 == 0:
            t = bytearray((_SBOX[t[1]] ^ rcon, _SBOX[t[2]], _SBOX[t[3]], _SBOX[t[0]]))
            rcon = _xtime(rcon)
        words.append(bytes(a ^ b for a, b in zip(words[i - 4], t)))
    return [b"".join(words[r * 4 : r * 4 + 4]) for r in range(11)]


def _encrypt_block(round_keys, data, at, out):
    s = bytearray(data[at + i] ^ round_keys[0][i] for i in range(16))
    for r in range(1, 11):
        s = bytearray(_SBOX[b] for b in s)
        # ShiftRows: column-major state, row i shifted left by i.
        s = bytearray(s[(i + 4 * (i % 4)) % 16] for i in range(16))
        if r != 10:
            mixed = bytearray(16)
            for c in range(0, 16, 4):
                a0, a1, a2, a3 = s[c], s[c + 1], s[c + 2], s[c + 3]
                x = a0 ^ a1 ^ a2 ^ a3
                mixed[c] = a0 ^ x ^ _xtime(a0 ^ a1) & 0xFF
                mixed[c + 1] = a1 ^ x ^ _xtime(a1 ^ a2) & 0xFF
                mixed[c + 2] = a2 ^ x ^ _xtime(a2 ^ a3) & 0xFF
                mixed[c + 3] = a3 ^ x ^ _xtime(a3 ^ a0) & 0xFF
            s = mixed
        key = round_keys[r]
        s = bytearray(s[i] ^ key[i] for i in range(16))
    for i in range(16):
        out[at + i] = s[i]
