#!/usr/bin/python3
"""Cross-implementation test for docs/PROTOCOL.md section 2 (addresses and users).

An independent Python implementation, written from the protocol text and not from
the C, is compared with the C library through build/tests/addrtool: Addr32
encoding, classification and decoding; Argon2id normal hashes (python3-argon2);
SipHash-2-4 shield hashes (implemented here from the SipHash paper); the hash
parameter block; usernames.

Usage: /usr/bin/python3 test_addr_cross.py <builddir>
Prints one PASS/FAIL line per case and exits non-zero on any failure.
"""
import os
import random
import struct
import subprocess
import sys

from argon2.low_level import Type, hash_secret_raw

# ---------------------------------------------------------------- Addr32 (2.1-2.5)

ALPHABET = "0123456789abcdefghjkmnpqrstuwxyz"


def char_value(b):
    """2.1: value 0-31 of one input byte, or None when the byte is dropped."""
    if b >= 0x80:
        return None
    c = chr(b).lower()
    if c == "o":
        return 0
    if c in "il":
        return 1
    if c == "v":
        return ALPHABET.index("w")
    if c in ALPHABET:
        return ALPHABET.index(c)
    return None


def encode(data):
    """2.3: returns (count, 10 bytes)."""
    vals = [v for v in (char_value(b) for b in data) if v is not None]
    count = len(vals)
    n = min(count, 16)
    bits = [0] * 80
    if n == 16:
        bits[0] = 1
        nib = vals[15] & 15
    else:
        nib = n
    for k in range(4):
        bits[1 + k] = (nib >> (3 - k)) & 1
    for i in range(min(n, 15)):
        for k in range(5):
            bits[5 + 5 * i + k] = (vals[i] >> (4 - k)) & 1
    out = bytes(int("".join(map(str, bits[8 * j:8 * j + 8])), 2) for j in range(10))
    return count, out


def to_bits(a):
    return [(a[j // 8] >> (7 - j % 8)) & 1 for j in range(80)]


def field(bits, start, width):
    v = 0
    for k in range(width):
        v = (v << 1) | bits[start + k]
    return v


SYSTEM = bytes.fromhex("367d9d3a800000000000")
FORBIDDEN_TAIL = bytes.fromhex("40d439d615a06000")


def classify(a):
    """2.4: ('normal'|'shield'|'invalid', error code for decode or 0)."""
    bits = to_bits(a)
    if bits[0]:
        if a[2:] == FORBIDDEN_TAIL:
            return "invalid", -1  # EPERM
        return "shield", 0
    n = field(bits, 1, 4)
    if n == 0 or any(bits[5 + 5 * n:]):
        return "invalid", -22  # EINVAL
    if a == SYSTEM:
        return "invalid", -1
    return "normal", 0


def decode(a):
    kind, err = classify(a)
    if kind == "invalid":
        return err
    bits = to_bits(a)
    nib = field(bits, 1, 4)
    if kind == "shield":
        return "".join(ALPHABET[field(bits, 5 + 5 * i, 5)] for i in range(15)) + ALPHABET[16 + nib]
    return "".join(ALPHABET[field(bits, 5 + 5 * i, 5)] for i in range(nib))


RESERVED = ["abuse", "admin", "administrator", "help", "hostmaster", "info", "postmaster",
            "security", "support", "webmaster"]
RESERVED_BYTES = {encode(n.encode())[1] for n in RESERVED}


def expected_line(data):
    """What `addrtool encode-hex` must print for input bytes `data`."""
    count, a = encode(data)
    kind, _ = classify(a)
    parsed = kind if 1 <= count <= 16 else "invalid"
    text = decode(a)
    if isinstance(text, int):
        text = "-"
    return "%d %s %s %s %s %d" % (count, a.hex(), kind, parsed, text, 1 if a in RESERVED_BYTES else 0)


# ---------------------------------------------------------------- SipHash-2-4 (2.6)

M64 = (1 << 64) - 1


def rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def siphash24(key, msg):
    """SipHash-2-4 as in Aumasson and Bernstein, 'SipHash: a fast short-input PRF'."""
    k0, k1 = struct.unpack("<QQ", key)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def sipround():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & M64
        v1 = rotl(v1, 13) ^ v0
        v0 = rotl(v0, 32)
        v2 = (v2 + v3) & M64
        v3 = rotl(v3, 16) ^ v2
        v0 = (v0 + v3) & M64
        v3 = rotl(v3, 21) ^ v0
        v2 = (v2 + v1) & M64
        v1 = rotl(v1, 17) ^ v2
        v2 = rotl(v2, 32)

    full = len(msg) - len(msg) % 8
    for i in range(0, full, 8):
        (m,) = struct.unpack("<Q", msg[i:i + 8])
        v3 ^= m
        sipround()
        sipround()
        v0 ^= m
    last = msg[full:] + bytes(7 - len(msg) % 8) + bytes([len(msg) & 0xFF])
    (m,) = struct.unpack("<Q", last)
    v3 ^= m
    sipround()
    sipround()
    v0 ^= m
    v2 ^= 0xFF
    for _ in range(4):
        sipround()
    return struct.pack("<Q", v0 ^ v1 ^ v2 ^ v3)


def normal_hash(addr, salt, ops, mem_kib):
    h = hash_secret_raw(addr, salt, ops, mem_kib, parallelism=1, hash_len=16, type=Type.ID,
                        version=19)
    return bytes(x ^ y for x, y in zip(h[:8], h[8:]))


def params_block(ops, mem_kib):
    """2.7: version 1, ops, reserved u16 0, memlimit KiB u32 LE."""
    return struct.pack("<BBHI", 1, ops, 0, mem_kib)


def params_ok(ops, mem_kib):
    return 1 <= ops <= 10 and 8192 <= mem_kib <= 1048576 and mem_kib % 1024 == 0


def username(uid):
    return "".join(chr(ord("a") + ((uid >> (4 * i)) & 15)) for i in range(3))


# ---------------------------------------------------------------- harness

failures = 0


def report(name, ok, detail=""):
    global failures
    print("%s %s" % ("PASS" if ok else "FAIL", name))
    if not ok:
        failures += 1
        for line in detail.splitlines()[:20]:
            print("  " + line)
    sys.stdout.flush()


def run_tool(tool, args, lines):
    p = subprocess.run([tool] + args, input="".join(l + "\n" for l in lines).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    out = p.stdout.decode().splitlines()
    return p.returncode, out, p.stderr.decode()


def compare(name, expected, got, inputs):
    bad = []
    if len(got) != len(expected):
        bad.append("expected %d lines, got %d" % (len(expected), len(got)))
    for inp, e, g in zip(inputs, expected, got):
        if e != g:
            bad.append("input %r: want %r, got %r" % (inp, e, g))
    report(name, not bad, "\n".join(bad))


def encode_case(tool, name, inputs):
    rc, got, err = run_tool(tool, ["encode-hex"], [d.hex() for d in inputs])
    if rc != 0:
        report(name, False, "addrtool exited %d: %s" % (rc, err))
        return
    compare(name + " (%d inputs)" % len(inputs), [expected_line(d) for d in inputs], got, inputs)


def random_string(rng, pool, n_sig, junk, junk_rate=0.3):
    out = bytearray()
    while n_sig > 0:
        if rng.random() < junk_rate:
            out += rng.choice(junk)
        else:
            out += rng.choice(pool)
            n_sig -= 1
    if rng.random() < 0.5:
        out += rng.choice(junk)
    return bytes(out)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_addr_cross.py <builddir>")
    tool = os.path.join(sys.argv[1], "tests", "addrtool")
    if not os.access(tool, os.X_OK):
        report("addrtool_present", False, tool + " is missing; run make first")
        sys.exit(1)
    rng = random.Random(20240602)

    # The original's vectors, checked against the doc's values first, then the C.
    vectors = [("abuse", "2a97bcb8000000000000"), ("admin", "2a9b40d4000000000000"),
               ("administrator", "6a9b40d439d615a06000"), ("system", "367d9d3a800000000000"),
               ("postmaster", "55819d5159d3b0000000")]
    for word, hexv in vectors:
        count, a = encode(word.encode())
        rc, got, _ = run_tool(tool, ["encode"], [word])
        c_hex = got[0].split()[1] if rc == 0 and got else "?"
        report("addr32_vector_" + word, a.hex() == hexv and count == len(word) and c_hex == hexv,
               "python %s, C %s, want %s" % (a.hex(), c_hex, hexv))

    # The raw-line path of the tool, with folding visible in ordinary text.
    raw = ["Ad-Min!", "P0ST.MASTER", "l1Ii", "oO0", "vVwW", "x" * 40, "no alnum: !!!", ""]
    rc, got, err = run_tool(tool, ["encode"], raw)
    compare("addr32_raw_lines", [expected_line(s.encode()) for s in raw], got, raw)

    letters = [bytes([c]) for c in b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    lookalikes = [bytes([c]) for c in b"0oO1iIlLvVwW"]
    punct = [bytes([c]) for c in b".-_+!#$%&'*/=?^`{|}~ \t\"(),:;<>@[\\]"]
    nonascii = [b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xff", b"\x80", b"\x00",
                b"\xc0\xaf", b"\x7f", b"\x01"]
    encode_case(tool, "addr32_mixed_case_punct",
                [random_string(rng, letters, rng.randint(1, 15), punct) for _ in range(100)])
    encode_case(tool, "addr32_lookalikes",
                [random_string(rng, lookalikes + letters[:4], rng.randint(1, 16), punct)
                 for _ in range(60)])
    encode_case(tool, "addr32_non_ascii",
                [random_string(rng, letters, rng.randint(0, 18), nonascii + punct, 0.5)
                 for _ in range(100)])
    for n in (15, 16, 17):
        encode_case(tool, "addr32_%d_significant" % n,
                    [random_string(rng, letters, n, punct + nonascii) for _ in range(40)])
    encode_case(tool, "addr32_edges",
                [b"", b"...", b"system", b"SyStEm", b"systems", b"0" * 16, b"z" * 15, b"z" * 16,
                 b"f" * 16, b"z" * 17, b"x" * 3000] + [n.encode() for n in RESERVED] +
                [b"Post.Master", b"ADM1N", b"lnfo", b"admins", b"helpdesk"])

    # Decoding arbitrary 10-byte values, biased towards the interesting shapes.
    values = []
    for _ in range(300):
        a = bytearray(rng.randbytes(10))
        shape = rng.randrange(6)
        if shape == 0:  # well-formed normal
            n = rng.randint(0, 15)
            _, a = encode(bytes(rng.choice(b"abcxyz0189") for _ in range(n)))
        elif shape == 1:  # normal with one stray bit after its characters
            n = rng.randint(1, 14)
            _, base = encode(b"a" * n)
            a = bytearray(base)
            bit = rng.randint(5 + 5 * n, 79)
            a[bit // 8] |= 0x80 >> (bit % 8)
        elif shape == 2:
            a[0] |= 0x80
        elif shape == 3:  # forbidden shield tail
            a[0] |= 0x80
            a[2:] = FORBIDDEN_TAIL
        elif shape == 4:
            a = bytearray(SYSTEM) if rng.random() < 0.5 else a
        else:
            a[0] &= 0x7F
        values.append(bytes(a))
    rc, got, err = run_tool(tool, ["decode"], [v.hex() for v in values])
    exp = []
    for v in values:
        d = decode(v)
        exp.append("%s %s" % (classify(v)[0], d))
    compare("addr32_decode_values (%d)" % len(values), exp, got, [v.hex() for v in values])

    # SipHash: the paper's own vector first (appendix A: the u64 0xa129ca6149be45e5,
    # stored little-endian), then the shield hashes.
    paper = siphash24(bytes(range(16)), bytes(range(15)))
    report("siphash24_paper_vector", struct.unpack("<Q", paper)[0] == 0xA129CA6149BE45E5,
           paper.hex())
    key = bytes(range(16))
    shields = [bytes.fromhex(h) for h in
               ("f8022190a63a12a5b1ae", "80000000000000000000", "ffffffffffffffffffff")]
    shields += [bytes([rng.randrange(256) | 0x80]) + rng.randbytes(9) for _ in range(100)]
    doc = {"f8022190a63a12a5b1ae": "9ee25241996ab6f1", "80000000000000000000": "e0f18191d74ae6af",
           "ffffffffffffffffffff": "2d257c52934c282d"}
    report("shield_hash_doc_vectors", all(siphash24(key, bytes.fromhex(a)).hex() == h
                                          for a, h in doc.items()))
    for k in (key, rng.randbytes(16)):
        rc, got, err = run_tool(tool, ["hash-shield", k.hex()], [s.hex() for s in shields])
        compare("shield_hash_key_%s" % k.hex()[:8], [siphash24(k, s).hex() for s in shields], got,
                [s.hex() for s in shields])

    # Argon2id normal hashes: the doc's vectors, then random addresses.
    salt = bytes(range(16, 32))
    docv = [("2a97bcb8000000000000", "6acb46199d7f9f07", "d7bc3e635b9014b3"),
            ("2a9b40d4000000000000", "85681668d3eadfe0", "31b19b60da27a588"),
            ("55819d5159d3b0000000", "4fc03a775fd4f1c6", "90114e2cb5290d4b")]
    ok = all(normal_hash(bytes.fromhex(a), salt, 1, 8192).hex() == h1 and
             normal_hash(bytes.fromhex(a), salt, 3, 32768).hex() == h3 for a, h1, h3 in docv)
    report("normal_hash_doc_vectors", ok)
    addrs = [encode(random_string(rng, letters, rng.randint(1, 15), punct))[1] for _ in range(12)]
    addrs = [a for a in addrs if classify(a)[0] == "normal"]
    for ops, mem in ((1, 8192), (2, 9216), (3, 32768)):
        s = rng.randbytes(16)
        rc, got, err = run_tool(tool, ["hash-normal", s.hex(), str(ops), str(mem)],
                                [a.hex() for a in addrs])
        compare("normal_hash_ops%d_mem%d" % (ops, mem),
                [normal_hash(a, s, ops, mem).hex() for a in addrs], got, [a.hex() for a in addrs])
    # Values that are not normal addresses are refused, not hashed.
    notnormal = ["80000000000000000000", SYSTEM.hex(), "00000000000000000000", "08000000000000000001"]
    rc, got, err = run_tool(tool, ["hash-normal", salt.hex(), "1", "8192"], notnormal)
    compare("normal_hash_refuses_non_normal", ["error -22"] * len(notnormal), got, notnormal)

    # Parameter block.
    bad = []
    for ops, mem in ((1, 8192), (3, 32768), (10, 1048576), (0, 32768), (11, 32768), (3, 7168),
                     (3, 8193), (3, 1049600), (255, 4294967295)):
        rc, got, _ = run_tool(tool, ["params", str(ops), str(mem)], [])
        want = params_block(ops, mem).hex() if params_ok(ops, mem) else "error -22"
        if got != [want]:
            bad.append("ops %d mem %d: want %s got %s" % (ops, mem, want, got))
    for blk, want in (("0103000000800000", "3 32768"), ("0003000000800000", "error -74"),
                      ("0103010000800000", "error -74"), ("01030000008000", "error -74"),
                      ("010300000080000000", "error -74"), ("0100000000800000", "error -22"),
                      ("0103000001200000", "error -22")):
        rc, got, _ = run_tool(tool, ["params-decode", blk], [])
        if got != [want]:
            bad.append("decode %s: want %s got %s" % (blk, want, got))
    report("params_block", not bad, "\n".join(bad))

    # Usernames.
    bad = []
    for uid in [0, 1, 15, 16, 255, 256, 291, 4095] + [rng.randrange(4096) for _ in range(12)]:
        rc, got, _ = run_tool(tool, ["username", str(uid)], [])
        if got != [username(uid)]:
            bad.append("uid %d: want %s got %s" % (uid, username(uid), got))
        rc, got, _ = run_tool(tool, ["userid", username(uid).upper()], [])
        if got != [str(uid)]:
            bad.append("name %s: got %s" % (username(uid).upper(), got))
    for name in ("qaa", "aa", "aaaa", "a1a", "zzz"):
        rc, got, _ = run_tool(tool, ["userid", name], [])
        if got != ["error"]:
            bad.append("name %s accepted: %s" % (name, got))
    report("usernames", not bad, "\n".join(bad))

    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
