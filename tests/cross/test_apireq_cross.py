#!/usr/bin/python3
"""test_apireq_cross.py: an independent Python implementation of the API request
cryptography, written from docs/PROTOCOL.md section 12 (not from the C code),
checked against the C implementation through build/tests/apitool in both
directions. python3-cryptography 38 has no XChaCha20-Poly1305, so HChaCha20 is
implemented here from draft-irtf-cfrg-xchacha-03 on a ChaCha20 block function
of our own, and the AEAD is cryptography's ChaCha20Poly1305 under the derived
subkey.

Usage: /usr/bin/python3 test_apireq_cross.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import base64
import hashlib
import os
import struct
import subprocess
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
APITOOL = os.path.join(BUILD, "tests", "apitool")

failures = 0


def case(name, cond, detail=""):
    global failures
    if cond:
        print("PASS %s" % name)
    else:
        failures += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()


# ---- ChaCha20 block and HChaCha20 (RFC 8439 2.3, draft-irtf-cfrg-xchacha 2.2) ----

MASK = 0xFFFFFFFF


def rotl(v, c):
    return ((v << c) & MASK) | (v >> (32 - c))


def quarter(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & MASK
    s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & MASK
    s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & MASK
    s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & MASK
    s[b] = rotl(s[b] ^ s[c], 7)


def rounds(s):
    for _ in range(10):
        quarter(s, 0, 4, 8, 12)
        quarter(s, 1, 5, 9, 13)
        quarter(s, 2, 6, 10, 14)
        quarter(s, 3, 7, 11, 15)
        quarter(s, 0, 5, 10, 15)
        quarter(s, 1, 6, 11, 12)
        quarter(s, 2, 7, 8, 13)
        quarter(s, 3, 4, 9, 14)


CONSTANTS = list(struct.unpack("<4I", b"expand 32-byte k"))


def hchacha20(key, nonce16):
    s = CONSTANTS + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    rounds(s)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha_seal(key, nonce24, plaintext, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(bytes(4) + nonce24[16:], plaintext, ad)


def xchacha_open(key, nonce24, ciphertext, ad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).decrypt(bytes(4) + nonce24[16:], ciphertext, ad)


# ---- Section 12 ----

def url_bytes(ts, uid):
    return struct.pack("<QH", ts, uid)


def url_text(ts, uid):
    return base64.urlsafe_b64encode(url_bytes(ts, uid)).decode().rstrip("=")


def kdf(key, label, ts, uid):
    return hashlib.blake2b(label + url_bytes(ts, uid), digest_size=32, key=key).digest()


def k_req(uak, ts, uid):
    return kdf(uak, b"allears request v1", ts, uid)


def k_resp(key, ts, uid):
    return kdf(key, b"allears response v1", ts, uid)


def seal_request(uak, ts, uid, cmd, flags, args, nonce):
    ad = b"allears api v1" + url_bytes(ts, uid)
    return nonce + xchacha_seal(k_req(uak, ts, uid), nonce, bytes([cmd, flags]) + args, ad)


def open_request(uak, ts, uid, body):
    ad = b"allears api v1" + url_bytes(ts, uid)
    p = xchacha_open(k_req(uak, ts, uid), body[:24], body[24:], ad)
    return p[0], p[1], p[2:]


def seal_response(key, ts, uid, status, data, nonce, pad_extra=None):
    plain = bytes([status]) + struct.pack("<I", len(data)) + data
    plain += bytes((-len(plain)) % 256)
    if pad_extra is not None:
        plain += pad_extra
    ad = b"allears api v1 response" + url_bytes(ts, uid)
    return nonce + xchacha_seal(key, nonce, plain, ad)


def open_response(key, ts, uid, body):
    ad = b"allears api v1 response" + url_bytes(ts, uid)
    plain = xchacha_open(key, body[:24], body[24:], ad)
    n = struct.unpack_from("<I", plain, 1)[0]
    assert len(plain) % 256 == 0 and n <= len(plain) - 5
    assert len(plain) == (5 + n + 255) // 256 * 256
    assert plain[5 + n:] == bytes(len(plain) - 5 - n)
    return plain[0], plain[5:5 + n]


def invite_id(invite):
    return hashlib.blake2b(b"allears invite id" + invite, digest_size=16).digest()


def invite_key(invite):
    return hashlib.blake2b(b"allears register v1", digest_size=32, key=invite).digest()


def seal_register(invite, ts, wanted, uak, epk, nonce):
    iid = invite_id(invite)
    ad = b"allears register v1" + iid + url_bytes(ts, 0xFFFF)
    plain = struct.pack("<H", wanted) + uak + epk
    return iid + nonce + xchacha_seal(invite_key(invite), nonce, plain, ad)


def open_register(kinv, ts, body):
    iid = body[:16]
    ad = b"allears register v1" + iid + url_bytes(ts, 0xFFFF)
    p = xchacha_open(kinv, body[16:40], body[40:], ad)
    return struct.unpack_from("<H", p)[0], p[2:34], p[34:66]


# ---- driving the C side ----

def tool(*args):
    r = subprocess.run([APITOOL] + [str(a) for a in args], capture_output=True, text=True)
    return r.returncode, r.stdout.strip()


def hexor(b):
    return b.hex() if b else "-"


def golden():
    """The worked example of PROTOCOL.md 12.10 (also in tests/unit/test_apireq.c)."""
    uak = bytes(range(32))
    ts, uid = 1767225600000, 291
    return uak, ts, uid


def main():
    # Primitives against their published test vectors.
    out = hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927"))
    case("hchacha20_kat", out.hex() == "82413b4227b27bfed30e42508a877d73"
                                      "a0f9e4d58a74a853c12ec41326d3ecdc", out.hex())
    msg = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
           b"the future, sunscreen would be it.")
    ct = xchacha_seal(bytes(range(0x80, 0xa0)), bytes(range(0x40, 0x58)), msg,
                      bytes.fromhex("50515253c0c1c2c3c4c5c6c7"))
    case("xchacha20poly1305_kat", ct[:8].hex() == "bd6d179d3e83d43b" and
         ct[-16:].hex() == "c0875924c1c7987947deafd8780acf49", ct.hex())

    uak, ts, uid = golden()

    # URL text.
    rc, text = tool("url", ts, uid)
    case("url_text", rc == 0 and text == url_text(ts, uid) and len(text) == 14, text)
    rc, back = tool("url-parse", url_text(123456789, 4095))
    case("url_parse", rc == 0 and back == "123456789 4095")
    t = url_text(ts, uid)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 14 characters carry 84 bits: the last four bits must be zero.
    noncanon = t[:-1] + alphabet[alphabet.index(t[-1]) | 1]
    case("url_parse_noncanonical", tool("url-parse", noncanon)[0] == 2)
    case("url_parse_padding", tool("url-parse", t + "=")[0] == 2)
    case("url_parse_std_alphabet", tool("url-parse", t[:5] + "+" + t[6:])[0] == 2)

    # Keys.
    rc, keys = tool("keys", uak.hex(), ts, uid)
    case("keys", keys.split("\n") == ["kreq " + k_req(uak, ts, uid).hex(),
                                      "kresp " + k_resp(uak, ts, uid).hex()], keys)

    # Requests, both directions, several argument lengths.
    for n in (0, 1, 14, 300, 5000):
        args = os.urandom(n)
        nonce = os.urandom(24)
        mine = seal_request(uak, ts, uid, 7, 0, args, nonce)
        rc, theirs = tool("seal", uak.hex(), ts, uid, 7, 0, hexor(args), nonce.hex())
        case("request_seal_%d" % n, rc == 0 and theirs == mine.hex())
        rc, opened = tool("open", uak.hex(), ts, uid, mine.hex())
        case("request_c_opens_python_%d" % n, rc == 0 and opened == "7 0 " + hexor(args))
        rc, theirs = tool("seal", uak.hex(), ts, uid, 200, 3, hexor(args))
        got = open_request(uak, ts, uid, bytes.fromhex(theirs))
        case("request_python_opens_c_%d" % n, got == (200, 3, args))

    # Tampering: every kind fails in C.
    body = bytearray(seal_request(uak, ts, uid, 1, 0, b"abc", os.urandom(24)))
    for name, pos in (("nonce", 3), ("ciphertext", 25), ("tag", len(body) - 1)):
        t = bytearray(body)
        t[pos] ^= 0x10
        case("request_tamper_" + name, tool("open", uak.hex(), ts, uid, t.hex())[0] == 3)
    case("request_wrong_uid", tool("open", uak.hex(), ts, uid + 1, body.hex())[0] == 3)
    case("request_wrong_ts", tool("open", uak.hex(), ts + 1, uid, body.hex())[0] == 3)
    case("request_wrong_key", tool("open", bytes(32).hex(), ts, uid, body.hex())[0] == 3)
    case("request_too_short", tool("open", uak.hex(), ts, uid, body[:41].hex())[0] == 2)

    # Responses: sizes are whole 256-byte blocks.
    kr = k_resp(uak, ts, uid)
    for n in (0, 1, 250, 251, 252, 1000):
        data = os.urandom(n)
        nonce = os.urandom(24)
        mine = seal_response(kr, ts, uid, 5, data, nonce)
        rc, theirs = tool("resp-seal", kr.hex(), ts, uid, 5, hexor(data), nonce.hex())
        case("response_seal_%d" % n, rc == 0 and theirs == mine.hex() and
             len(mine) == 40 + (5 + n + 255) // 256 * 256)
        rc, opened = tool("resp-open", kr.hex(), ts, uid, mine.hex())
        case("response_c_opens_python_%d" % n, rc == 0 and opened == "5 " + hexor(data))
        rc, theirs = tool("resp-seal", kr.hex(), ts, uid, 0, hexor(data))
        case("response_python_opens_c_%d" % n,
             open_response(kr, ts, uid, bytes.fromhex(theirs)) == (0, data))
    nonce = os.urandom(24)
    extra = seal_response(kr, ts, uid, 0, b"x", nonce, pad_extra=bytes(256))
    case("response_extra_block", tool("resp-open", kr.hex(), ts, uid, extra.hex())[0] == 3)
    plain = b"\x00" + struct.pack("<I", 1) + b"x" + b"\x01" + bytes(249)
    ad = b"allears api v1 response" + url_bytes(ts, uid)
    dirty = nonce + xchacha_seal(kr, nonce, plain, ad)
    case("response_dirty_padding", tool("resp-open", kr.hex(), ts, uid, dirty.hex())[0] == 3)
    plain = b"\x00" + struct.pack("<I", 252) + bytes(251)
    long = nonce + xchacha_seal(kr, nonce, plain, ad)
    case("response_length_overruns", tool("resp-open", kr.hex(), ts, uid, long.hex())[0] == 3)
    good = bytearray(seal_response(kr, ts, uid, 0, b"ok", nonce))
    good[30] ^= 4
    case("response_tamper", tool("resp-open", kr.hex(), ts, uid, good.hex())[0] == 3)
    case("response_wrong_uid", tool("resp-open", kr.hex(), ts, uid ^ 1,
                                    seal_response(kr, ts, uid, 0, b"", nonce).hex())[0] == 3)

    # Invitations and registration.
    invite = os.urandom(32)
    text = base64.urlsafe_b64encode(invite).decode().rstrip("=")
    rc, info = tool("invite-info", text)
    case("invite_info", rc == 0 and info.split("\n") == [
        "id " + invite_id(invite).hex(), "key " + invite_key(invite).hex(),
        "bytes " + invite.hex()], info)
    rc, fresh = tool("invite-new")
    case("invite_new_text", rc == 0 and len(fresh) == 43 and
         base64.urlsafe_b64decode(fresh + "=") is not None)
    # 43 characters carry 258 bits: the last two bits must be zero.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    noncanon = text[:-1] + alphabet[alphabet.index(text[-1]) | 1]
    case("invite_text_noncanonical", tool("invite-info", noncanon)[0] == 2)
    case("invite_text_short", tool("invite-info", text[:-1])[0] == 2)
    epk = os.urandom(32)
    for wanted in (0xFFFF, 0, 4095):
        nonce = os.urandom(24)
        mine = seal_register(invite, ts, wanted, uak, epk, nonce)
        rc, theirs = tool("reg-seal", text, ts, wanted, uak.hex(), epk.hex(), nonce.hex())
        case("register_seal_%d" % wanted, rc == 0 and theirs == mine.hex() and len(mine) == 122)
        rc, opened = tool("reg-open", invite_key(invite).hex(), ts, mine.hex())
        case("register_c_opens_python_%d" % wanted,
             rc == 0 and opened == "%d %s %s" % (wanted, uak.hex(), epk.hex()))
        rc, theirs = tool("reg-seal", text, ts, wanted, uak.hex(), epk.hex())
        case("register_python_opens_c_%d" % wanted,
             open_register(invite_key(invite), ts, bytes.fromhex(theirs)) == (wanted, uak, epk))
    case("register_wanted_out_of_range",
         tool("reg-seal", text, ts, 4096, uak.hex(), epk.hex())[0] == 2)
    bad = seal_register(invite, ts, 4096, uak, epk, os.urandom(24))
    case("register_open_out_of_range",
         tool("reg-open", invite_key(invite).hex(), ts, bad.hex())[0] == 3)
    reg = seal_register(invite, ts, 7, uak, epk, os.urandom(24))
    case("register_wrong_ts", tool("reg-open", invite_key(invite).hex(), ts + 1, reg.hex())[0] == 3)
    t = bytearray(reg)
    t[0] ^= 1  # the invite id is authenticated data
    case("register_tamper_id", tool("reg-open", invite_key(invite).hex(), ts, t.hex())[0] == 3)

    # The worked example of the document, recomputed here.
    uak, ts, uid = golden()
    req = seal_request(uak, ts, uid, 1, 0, b"", bytes(range(0x40, 0x58)))
    resp = seal_response(k_resp(uak, ts, uid), ts, uid, 0, b"ok", bytes(range(0x60, 0x78)))
    rc, c_req = tool("seal", uak.hex(), ts, uid, 1, 0, "-", bytes(range(0x40, 0x58)).hex())
    case("golden_request", c_req == req.hex())
    case("golden_url", url_text(ts, uid) == GOLDEN["url"])
    case("golden_keys", k_req(uak, ts, uid).hex() == GOLDEN["kreq"] and
         k_resp(uak, ts, uid).hex() == GOLDEN["kresp"])
    case("golden_request_doc", req.hex() == GOLDEN["request"])
    case("golden_response_doc", resp.hex() == GOLDEN["response"])
    inv = bytes(range(0xa0, 0xc0))
    epk = bytes.fromhex("ff48cf243b6e0ada0994c48544e30e2acb0c11b98545735d6d2e5b27e8d8ad5c")
    reg = seal_register(inv, ts, 0xFFFF, uak, epk, bytes(range(0x80, 0x98)))
    case("golden_invite", base64.urlsafe_b64encode(inv).decode().rstrip("=") ==
         GOLDEN["invite"] and invite_id(inv).hex() == GOLDEN["invite_id"] and
         invite_key(inv).hex() == GOLDEN["kinv"])
    case("golden_register", reg.hex() == GOLDEN["register"])
    case("golden_register_kresp", k_resp(invite_key(inv), ts, 0xFFFF).hex() ==
         GOLDEN["register_kresp"])
    rc, c_reg = tool("reg-seal", GOLDEN["invite"], ts, 0xFFFF, uak.hex(), epk.hex(),
                     bytes(range(0x80, 0x98)).hex())
    case("golden_register_c", c_reg == GOLDEN["register"])


# PROTOCOL.md 12.10: UAK 00..1f, ts 1767225600000, uid 291; request cmd 1, nonce 40..57;
# response status 0, data "ok", nonce 60..77; invitation a0..bf, registration nonce 80..97.
GOLDEN = {
    "url": "AKjadpsBAAAjAQ",
    "kreq": "5edbd379f35732261e7f8e9742b010bd9e627e5aabe53e5887610ac71e8756a7",
    "kresp": "5a74cd43ea01a2792f1abbcecf61c8e4af137a2152abd03b6863a53a3c62f67e",
    "request": "404142434445464748494a4b4c4d4e4f5051525354555657"
               "aab94685828b90467561ecaae6c4e52f9958",
    "invite": "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8",
    "invite_id": "bd521698e4475792a43bbe82924ef560",
    "kinv": "ed77cd1d0c56ee0c60c09dfb5c373175fe0b893d3c303358e6ad06388e6c8bb8",
    "register": "bd521698e4475792a43bbe82924ef560808182838485868788898a8b8c8d8e8f9091929394959697"
                "09f25eda0225ed7049fc218f53382c7bcde007616c7f3cfe2f818305aac318f1bd03073bbbd3f7d3"
                "18db2313e779e36558dcaf8146505c3ce5b58abed35633f553815bd90602cdbab74c5e40df655370"
                "47d8",
    "register_kresp": "31facc6e0096b132ae97f845c689b3e35487af369e0d3e80c8c65f20611928e1",
    "response": ("606162636465666768696a6b6c6d6e6f7071727374757677a25fb9a2a33b91a391b1d7e403f32ded"
                 "2e1b3dddafb2ac047cc5cd21017d2a7573034a6476eed5fdcdbae3943f774f6f0aa525bad5608349"
                 "61248aac2004ec4ab890c4b8ff4d48b35c6d68240fd8ceb7d0b873b0c827571e1b4db8a889280ba8"
                 "8540000d35c749c1e9e240e7a52ba645916d686b78e75fc61f50d350c8ddd022817e96224178da15"
                 "a9c9261acf659374200ceb696c5bbe5c570173544ea55eaa7c763fb67b3abbe23111a212138cc66b"
                 "6210633154611b339e0992b68ff23f826fbbf130ba4b73b190e93006a3c6894808575080286d2fd2"
                 "f62b50904d6b6037f643edc711162bb98b0c204ba10eff99dce9a17878ca2b5ff5ce0cb6dd613ae6"
                 "a8b84c117a18c2cf97130f5c85a6669a"),
}


if __name__ == "__main__":
    main()
    sys.exit(1 if failures else 0)
