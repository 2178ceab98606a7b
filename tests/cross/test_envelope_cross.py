#!/usr/bin/python3
"""test_envelope_cross.py: an independent Python implementation of the key tree
and of Envelopes, written from docs/PROTOCOL.md sections 3 and 4 (not from the
C code), checked against the C implementation through build/tests/envtool.

Usage: /usr/bin/python3 test_envelope_cross.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import base64
import hashlib
import os
import subprocess
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives import serialization

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ENVTOOL = os.path.join(BUILD, "tests", "envtool")

# ---- Section 3: keys -------------------------------------------------------

ROLES = {"account": 1, "storage": 2, "deliver": 3, "enquiry": 4, "mta": 5, "api": 6,
         "web": 7, "outgoing": 8}
# Section 1: allowed channels, client -> server.
CHANNELS = [("mta", "account"), ("api", "account"), ("storage", "account"),
            ("deliver", "storage"), ("api", "storage"), ("account", "storage"),
            ("mta", "deliver"), ("deliver", "enquiry"), ("api", "enquiry"),
            ("outgoing", "enquiry"), ("api", "outgoing")]
# Section 3.3: (ctx, id, length, holder)
SERVER_KEYS = [(b"acc-stat", 1, 32, "account"), (b"acc-addr", 1, 16, "account"),
               (b"acc-addr", 2, 16, "account"), (b"acc-invt", 1, 32, "account"),
               (b"sto-stat", 1, 32, "storage"), (b"sto-name", 1, 32, "storage"),
               (b"api-msid", 1, 32, "outgoing")]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_+"


def root_smk(smk):
    return hashlib.blake2b(smk, digest_size=32, person=b"allears SMK v1").digest()


def root_umk(umk):
    return hashlib.blake2b(umk, digest_size=32, person=b"allears UMK v1").digest()


def kdf(root, ctx, ident, n):
    assert len(ctx) == 8
    return hashlib.blake2b(b"", digest_size=n, key=root, salt=ident.to_bytes(8, "little") + bytes(8),
                           person=ctx + bytes(8)).digest()


def channel_id(client, server):
    return (ROLES[client] << 8) | ROLES[server]


def chacha(key, nonce12, data, counter=0):
    enc = Cipher(algorithms.ChaCha20(key, counter.to_bytes(4, "little") + nonce12), mode=None).encryptor()
    return enc.update(data) + enc.finalize()


def filename_perm(key):
    enc = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    stream = bytearray()
    pos = 0
    perm = list(ALPHABET)
    for i in range(63, 0, -1):
        n = i + 1
        limit = 256 - (256 % n)
        while True:
            if pos == len(stream):
                stream += enc.update(bytes(256))
            b = stream[pos]
            pos += 1
            if b < limit:
                break
        j = b % n
        perm[i], perm[j] = perm[j], perm[i]
    return "".join(perm)


def user_filename(perm, uid):
    return perm[uid & 63] + perm[uid >> 6]


def x25519_pub(sk):
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def x25519(sk, pk):
    # cryptography raises ValueError when the shared secret is all zero.
    return X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(pk))


def user_keys(umk):
    r = root_umk(umk)
    k = {name: kdf(r, b"usr-keys", i, 32) for i, name in ((1, "uak"), (2, "esk"), (3, "pfk"), (4, "ufk"))}
    k["root_umk"] = r
    k["epk"] = x25519_pub(k["esk"])
    return k


def bundle(role):
    items = ["%s:%d" % (ctx.decode(), i) for ctx, i, _, holder in SERVER_KEYS if holder == role]
    pairs = sorted((ROLES[c], ROLES[s]) for c, s in CHANNELS if role in (c, s))
    return items + ["channel_:%d:%d" % p for p in pairs]

# ---- Section 4: envelopes --------------------------------------------------

BLOCK, MIN_BLOCKS, MAX_BYTES, OVERHEAD = 32, 4, 48 * 1024 * 1024, 34
MAX_MSG = MAX_BYTES - OVERHEAD


def size_for(m):
    if m > MAX_MSG:
        return 0
    return 32 * max(MIN_BLOCKS, -(-(m + OVERHEAD) // BLOCK))


def key_nonce(shared, epk, blocks):
    h = hashlib.blake2b(shared + epk + blocks.to_bytes(4, "little"), digest_size=44).digest()
    return h[:32], h[32:]


def seal(msg, epk, e=None, pad_len=None, version=1, pad_byte=0):
    """Seals per 4.4; pad_len/version/pad_byte let a test build malformed envelopes."""
    length = size_for(len(msg))
    if pad_len is not None:
        length = OVERHEAD + len(msg) + pad_len
    pad = length - OVERHEAD - len(msg)
    e = e if e is not None else os.urandom(32)
    key, nonce = key_nonce(x25519(e, epk), epk, length // 32)
    p = bytes([version, pad & 0xFF]) + msg + bytes([pad_byte]) * pad
    return x25519_pub(e) + chacha(key, nonce, p)


def open_env(env, esk, epk):
    """Opens per 4.5; returns the message or raises ValueError."""
    length = len(env)
    if length % 32 or length < 128 or length > MAX_BYTES:
        raise ValueError("EINVAL")
    key, nonce = key_nonce(x25519(esk, env[:32]), epk, length // 32)
    p = chacha(key, nonce, env[32:])
    version, pad = p[0], p[1]
    if version != 1 or pad > length - 34:
        raise ValueError("EBADMSG")
    m = length - 34 - pad
    if size_for(m) != length or any(p[2 + m:]):
        raise ValueError("EBADMSG")
    return p[2:2 + m]

# ---- The harness ------------------------------------------------------------

failures = 0


def report(name, ok, detail=""):
    global failures
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok or not detail else " (%s)" % detail))
    if not ok:
        failures += 1
    sys.stdout.flush()


def tool(*args, data=b""):
    r = subprocess.run([ENVTOOL] + list(args), input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False)
    return r.returncode, r.stdout


def parse_smk_output(out):
    res = {"keys": {}, "pairs": {}, "bundles": {}}
    for line in out.decode().splitlines():
        f = line.split()
        if f[0] == "key":
            res["keys"][(f[1].encode(), int(f[2]))] = (int(f[3]), bytes.fromhex(f[4]))
        elif f[0] == "pair":
            res["pairs"][(int(f[1]), int(f[2]))] = bytes.fromhex(f[3])
        elif f[0] == "bundle":
            res["bundles"][f[1]] = f[2:]
        else:
            res[f[0]] = f[1]
    return res


def check_smk(name, smk):
    rc, out = tool("smk", smk.hex())
    if rc != 0:
        report(name, False, "envtool rc %d" % rc)
        return
    c = parse_smk_output(out)
    r = root_smk(smk)
    bad = []
    if c.get("smk_text") != smk.hex():
        bad.append("text")
    if c.get("root_smk") != r.hex():
        bad.append("root")
    want_keys = {(ctx, i): (n, kdf(r, ctx, i, n)) for ctx, i, n, _ in SERVER_KEYS}
    if c["keys"] != want_keys:
        bad.append("server keys")
    want_pairs = {(ROLES[a], ROLES[b]): kdf(r, b"channel_", channel_id(a, b), 32) for a, b in CHANNELS}
    if c["pairs"] != want_pairs:
        bad.append("pair keys")
    if c.get("perm") != filename_perm(kdf(r, b"sto-name", 1, 32)):
        bad.append("perm")
    if c["bundles"] != {role: bundle(role) for role in ROLES}:
        bad.append("bundles")
    report(name, not bad, ", ".join(bad))


def check_umk(name, umk, as_text):
    arg = base64.b64encode(umk).decode() if as_text else umk.hex()
    rc, out = tool("keys", arg)
    if rc != 0:
        report(name, False, "envtool rc %d" % rc)
        return
    got = dict(line.split() for line in out.decode().splitlines())
    want = {k: v.hex() for k, v in user_keys(umk).items()}
    want["umk_text"] = base64.b64encode(umk).decode()
    bad = [k for k in want if got.get(k) != want[k]]
    report(name, not bad and len(got) == len(want), ", ".join(bad))


# Golden values copied from docs/PROTOCOL.md section 3.8 and 4.7.
DOC_SMK = {
    "root": "f167bcf5b6db25ef0d9c8bd07d33ab2f1740bb4e910519ad474e0907d1f8febe",
    (b"acc-stat", 1): "d196f783f404b9241d72f6a16c55228a0c1237a8e328737892d541bf4e17cfea",
    (b"acc-addr", 1): "045c8677aef980ed694730926a68dc7c",
    (b"acc-addr", 2): "95ae3b97d6d52c3bdaab41e9d5f396f1",
    (b"sto-name", 1): "94ed168e51cc8a9555468b44d257ce840d77e84c8516e5184d8fd697cad1b5f5",
    ("api", "outgoing"): "0558a810217ebefc4cd8a0237ff5bae24bb148bf2b89f099e3cb7edc28ed3dd3",
    "perm": "fxZOymbT6wAMNo3uvCdDiP92FLa+7crIUK8qXWQ0G4sS_1EzHknl5pgYthJVeRBj",
}
DOC_UMK = {
    "root_umk": "ec5689d20a8c56cfd30ad8c9347dec192fbe1d8a6df45620d6a03db6bfbb03ca",
    "esk": "cc2af05ad86d4bea1bd0603da6f5fed16ce0e5f2d263f358f349271094a75171",
    "epk": "ff48cf243b6e0ada0994c48544e30e2acb0c11b98545735d6d2e5b27e8d8ad5c",
}
DOC_ENV_KAT = (
    "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a"
    "5dd27ee04019fbd2bc5875b928ad31576eb573a7e1152052e2c109574cc5168c"
    "f3f67e02b65b9677b646dbec952c9a5b778bf8dcf3d40a823c265f2d18ca0c66"
    "71ebe5c8c6ff2564480f6138060ee99b62d3cb89cf44cfbde1984d62fbd7fd64")


def main():
    if not os.access(ENVTOOL, os.X_OK):
        report("envtool_present", False, ENVTOOL)
        return 1

    # Python against the doc's golden vectors (checks this file and the doc agree).
    smk0, umk0 = bytes(range(46)), bytes(range(45))
    r = root_smk(smk0)
    ok = r.hex() == DOC_SMK["root"] and filename_perm(kdf(r, b"sto-name", 1, 32)) == DOC_SMK["perm"]
    ok = ok and kdf(r, b"channel_", channel_id("api", "outgoing"), 32).hex() == DOC_SMK[("api", "outgoing")]
    for k in [k for k in DOC_SMK if isinstance(k, tuple) and isinstance(k[0], bytes)]:
        ok = ok and kdf(r, k[0], k[1], len(DOC_SMK[k]) // 2).hex() == DOC_SMK[k]
    report("python_matches_doc_smk_vectors", ok)
    uk = user_keys(umk0)
    report("python_matches_doc_umk_vectors", all(uk[k].hex() == v for k, v in DOC_UMK.items()))
    kat = seal(b"allears envelope KAT", uk["epk"], e=bytes(range(0x40, 0x60)))
    report("python_matches_doc_envelope_kat", kat.hex() == DOC_ENV_KAT)
    perm = DOC_SMK["perm"]
    report("filename_examples", [user_filename(perm, u) for u in (0, 1, 63, 64, 100, 4095)] ==
           ["ff", "xf", "jf", "fx", "Xx", "jj"] and
           len({user_filename(perm, u) for u in range(4096)}) == 4096)

    # (c) every key of the table, C against Python.
    check_smk("smk_keys_golden", smk0)
    for i in range(4):
        check_smk("smk_keys_random_%d" % i, os.urandom(46))
    check_umk("umk_keys_golden_hex", umk0, False)
    check_umk("umk_keys_golden_text", umk0, True)
    for i in range(4):
        check_umk("umk_keys_random_%d" % i, os.urandom(45), i % 2 == 0)

    # Text forms: strict parsers.
    s = os.urandom(46)
    cases = [("parse_smk_ok", ("parse-smk", s.hex()), 0),
             ("parse_smk_upper", ("parse-smk", s.hex().upper()), 2),
             ("parse_smk_short", ("parse-smk", s.hex()[:-1]), 2),
             ("parse_smk_long", ("parse-smk", s.hex() + "0"), 2),
             ("parse_smk_newline", ("parse-smk", s.hex()[:-1] + "\n"), 2),
             ("parse_smk_nonhex", ("parse-smk", "g" + s.hex()[1:]), 2)]
    u = os.urandom(45)
    ut = base64.b64encode(u).decode()
    cases += [("parse_umk_ok", ("parse-umk", ut), 0),
              ("parse_umk_urlsafe", ("parse-umk", "-_" + ut[2:]), 2),
              ("parse_umk_pad", ("parse-umk", ut[:-1] + "="), 2),
              ("parse_umk_short", ("parse-umk", ut[:-4]), 2),
              ("parse_umk_space", ("parse-umk", ut[:-1] + " "), 2)]
    for name, args, want in cases:
        rc, out = tool(*args)
        ok = rc == want
        if ok and want == 0:
            ok = out.split()[1].decode() == (s.hex() if args[0] == "parse-smk" else u.hex())
        report(name, ok, "rc %d" % rc)

    # Sizes.
    ms = [0, 1, 94, 95, 96, 126, 127, 128, 1000, MAX_MSG - 1, MAX_MSG, MAX_MSG + 1, 10**12]
    bad = []
    for m in ms:
        rc, out = tool("size", str(m))
        if rc != 0 or int(out) != size_for(m):
            bad.append(m)
    report("envelope_sizes", not bad, str(bad))

    # (a) C seals, Python opens; (b) Python seals, C opens.
    umk = os.urandom(45)
    k = user_keys(umk)
    esk, epk = k["esk"], k["epk"]
    sizes = sorted({0, 1, 2, 31, 32, 33, 63, 64, 65, 93, 94, 95, 96, 97, 125, 126, 127, 128, 129,
                    158, 159, 160, 161, 190, 191, 255, 256, 1000, 4096, 65536 + 7, 1 << 20})
    for m in sizes:
        msg = os.urandom(m)
        rc, env = tool("seal", epk.hex(), data=msg)
        ok = rc == 0 and len(env) == size_for(m)
        try:
            ok = ok and open_env(env, esk, epk) == msg
        except ValueError:
            ok = False
        report("c_seals_python_opens_%d" % m, ok)
        env = seal(msg, epk)
        rc, out = tool("open", esk.hex(), data=env)
        report("python_seals_c_opens_%d" % m, rc == 0 and out == msg)

    # Largest message, both directions.
    msg = os.urandom(MAX_MSG)
    rc, env = tool("seal", epk.hex(), data=msg)
    ok = rc == 0 and len(env) == MAX_BYTES
    try:
        ok = ok and open_env(env, esk, epk) == msg
    except ValueError:
        ok = False
    report("c_seals_python_opens_max", ok)
    rc, out = tool("open", esk.hex(), data=seal(msg, epk))
    report("python_seals_c_opens_max", rc == 0 and out == msg)
    rc, _ = tool("seal", epk.hex(), data=msg + b"x")
    report("c_refuses_seal_over_max", rc == 2)
    del msg, env, out

    # Deterministic seal: the same bytes from both implementations.
    for m in (0, 20, 95, 300):
        msg, e = os.urandom(m), os.urandom(32)
        rc, env = tool("seal-eph", epk.hex(), e.hex(), data=msg)
        report("seal_with_ephemeral_identical_%d" % m, rc == 0 and env == seal(msg, epk, e=e))

    # Rejections by the C opener of envelopes Python built wrong.
    other = user_keys(os.urandom(45))
    msg = b"cross-test message"
    bad_cases = [
        ("c_rejects_wrong_key", seal(msg, other["epk"]), 3),
        ("c_rejects_version_0", seal(msg, epk, version=0), 3),
        ("c_rejects_version_2", seal(msg, epk, version=2), 3),
        ("c_rejects_nonzero_padding", seal(msg, epk, pad_byte=1), 3),
        ("c_rejects_noncanonical_pad", seal(os.urandom(100), epk, pad_len=32 + 26), 3),
        ("c_rejects_short_envelope", seal(msg, epk)[:-32], 2),
        ("c_rejects_unaligned", seal(msg, epk)[:-1], 2),
        ("c_rejects_empty", b"", 2),
        ("c_rejects_low_order_e", bytes(32) + seal(msg, epk)[32:], 3),
    ]
    for name, env, want in bad_cases:
        rc, out = tool("open", esk.hex(), data=env)
        report(name, rc == want and out == b"", "rc %d" % rc)
    # The non-canonical case above must really be otherwise well-formed.
    ok = True
    try:
        open_env(seal(os.urandom(100), epk, pad_len=58), esk, epk)
        ok = False
    except ValueError:
        pass
    report("python_rejects_noncanonical_pad", ok)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
