#!/usr/bin/python3
"""test_client_commands.py: every allears command, end to end, against a
stand-in for the API daemon written here in Python from docs/PROTOCOL.md
(sections 4, 5, 12, 14) and not from the C code: HTTPS with Python's ssl and
http.server, its own XChaCha20-Poly1305, envelope sealing, message encoders
and a small Account/Storage model. Until the real API daemon exists this
checks the client's side of the protocol: registration, account info, the
private field (never readable by the server), addresses (the normal hash
checked against argon2-cffi), flags, internal mail, uploads and downloads
(client-encrypted), reading hostile mail safely, attachments, deletion,
admin commands, --json, and the errors of allears(1) with their exit codes
(wrong key, replay, clock skew, busy server, wrong passphrase, an unsafe key
file, a bad config file, usage errors).

Usage: /usr/bin/python3 test_client_commands.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import base64
import datetime
import email.utils
import hashlib
import http.server
import ipaddress
import json
import os
import pty
import ssl
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time

from argon2.low_level import Type, hash_secret_raw
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
ALLEARS = os.path.join(BUILD, "allears")
failures = 0


def case(name, cond, detail=""):
    global failures
    if cond:
        print("PASS %s" % name)
    else:
        failures += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()


# ---- XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03) ----

M32 = 0xFFFFFFFF


def _rotl(v, c):
    return ((v << c) & M32) | (v >> (32 - c))


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & M32
    s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & M32
    s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & M32
    s[b] = _rotl(s[b] ^ s[c], 7)


def hchacha20(key, n16):
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + \
        list(struct.unpack("<4I", n16))
    for _ in range(10):
        _qr(s, 0, 4, 8, 12), _qr(s, 1, 5, 9, 13), _qr(s, 2, 6, 10, 14), _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15), _qr(s, 1, 6, 11, 12), _qr(s, 2, 7, 8, 13), _qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xseal(key, nonce, pt, ad):
    return ChaCha20Poly1305(hchacha20(key, nonce[:16])).encrypt(bytes(4) + nonce[16:], pt, ad)


def xopen(key, nonce, ct, ad):
    return ChaCha20Poly1305(hchacha20(key, nonce[:16])).decrypt(bytes(4) + nonce[16:], ct, ad)


# ---- Section 12 ----

def url_bytes(ts, uid):
    return struct.pack("<QH", ts, uid)


def kdf12(key, label, ts, uid):
    return hashlib.blake2b(label + url_bytes(ts, uid), digest_size=32, key=key).digest()


def seal_response(key, ts, uid, status, data):
    plain = bytes([status]) + struct.pack("<I", len(data)) + data
    plain += bytes((-len(plain)) % 256)
    nonce = os.urandom(24)
    return nonce + xseal(key, nonce, plain, b"allears api v1 response" + url_bytes(ts, uid))


def invite_id(inv):
    return hashlib.blake2b(b"allears invite id" + inv, digest_size=16).digest()


def invite_key(inv):
    return hashlib.blake2b(b"allears register v1", digest_size=32, key=inv).digest()


# ---- Section 2: Addr32 and hashes ----

def addr32(text):
    vals = []
    for ch in text.lower():
        if ch.isdigit():
            vals.append(int(ch))
        elif ch in "oO":
            vals.append(0)
        elif ch in "il":
            vals.append(1)
        elif ch == "v":
            vals.append(28)
        elif "a" <= ch <= "z":
            vals.append("0123456789abcdefghjkmnpqrstuwxyz".index(ch))
    n = min(len(vals), 16)
    bits = [0] * 80
    nib = (vals[15] & 15) if n == 16 else n
    bits[0] = 1 if n == 16 else 0
    for k in range(4):
        bits[1 + k] = (nib >> (3 - k)) & 1
    for i in range(min(n, 15)):
        for k in range(5):
            bits[5 + 5 * i + k] = (vals[i] >> (4 - k)) & 1
    return bytes(int("".join(map(str, bits[8 * j:8 * j + 8])), 2) for j in range(10))


SALT = bytes(range(0x30, 0x40))
OPS, MEM_KIB = 1, 8192


def normal_hash(a):
    h = hash_secret_raw(a, SALT, OPS, MEM_KIB, 1, 16, Type.ID, 19)
    return bytes(x ^ y for x, y in zip(h[:8], h[8:]))


def shield_hash(a):  # the stand-in's own keyed hash; the client never computes it
    return hashlib.blake2b(a, digest_size=8, key=b"fake shield key").digest()


# ---- Sections 4 and 5: envelopes and messages ----

def chacha(key, nonce12, data):
    enc = Cipher(algorithms.ChaCha20(key, bytes(4) + nonce12), mode=None).encryptor()
    return enc.update(data) + enc.finalize()


def seal_envelope(msg, epk):
    length = 32 * max(4, -(-(len(msg) + 34) // 32))
    pad = length - 34 - len(msg)
    e = X25519PrivateKey.generate()
    shared = e.exchange(X25519PublicKey.from_public_bytes(epk))
    h = hashlib.blake2b(shared + epk + (length // 32).to_bytes(4, "little"), digest_size=44).digest()
    epub = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return epub + chacha(h[:32], h[32:], bytes([1, pad]) + msg + bytes(pad))


def header(mtype, ts):
    return bytes([1, mtype, 0, 0]) + struct.pack("<Q", ts)


def s8(b):
    return bytes([len(b)]) + b


def s16(b):
    return struct.pack("<H", len(b)) + b


def s32(b):
    return struct.pack("<I", len(b)) + b


def int_msg(ts, frm, to, subject, body, admin):
    return header(1, ts) + bytes([1, 1 if admin else 0]) + frm + to + s8(subject) + s32(body)


def upl_msg(ts, kind, parent, media, name, data):
    return header(3, ts) + struct.pack("<Q", parent) + bytes([kind]) + s8(media) + s8(name) + s32(data)


def ext_msg(ts, ref, subject, hdr_from, body, attach_count):
    fixed = (header(0, ts) + struct.pack("<Q", ref) + bytes([4, 4]) + struct.pack("<H", 0x1301)
             + bytes([192, 0, 2, 7]) + bytes(12) + struct.pack("<H", 0x0003) + bytes([3, 2])
             + struct.pack("<h", -32768) + bytes([0, attach_count]) + struct.pack("<i", -2**31)
             + b"DE")
    return (fixed + s8(b"eve@example.net") + s8(b"bob") + s8(b"mx.example.net") + s8(b"")
            + s8(b"") + s16(hdr_from) + s16(b"bob@example.org") + s16(b"") + s16(b"")
            + s16(b"id@x") + s16(b"") + s16(subject) + s32(b"X-A: 1") + s32(body))


# ---- the stand-in server ----

class Fake:
    def __init__(self):
        self.lock = threading.Lock()
        self.invites = {}
        self.users = {}
        self.next_id = 1
        self.offset_ms = 0
        self.busy = False
        self.limits = {0: (256, 3, 10), 1: (1024, 10, 31), 2: (4096, 31, 31), 3: (65536, 31, 31)}
        self.shields = {}
        self.requests = 0

    def invite(self, level, master=False, prefix=""):
        inv = os.urandom(32)
        while not base64.urlsafe_b64encode(inv).decode().startswith(prefix):
            inv = os.urandom(32)
        self.invites[invite_id(inv)] = (invite_key(inv), level, master)
        return base64.urlsafe_b64encode(inv).decode().rstrip("=")

    def store(self, uid, msg):
        u = self.users[uid]
        i = self.next_id
        self.next_id += 1
        u["mail"].append((i, seal_envelope(msg, u["epk"])))
        return i

    def owner(self, a):
        kind = 1 if a[0] & 0x80 else 0
        h = shield_hash(a) if kind else normal_hash(a)
        for uid, u in self.users.items():
            for s in u["addrs"]:
                if s[0] == h and (s[1] >> 7) == kind:
                    return uid, s
        return None, None

    def command(self, uid, cmd, args, now):
        u = self.users[uid]
        if cmd == 1:
            lim = self.limits[u["level"]]
            used = sum(len(e) for _, e in u["mail"])
            d = struct.pack("<HBBIBBBBQI", uid, u["level"], len(u["addrs"]), lim[0], lim[1], lim[2],
                            1, 0, used, len(u["mail"]))
            d += bytes([1, OPS, 0, 0]) + struct.pack("<I", MEM_KIB) + SALT
            d += struct.pack("<HH", len(u["private"]), 0)
            for h, f in u["addrs"]:
                d += h + bytes([f])
            return 0, d
        if cmd == 2:
            del self.users[uid]
            return 0, b""
        if cmd == 3:
            return 0, u["private"]
        if cmd == 4:
            u["private"] = args
            return 0, b""
        if cmd == 5:
            if any(s[0] == args and s[1] < 0x80 for v in self.users.values() for s in v["addrs"]):
                return 2, b""
            u["addrs"].append([args, 0x0E])
            return 0, b""
        if cmd == 6:
            a = bytes([os.urandom(1)[0] | 0x80]) + os.urandom(9)
            h = shield_hash(a)
            u["addrs"].append([h, 0x8E])
            return 0, h + a
        if cmd in (7, 8):
            h, kind = args[:8], args[8]
            for s in u["addrs"]:
                if s[0] == h and (s[1] >> 7) == kind:
                    if cmd == 7:
                        u["addrs"].remove(s)
                    else:
                        s[1] = (s[1] & 0x80) | (args[9] & 0x3F)
                    return 0, b""
            return 1, b""
        if cmd == 16:
            bflags, _, frm, _, maxc = struct.unpack("<BBIII", args)
            oldest, incl = bflags & 1, bflags & 2
            mail = sorted(u["mail"], reverse=not oldest)
            if frm:
                if oldest:
                    mail = [m for m in mail if m[0] > frm or (incl and m[0] == frm)]
                else:
                    mail = [m for m in mail if m[0] < frm or (incl and m[0] == frm)]
            maxc = maxc or 4096
            page, more = mail[:maxc], len(mail) > maxc
            total = sum(len(e) for _, e in u["mail"])
            d = struct.pack("<BHIIIQ", more, 0, len(page), len(u["mail"]), 0, total)
            d += b"".join(struct.pack("<II", i, len(e) // 32) for i, e in page)
            return 0, d + b"".join(e for _, e in page)
        if cmd == 17:
            (i,) = struct.unpack("<I", args)
            n = len(u["mail"])
            u["mail"] = [m for m in u["mail"] if m[0] != i]
            return (0 if len(u["mail"]) < n else 1), b""
        if cmd == 18:
            u["mail"] = []
            return 0, b""
        if cmd == 19:
            nl = args[0]
            name, data = args[1:1 + nl], args[1 + nl:]
            return 0, struct.pack("<I", self.store(uid, upl_msg(now, 0, 0, b"", name, data)))
        if cmd == 20:
            frm, to, sl = args[:10], args[10:20], args[20]
            subject = args[21:21 + sl]
            body = args[21 + sl + 4:]
            fo, _ = self.owner(frm)
            if fo != uid:
                return 14, b""
            to_uid, slot = self.owner(to)
            if to_uid is None:
                return 1, b""
            if to_uid == uid:
                return 12, b""
            if not slot[1] & 1 and u["level"] < 3:
                return 13, b""
            self.store(to_uid, int_msg(now, frm, to, subject, body, u["level"] == 3))
            return 0, b""
        if cmd >= 32 and u["level"] != 3:
            return 6, b""
        if cmd == 32:
            d = struct.pack("<H", len(self.users))
            for i in sorted(self.users):
                v = self.users[i]
                sh = sum(1 for s in v["addrs"] if s[1] & 0x80)
                d += struct.pack("<HBBB", i, v["level"], len(v["addrs"]) - sh, sh)
            return 0, d
        if cmd == 33:
            t, lvl = struct.unpack("<HB", args)
            if t not in self.users:
                return 1, b""
            self.users[t]["level"] = lvl
            return 0, b""
        if cmd == 34:
            lvl, mn, ms, _, mib = struct.unpack("<BBBBI", args)
            self.limits[lvl] = (mib, mn, ms)
            return 0, b""
        if cmd == 35:
            lvl, life = args[0], struct.unpack("<I", args[4:])[0]
            text = self.invite(lvl)
            inv = base64.urlsafe_b64decode(text + "=")
            return 0, inv + struct.pack("<Q", now + life * 1000)
        if cmd == 36:
            (t,) = struct.unpack("<H", args)
            if t not in self.users:
                return 1, b""
            del self.users[t]
            return 0, b""
        return 4, b""


FAKE = Fake()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, code, body=b"", headers=()):
        self.send_response_only(code)
        now = time.time() + FAKE.offset_ms / 1000
        self.send_header("Date", email.utils.formatdate(now, usegmt=True))
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with FAKE.lock:
            FAKE.requests += 1
            code, out = self.handle_api(body)
        self.answer(code, out, [("Retry-After", "5")] if code == 503 else [])

    def handle_api(self, body):
        if not self.path.startswith("/v1/") or len(self.path) != 18:
            return 404, b""
        try:
            ts, uid = struct.unpack("<QH", base64.urlsafe_b64decode(self.path[4:] + "=="))
        except ValueError:
            return 400, b""
        if FAKE.busy:
            return 503, b""
        now = int(time.time() * 1000) + FAKE.offset_ms
        if abs(ts - now) > 30000:
            return 412, b""
        if uid == 0xFFFF:
            if len(body) != 122 or body[:16] not in FAKE.invites:
                return 403 if len(body) == 122 else 400, b""
            kinv, level, master = FAKE.invites[body[:16]]
            try:
                p = xopen(kinv, body[16:40], body[40:],
                          b"allears register v1" + body[:16] + url_bytes(ts, uid))
            except Exception:
                return 403, b""
            wanted = struct.unpack("<H", p[:2])[0]
            new = 0 if master else (wanted if wanted != 0xFFFF else
                                    min(set(range(1, 4096)) - set(FAKE.users)))
            if new in FAKE.users:
                return 200, seal_response(kdf12(kinv, b"allears response v1", ts, uid), ts, uid,
                                          2, b"")
            del FAKE.invites[body[:16]]
            FAKE.users[new] = dict(uak=p[2:34], epk=p[34:66], level=level, addrs=[], private=b"",
                                   last=ts, mail=[])
            return 200, seal_response(kdf12(kinv, b"allears response v1", ts, uid), ts, uid, 0,
                                      struct.pack("<HB", new, level))
        u = FAKE.users.get(uid)
        if u is None or len(body) < 42:
            return 403, b""
        try:
            p = xopen(kdf12(u["uak"], b"allears request v1", ts, uid), body[:24], body[24:],
                      b"allears api v1" + url_bytes(ts, uid))
        except Exception:
            return 403, b""
        if ts <= u["last"]:
            return 409, b""
        u["last"] = ts
        if p[1] != 0:
            status, data = 4, b""
        else:
            status, data = FAKE.command(uid, p[0], p[2:], now)
        return 200, seal_response(kdf12(u["uak"], b"allears response v1", ts, uid), ts, uid,
                                  status, data)


def make_cert(d):
    now = datetime.datetime.utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake API CA")])
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address(
                                                            "127.0.0.1"))]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    paths = [os.path.join(d, n) for n in ("ca.pem", "srv.pem", "srv.key")]
    with open(paths[0], "wb") as f:
        f.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(leaf.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths


# ---- driving the client ----

def run(home, *args, stdin=None, env=None):
    e = dict(os.environ, ALLEARS_HOME=home)
    for k in ("ALLEARS_SERVER", "ALLEARS_PORT", "ALLEARS_CA", "NO_COLOR"):
        e.pop(k, None)
    e.update(env or {})
    p = subprocess.run([ALLEARS] + list(args), input=stdin, capture_output=True, timeout=60,
                       env=e)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def jrun(home, *args, **kw):
    rc, out, err = run(home, "--json", *args, **kw)
    try:
        return rc, json.loads(out.splitlines()[-1]) if out.strip() else None, err
    except ValueError:
        return rc, None, err + " [stdout not JSON: %r]" % out


def new_home(d, name, port, ca):
    h = os.path.join(d, name)
    os.mkdir(h, 0o700)
    with open(os.path.join(h, "config"), "w") as f:
        f.write("# test\nserver = localhost\nport = %d\nca = %s\ntimeout = 10\n" % (port, ca))
    return h


def safe_terminal_text(s):
    return not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F or
                   ord(c) in (0x061C, 0x200E, 0x200F, 0x2028, 0x2029) or
                   0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in s)


def main():
    if not os.path.exists(ALLEARS):
        print("FAIL build: %s is missing" % ALLEARS)
        return 1
    d = tempfile.mkdtemp(prefix="client_cmds.")
    ca, cert, key = make_cert(d)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    admin = new_home(d, "admin", port, ca)
    bob = new_home(d, "bob", port, ca)

    # init: the key is shown once on stdout, stored 0600, exported the same.
    rc, out, err = run(admin, "init")
    umk_admin = out.strip()
    st = os.stat(os.path.join(admin, "umk"))
    case("init", rc == 0 and len(umk_admin) == 60 and "shown" in err
         and stat.S_IMODE(st.st_mode) == 0o600, "rc=%d out=%r err=%r" % (rc, out, err))
    rc, out, _ = run(admin, "key", "export")
    case("key_export", rc == 0 and out.strip() == umk_admin)
    rc, _, err = run(admin, "init")
    case("init_refuses_overwrite", rc == 1 and "already exists" in err, err)

    # Registration with the bootstrap (master) invitation: UserID 0, level 3.
    boot = FAKE.invite(3, master=True, prefix="-")  # base64url may start with '-'

    rc, out, err = run(admin, "register", boot)
    case("register_master", rc == 0 and "registered as aaa (UserID 0), level 3" in out,
         "rc=%d out=%r err=%r" % (rc, out, err))
    rc, out, err = run(admin, "register", boot)
    case("register_twice_refused", rc == 1 and "already registered as aaa" in err, err)
    rc, j, err = jrun(admin, "whoami")
    case("whoami_json", rc == 0 and j and j["uid"] == 0 and j["level"] == 3
         and j["user"] == "aaa" and j["addresses"] == [], "rc=%d j=%r err=%r" % (rc, j, err))

    # An invitation for bob, whose key has a passphrase.
    rc, j, err = jrun(admin, "admin", "invite", "--level", "0", "--days", "7")
    inv = j and j["invitation"]
    case("admin_invite", rc == 0 and inv and len(inv) == 43
         and abs(j["expires_ms"] - (time.time() + 7 * 86400) * 1000) < 60000, err)
    pf = os.path.join(d, "pass")
    with open(pf, "w") as f:
        f.write("bob's secret\n")
    rc, out, err = run(bob, "init", "--passphrase", "--passphrase-file", pf)
    umk_bob = out.strip()
    with open(os.path.join(bob, "umk"), "rb") as f:
        raw = f.read()
    case("init_with_passphrase", rc == 0 and len(raw) == 117 and raw[:7] == b"AEUMK\x01\x01"
         and base64.b64decode(umk_bob) not in raw, err)
    rc, out, err = run(bob, "register", inv)
    case("register_needs_passphrase", rc == 2 and "--passphrase-file" in err, err)
    rc, out, err = run(bob, "--passphrase-file", pf, "register", inv)
    case("register_invited", rc == 0 and "(UserID 1), level 0" in out, out + err)
    rc, out, err = run(bob, "--passphrase-file", pf, "register", "--force", inv)
    case("invitation_single_use", rc == 4 and "invitation is unknown, already used or expired"
         in err, "rc=%d err=%r" % (rc, err))
    env_pf = {"ALLEARS_PASSPHRASE_FILE": pf}

    # A normal address: hashed by the client exactly as section 2.6 says;
    # its name goes into the private field, which the server cannot read.
    rc, out, err = run(bob, "address", "add", "Bob.Smith", "--nick", "main", env=env_pf)
    bob_addrs = FAKE.users[1]["addrs"]
    case("address_add_normal", rc == 0 and "added Bob.Smith (canonical form b0bsm1th)" in out
         and bob_addrs == [[normal_hash(addr32("Bob.Smith")), 0x0E]],
         "rc=%d out=%r err=%r addrs=%r" % (rc, out, err, bob_addrs))
    priv = FAKE.users[1]["private"]
    case("private_field_opaque", len(priv) == 41 + 256 and priv[0] == 1
         and b"Bob" not in priv and b"main" not in priv and b"b0bsm1th" not in priv)
    rc, out, err = run(bob, "address", "shield", env=env_pf)
    shield = out.strip()
    case("address_shield", rc == 0 and len(shield) == 16 and len(FAKE.users[1]["addrs"]) == 2
         and FAKE.users[1]["addrs"][1][1] == 0x8E, out + err)
    rc, j, err = jrun(bob, "address", "list", env=env_pf)
    names = [(a["address"], a["kind"], a["nick"]) for a in (j or {}).get("addresses", [])]
    case("address_list", rc == 0 and names == [("Bob.Smith", "normal", "main"),
                                               (shield, "shield", "")], repr(j) + err)
    rc, out, err = run(bob, "address", "flags", "main", "+accept-internal", "-attachments",
                       env=env_pf)
    case("address_flags_by_nick", rc == 0 and FAKE.users[1]["addrs"][0][1] == 0x07
         and "accept-internal accept-external all-versions" in out, out + err)
    rc, out, err = run(bob, "address", "add", "zzzzzzzzzzzzzzzz", env=env_pf)
    case("address_add_16_chars_is_usage", rc == 2 and "16 letters and digits" in err, err)
    rc, out, err = run(admin, "address", "add", "Bob.Smith")
    case("address_taken", rc == 1 and "is taken" in err, err)
    rc, out, err = run(admin, "address", "add", "postmaster")
    case("admin_address", rc == 0, err)

    # Internal mail, admin -> bob; bob lists and reads it.
    rc, out, err = run(admin, "send", "postmaster", "b0bsm1th@example.org", "Hello Bob", "-",
                       stdin=b"Line one\r\n\tLine two\x1b[31m\n")
    case("send_internal", rc == 0 and out.strip() == "sent", err)
    rc, out, err = run(admin, "send", "nobody", "Bob.Smith", "x")
    case("send_not_owner", rc == 1 and "you do not own the address 'nobody'" in err, err)
    rc, out, err = run(admin, "send", "postmaster", "nobody", "x")
    case("send_unknown_recipient", rc == 1 and "nobody has the address 'nobody'" in err, err)
    rc, out, err = run(bob, "mail", "list", env=env_pf)
    lines = out.splitlines()
    case("mail_list", rc == 0 and len(lines) == 2 and "p0stmaster" in lines[1]
         and "Hello Bob" in lines[1], out + err)
    mid = int(lines[1].split()[0]) if rc == 0 and len(lines) == 2 else 0
    rc, out, err = run(bob, "mail", "read", str(mid), env=env_pf)
    case("mail_read_internal", rc == 0 and "From:     p0stmaster (administrator)" in out
         and "Subject:  Hello Bob" in out and "Line one\n Line two[31m\n" in out
         and "\x1b" not in out, repr(out) + err)
    rc, j, err = jrun(bob, "mail", "read", str(mid), env=env_pf)
    case("mail_read_json", rc == 0 and j["type"] == "message" and j["admin"] is True
         and j["body"] == "Line one\n Line two[31m\n" and j["from_address"] == "p0stmaster", err)

    # A hostile external mail with an attachment, stored as Deliver would.
    ref = 0x1122334455667788
    now = int(time.time() * 1000)
    evil_subject = "Pay \u202eexe.pdf \u2066now".encode()
    evil_from = "Bank \u202e\x7fevil@example.net".encode()
    body = b"Hi\n\x1a\x1b\x1cA\x1c\x1cB\x1c\x1b\x1a\x02example.com/x\x02link\n\x16bold\x16"
    with FAKE.lock:
        ext_id = FAKE.store(1, ext_msg(now, ref, evil_subject, evil_from, body, 1))
        att_id = FAKE.store(1, upl_msg(now, 1, ref, b"text/plain", b"a.txt", b"attached\n"))
        bad_id = FAKE.store(1, ext_msg(now, 7, b"raw", b"x", b"\x1b[2J\x1b]0;pwned\x07", 0))
    rc, out, err = run(bob, "mail", "read", str(ext_id), env=env_pf)
    case("mail_read_hostile_ext", rc == 0 and safe_terminal_text(out)
         and "Subject:  Pay exe.pdf now" in out and "From:     Bank  <evil@example.net>" in out
         and "A | B" in out and "[1]link" in out and "[1] https://example.com/x" in out
         and "Security: TLS 1.3 (0x1301), SPF pass, DMARC pass, no DKIM" in out,
         repr(out) + err)
    case("mail_read_attachments", ("Files:\n  #%d  a.txt  text/plain  9 B" % att_id) in out,
         repr(out))
    rc, out, err = run(bob, "mail", "read", str(bad_id), env=env_pf)
    case("mail_read_invalid_cet", rc == 0 and "not valid CET" in out and "pwned" not in out
         and "\x1b" not in out, repr(out))
    rc, out, err = run(bob, "download", str(att_id), "-o", "-", env=env_pf)
    case("download_attachment", rc == 0 and out == "attached\n", repr(out) + err)
    rc, j, err = jrun(bob, "mail", "list", env=env_pf)
    case("mail_list_json", rc == 0 and j["total_count"] == 4 and [m["id"] for m in j["messages"]]
         == [bad_id, att_id, ext_id, mid] and j["messages"][3]["subject"] == "Hello Bob", repr(j))
    rc, out, err = run(bob, "mail", "list", "--oldest", "--limit", "2", env=env_pf)
    case("mail_list_oldest_limit", rc == 0 and [int(l.split()[0]) for l in out.splitlines()[1:]]
         == [mid, ext_id], out)

    # Uploads are encrypted by the client; downloads give the same bytes back.
    data = os.urandom(2 * 1024 * 1024 + 3)
    src = os.path.join(d, "photo secret.jpg")
    with open(src, "wb") as f:
        f.write(data)
    rc, out, err = run(bob, "upload", src, env=env_pf)
    up_id = int(out.split()[-1]) if rc == 0 else 0
    stored = [e for i, e in FAKE.users[1]["mail"] if i == up_id]
    case("upload", rc == 0 and out.startswith("stored as ") and stored, out + err)
    rc, out, err = run(bob, "mail", "read", str(up_id), env=env_pf)
    case("upload_name_only_for_owner", rc == 0 and "File:     photo secret.jpg" in out
         and "(encrypted by you)" in out, out + err)
    dst = os.path.join(d, "back.jpg")
    rc, out, err = run(bob, "download", str(up_id), "-o", dst, env=env_pf)
    with open(dst, "rb") as f:
        back = f.read()
    case("download_upload", rc == 0 and back == data and stat.S_IMODE(os.stat(dst).st_mode)
         == 0o600, out + err)
    # A progress bar on stderr when it is a terminal (and only then).
    master, slave = pty.openpty()
    e = dict(os.environ, ALLEARS_HOME=bob, ALLEARS_PASSPHRASE_FILE=pf)
    p = subprocess.run([ALLEARS, "upload", src], stderr=slave, stdout=subprocess.PIPE, env=e,
                       timeout=60)
    os.close(slave)
    tty = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    os.close(master)
    case("progress_bar_on_tty", p.returncode == 0 and b"upload [" in tty and b"100%" in tty
         and b"2.0/2.0 MiB" in tty, repr(tty[-200:]))
    case("no_progress_bar_otherwise", "upload [" not in err and "%" not in err, err)
    rc, out, err = run(bob, "download", str(up_id), "-o", dst, env=env_pf)
    case("download_no_overwrite", rc == 1 and "exists; --force" in err, err)
    rc, out, err = run(bob, "download", str(ext_id), env=env_pf)
    case("download_not_a_file", rc == 1 and "is not a file" in err, err)

    # Deleting mail.
    rc, out, err = run(bob, "mail", "rm", str(mid), env=env_pf)
    rc2, out2, err2 = run(bob, "mail", "rm", str(mid), env=env_pf)
    case("mail_rm", rc == 0 and rc2 == 1 and "no message %d" % mid in err2, err + err2)
    before = len(FAKE.users[1]["mail"])
    rc, out, err = run(bob, "mail", "empty", env=env_pf, stdin=b"no\n")
    case("mail_empty_needs_yes", rc == 1 and before > 0 and len(FAKE.users[1]["mail"]) == before,
         err)
    rc, out, err = run(bob, "mail", "empty", env=env_pf, stdin=b"yes\n")
    case("mail_empty", rc == 0 and FAKE.users[1]["mail"] == [], err)
    rc, out, err = run(bob, "mail", "read", "1", env=env_pf)
    case("mail_read_missing", rc == 1 and "no message 1" in err, err)

    # Addresses away.
    rc, out, err = run(bob, "address", "rm", shield, env=env_pf)
    rc2, out2, err2 = run(bob, "address", "nick", "Bob.Smith", "home", env=env_pf)
    rc3, j, err3 = jrun(bob, "address", "list", env=env_pf)
    case("address_rm_and_nick", rc == 0 and rc2 == 0 and rc3 == 0
         and [(a["address"], a["nick"]) for a in j["addresses"]] == [("Bob.Smith", "home")],
         err + err2 + err3)

    # Restoring the key elsewhere: key import with the UserID.
    other = new_home(d, "restored", port, ca)
    rc, out, err = run(other, "key", "import", "-", "--uid", "baa", stdin=(umk_bob + "\n").encode())
    rc2, j, err2 = jrun(other, "whoami")
    case("key_import_restores", rc == 0 and rc2 == 0 and j["uid"] == 1
         and j["addresses"][0]["address"] == "Bob.Smith", err + err2)

    # Errors with their exit codes.
    wrong = new_home(d, "wrong", port, ca)
    run(wrong, "init")
    run(wrong, "key", "import", umk_admin, "--force", "--uid", "1")
    rc, out, err = run(wrong, "whoami")
    case("wrong_key_403", rc == 4 and "wrong key or unknown user" in err, err)
    FAKE.users[1]["last"] = int(time.time() * 1000) + 20000
    rc, out, err = run(other, "whoami")
    case("replay_409", rc == 4 and "replayed request (your clock went backwards?)" in err, err)
    FAKE.users[1]["last"] = 0
    FAKE.offset_ms = 120000
    rc, out, err = run(other, "whoami")
    FAKE.offset_ms = 0
    case("clock_skew_412", rc == 4 and any("your clock is %d s off from the server's (behind)" % n
                                           in err for n in (119, 120, 121)), err)
    FAKE.busy = True
    rc, out, err = run(other, "whoami")
    FAKE.busy = False
    case("busy_503", rc == 3 and "server busy, try again in 5 s" in err, err)
    bad_pf = os.path.join(d, "badpass")
    with open(bad_pf, "w") as f:
        f.write("not it\n")
    rc, out, err = run(bob, "--passphrase-file", bad_pf, "whoami")
    case("wrong_passphrase", rc == 4 and "wrong passphrase" in err, err)
    os.chmod(os.path.join(other, "umk"), 0o644)
    rc, out, err = run(other, "whoami")
    os.chmod(os.path.join(other, "umk"), 0o600)
    case("umk_readable_by_others_refused", rc == 1 and "can be accessed by others" in err, err)
    with open(os.path.join(other, "config"), "a") as f:
        f.write("port = 99999\n")
    rc, out, err = run(other, "whoami")
    case("bad_config", rc == 1 and "config:6: 'port' is set twice" in err, err)
    rc, out, err = run(other, "--config", os.path.join(d, "missing.cfg"), "whoami")
    case("missing_config_flag", rc == 1 and "cannot open config file" in err, err)
    rc, out, err = run(other, "mail", "read")
    rc2, out2, err2 = run(other, "frobnicate")
    case("usage_exit_2", rc == 2 and "usage: allears mail read ID" in err and rc2 == 2
         and "unknown command" in err2, err + err2)
    rc, j, err = jrun(other, "mail", "read", "x")
    case("usage_json_error", rc == 2 and "ID must be a message number" in err, err)

    # Passphrase removed, then no passphrase needed.
    rc, out, err = run(bob, "key", "passwd", "--remove", env=env_pf)
    rc2, out2, err2 = run(bob, "whoami")
    case("key_passwd_remove", rc == 0 and rc2 == 0 and "user       baa (UserID 1)" in out2,
         err + err2)

    # Admin commands.
    rc, j, err = jrun(admin, "admin", "users")
    case("admin_users", rc == 0 and [(u["uid"], u["level"], u["normal"], u["shield"])
                                     for u in j["users"]] == [(0, 3, 1, 0), (1, 0, 1, 0)], repr(j))
    rc, out, err = run(admin, "admin", "level", "baa", "2")
    case("admin_level", rc == 0 and FAKE.users[1]["level"] == 2, err)
    rc, out, err = run(admin, "admin", "limits", "2", "100", "4", "5")
    case("admin_limits", rc == 0 and FAKE.limits[2] == (100, 4, 5), err)
    rc, out, err = run(bob, "admin", "users")
    case("admin_denied", rc == 1 and "not allowed for your level" in err, err)
    rc, out, err = run(admin, "admin", "level", "4000", "1")
    case("admin_no_user", rc == 1 and "no user 4000" in err, err)
    rc, out, err = run(admin, "admin", "rm", "1", "--yes")
    rc2, out2, err2 = run(bob, "whoami")
    case("admin_rm", rc == 0 and 1 not in FAKE.users and rc2 == 4, err + err2)
    rc, out, err = run(admin, "account", "delete", "--yes")
    case("account_delete", rc == 0 and 0 not in FAKE.users, err)
    rc, out, err = run(admin, "whoami")
    case("after_delete_not_registered", rc == 1 and "not registered" in err, err)

    srv.shutdown()
    subprocess.run(["rm", "-rf", d])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
