#!/usr/bin/python3
"""test_api.py: allears-api with allears-account and allears-storage through the
local launcher, driven over HTTPS by clients nobody here wrote: Python's ssl and
http.client, curl and openssl s_client. Requests are sealed and responses
opened by build/tests/apitool (the client's side of docs/PROTOCOL.md section
12); the HTTP mapping under test is section 14.

Covers: registration with the bootstrap invitation, account, address, invite,
internal mail, browse, upload, delete, private field and admin commands;
keep-alive and pipelining; every hostile case (replay, time window, tampered
body or URL, another user's UserID, oversized body, slow heads, half-open and
silent TLS, plaintext on the TLS port, malformed requests, the connection cap,
Account or Storage down); TLS versions and suites; a graceful stop that
finishes an in-flight request; credentials reloaded on restart and refused
when bad (exit 78); and a clean stop of every daemon.

Usage: /usr/bin/python3 test_api.py <builddir>
Prints one PASS/FAIL/SKIP line per case; exits non-zero if any case fails."""

import base64
import datetime
import hashlib
import os
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import http.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System, LaunchError  # noqa: E402
from itest import *  # noqa: E402,F401,F403
import itest  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")

# Short deadlines so the slow-client cases take well under a second each.
TIMEOUT_MS = 500
MAX_CONNS = 16
BODY_MEMORY_MIB = 64  # room for one largest body at a time, not two
CONFIG = {"api": {"handshake_timeout_ms": TIMEOUT_MS, "request_timeout_ms": TIMEOUT_MS,
                  "idle_timeout_ms": 3000, "max_connections": MAX_CONNS,
                  "body_memory_mib": BODY_MEMORY_MIB}}

BODY_MAX = 41943082  # APIREQ_BODY_MAX
REGISTER_BODY = 122
INTERNAL = 7
TLS13 = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]
TLS12_ECDSA = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
               "ECDHE-ECDSA-CHACHA20-POLY1305"]

TMP = tempfile.mkdtemp(prefix="api-test-")


def skip(name, why):
    print("SKIP %s (%s)" % (name, why))
    sys.stdout.flush()


def tmpfile(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ---- HTTP over TLS, by hand where the bytes matter ----

class Api:
    def __init__(self, system):
        self.system = system
        self.port = system.port("api")
        self.ctx = ssl.create_default_context(cafile=system.tls_ca)

    def tls(self, timeout=10):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return self.ctx.wrap_socket(raw, server_hostname="localhost")

    def tcp(self, timeout=10):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def post(self, path, body, conn=None):
        """POST with http.client; returns (status, headers, body)."""
        c = conn or http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx,
                                                timeout=30)
        c.request("POST", path, body=body, headers={"Content-Type": "application/octet-stream"})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data


class Reader:
    """Reads HTTP/1.1 responses from a socket, keeping what follows one."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        b = self.sock.recv(65536)
        if not b:
            raise EOFError
        self.buf += b

    def response(self):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body


def closed_within(sock, seconds):
    """Waits for the peer to close; returns the seconds it took, or None."""
    t0 = time.monotonic()
    sock.setblocking(False)
    while time.monotonic() - t0 < seconds:
        r, _, _ = select.select([sock], [], [], 0.05)
        if not r:
            continue
        try:
            if not sock.recv(65536):
                return time.monotonic() - t0
        except (ssl.SSLWantReadError, BlockingIOError):
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            return time.monotonic() - t0
    return None


def head(path, length, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n%s\r\n"
            % (path, length, extra)).encode()


# ---- users ----

def kresp_of(key, ts, uid):
    return hashlib.blake2b(b"allears response v1" + struct.pack("<QH", ts, uid),
                           digest_size=32, key=key).digest()


def url_of(ts, uid):
    return "/v1/" + run(APITOOL, "url", str(ts), str(uid)).strip()


def open_response(key, ts, uid, body):
    out = run(APITOOL, "resp-open", key.hex(), str(ts), str(uid),
              "@" + tmpfile("resp.bin", body)).split()
    return int(out[0]), b"" if out[1] == "-" else bytes.fromhex(out[1])


class User:
    def __init__(self, api, clock, uak, uid, esk=None):
        self.api, self.clock, self.uak, self.uid, self.esk = api, clock, uak, uid, esk

    def body(self, ts, cmd, args=b"", uid=None):
        a = "@" + tmpfile("args.bin", args) if args else "-"
        return bytes.fromhex(run(APITOOL, "seal", self.uak.hex(), str(ts),
                                 str(self.uid if uid is None else uid), str(cmd), "0", a).strip())

    def send(self, ts, body, uid=None, conn=None):
        """Returns (http status, chan status or None, data, headers)."""
        uid = self.uid if uid is None else uid
        status, headers, data = self.api.post(url_of(ts, uid), body, conn)
        if status != 200:
            return status, None, data, headers
        st, d = open_response(kresp_of(self.uak, ts, uid), ts, uid, data)
        return status, st, d, headers

    def req(self, cmd, args=b"", conn=None):
        ts = self.clock.next()
        http_st, st, data, _ = self.send(ts, self.body(ts, cmd, args), conn=conn)
        return st if http_st == 200 else -http_st, data


def new_keys():
    esk = X25519PrivateKey.generate()
    epk = esk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw = esk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    return os.urandom(32), epk, raw


def register(api, clock, invite, uak, epk, wanted=0xFFFF):
    ts = clock.next()
    body = bytes.fromhex(run(APITOOL, "reg-seal", invite, str(ts), str(wanted), uak.hex(),
                             epk.hex()).strip())
    status, headers, data = api.post(url_of(ts, 0xFFFF), body)
    if status != 200:
        return status, None, b""
    kinv = bytes.fromhex(run(APITOOL, "invite-info", invite).split("\n")[1].split()[1])
    st, d = open_response(kresp_of(kinv, ts, 0xFFFF), ts, 0xFFFF, data)
    return status, st, d


def browse_page(data):
    """MSG_BROWSE data: 23-byte header, then count x (id, blocks), then envelopes."""
    more = data[0]
    count, total_count = struct.unpack_from("<II", data, 3)
    total_bytes = struct.unpack_from("<Q", data, 15)[0]
    items, off = [], 23
    for i in range(count):
        items.append(struct.unpack_from("<II", data, off))
        off += 8
    envs = []
    for eid, blocks in items:
        envs.append((eid, data[off:off + blocks * 32]))
        off += blocks * 32
    return {"more": more, "count": count, "total": total_count, "bytes": total_bytes,
            "envs": envs, "exact": off == len(data)}


def open_envelope(esk, env):
    r = subprocess.run([ENVTOOL, "open", esk.hex()], input=env, capture_output=True)
    if r.returncode != 0:
        return None
    r2 = subprocess.run([MSGTOOL, "show"], input=r.stdout, capture_output=True)
    return r2.stdout.decode(errors="replace")


# ---- the cases ----

def main():
    system = System(BUILD, roles=["storage", "account", "api"], config_extra=CONFIG,
                    quiet=True).start()
    try:
        tests(system)
    finally:
        status = system.stop()
        case("clean_stop", all(status.get(r) == 0 for r in ("api", "account", "storage")),
             str(status))
        shutil.rmtree(TMP, ignore_errors=True)
    return 1 if itest.failures else 0


def tests(system):
    api = Api(system)
    clock = Clock()
    case("launcher_tls_credentials",
         os.path.exists(system.tls_ca) and
         os.path.exists(os.path.join(system.credentials_dir("api"), "tls.crt")) and
         os.path.exists(os.path.join(system.credentials_dir("api"), "tls.key")))

    admin, user = accounts(system, api, clock)
    mail(system, api, clock, admin, user)
    keep_alive(api, clock, admin)
    hostile_requests(api, clock, admin, user)
    http_errors(api)
    slow_clients(api, clock, admin)
    connection_cap(api, clock, admin)
    body_memory_budget(api)
    tls_policy(api)
    curl_cases(system, api, clock, admin)
    peers_down(system, api, clock, admin)
    graceful_stop(system, api, clock, admin)
    credentials(system, api, clock, admin)
    st, data = admin.req(INFO)
    case("still_serving_at_the_end", st == OK and data[:3] == b"\x00\x00\x03")


def accounts(system, api, clock):
    with open(os.path.join(system.state_dir("account"), "bootstrap-invite")) as f:
        invite = f.read().strip()
    uak, epk, esk = new_keys()
    case("register_unknown_invite", register(api, clock, run(APITOOL, "invite-new").strip(), uak,
                                             epk)[0] == 403)
    http_st, st, data = register(api, clock, invite, uak, epk)
    case("register_admin", http_st == 200 and st == OK and data == b"\x00\x00\x03",
         "%r %r %r" % (http_st, st, data))
    case("register_invite_single_use", register(api, clock, invite, os.urandom(32), epk)[0] == 403)
    admin = User(api, clock, uak, 0, esk)

    st, info = admin.req(INFO)
    case("account_info", st == OK and len(info) == 52 and info[:3] == b"\x00\x00\x03" and
         info[10] == 1, info.hex())
    params, salt = info[24:32], info[32:48]
    admin.params, admin.salt = params, salt
    admin.addr = addr32("alice")
    case("address_add", admin.req(ADD_NORMAL, normal_hash(admin.addr, salt, params))[0] == OK)
    st, shield = admin.req(ADD_SHIELD)
    case("address_add_shield", st == OK and len(shield) == 18)
    st, info = admin.req(INFO)
    case("account_info_lists_addresses", st == OK and info[3] == 2 and len(info) == 52 + 18)

    st, data = admin.req(INVITE, bytes([0, 0, 0, 0]) + struct.pack("<I", 3600))
    case("admin_invite", st == OK and len(data) == 40)
    inv2 = base64.urlsafe_b64encode(data[:32]).decode().rstrip("=")
    uak2, epk2, esk2 = new_keys()
    http_st, st, data = register(api, clock, inv2, uak2, epk2)
    case("register_second_user", http_st == 200 and st == OK and data == b"\x01\x00\x00",
         "%r %r %r" % (http_st, st, data))
    user = User(api, clock, uak2, 1, esk2)
    user.addr = addr32("bob")
    case("second_user_address", user.req(ADD_NORMAL, normal_hash(user.addr, salt, params))[0]
         == OK)

    st, data = admin.req(LIST)
    case("admin_list_users", st == OK and data == bytes.fromhex("0200" "0000030101" "0100000100"),
         data.hex())
    case("user_not_admin", user.req(LIST)[0] == DENIED)
    case("admin_set_level", admin.req(SET_LEVEL, struct.pack("<HB", 1, 1))[0] == OK)
    st, info = user.req(INFO)
    case("set_level_seen", st == OK and info[2] == 1)
    case("admin_set_limits", admin.req(SET_LIMITS, bytes([1, 5, 5, 0]) +
                                       struct.pack("<I", 1024))[0] == OK)
    st, info = user.req(INFO)
    case("set_limits_seen", st == OK and struct.unpack_from("<I", info, 4)[0] == 1024 and
         info[8] == 5 and info[9] == 5)

    case("private_set", user.req(PRIV_SET, b"private-blob-1")[0] == OK)
    st, data = user.req(PRIV_GET)
    case("private_get", st == OK and data == b"private-blob-1")
    return admin, user


def mail(system, api, clock, admin, user):
    subject, text = b"api canary subject", b"api canary body"
    args = admin.addr + user.addr + bytes([len(subject)]) + subject + \
        struct.pack("<I", len(text)) + text
    st, data = admin.req(SEND, args)
    # OK and no data: the envelope id is the recipient's, not the sender's.
    case("send_internal", st == OK and data == b"", "%r %r" % (st, data))
    st, data = user.req(BROWSE, bytes([0, 0]) + struct.pack("<III", 0, 0, 0))
    page = browse_page(data) if st == OK else None
    case("browse_one_envelope", page and page["count"] == 1 and page["total"] == 1 and
         page["exact"] and len(page["envs"]) == 1, "%r %r" % (st, data[:40].hex()))
    shown = open_envelope(user.esk, page["envs"][0][1]) if page and page["envs"] else None
    case("browse_envelope_opens", shown is not None and "api canary subject" in shown and
         "api canary body" in shown, repr(shown))
    user.first_id = page["envs"][0][0] if page and page["envs"] else 0

    st, data = user.req(UPLOAD, bytes([5]) + b"a.txt" + b"uploaded data")
    case("upload", st == OK and len(data) == 4)
    up_id = struct.unpack("<I", data)[0] if len(data) == 4 else 0
    # Larger than a channel frame: the request goes to Account in a memfd, and
    # the page comes back through Storage's memfd into a response of ~200 KB.
    big = os.urandom(200000)
    st, data = user.req(UPLOAD, bytes([7]) + b"big.bin" + big)
    case("upload_large", st == OK and len(data) == 4)
    big_id = struct.unpack("<I", data)[0] if len(data) == 4 else 0
    st, data = user.req(BROWSE, bytes([1, 0]) + struct.pack("<III", 0, 0, 0))
    page = browse_page(data) if st == OK else None
    case("browse_three", page and page["count"] == 3 and page["exact"] and
         [e[0] for e in page["envs"]] == [user.first_id, up_id, big_id] and len(data) > 200000,
         "%r" % (page and [e[0] for e in page["envs"]]))
    shown = open_envelope(user.esk, page["envs"][2][1]) if page and len(page["envs"]) == 3 \
        else None
    case("browse_large_envelope_opens", shown is not None and "big.bin" in shown)
    case("msg_delete", user.req(MSG_DELETE, struct.pack("<I", up_id))[0] == OK)
    case("msg_delete_again", user.req(MSG_DELETE, struct.pack("<I", up_id))[0] == NOT_FOUND)
    st, data = user.req(BROWSE, bytes([1, 0]) + struct.pack("<III", 0, 0, 0))
    page = browse_page(data) if st == OK else None
    case("browse_after_delete", page and page["count"] == 2 and
         [e[0] for e in page["envs"]] == [user.first_id, big_id])
    upload_max(api, user)
    case("msg_empty_admin", admin.req(EMPTY)[0] == OK)
    st, data = admin.req(BROWSE, bytes([0, 0]) + struct.pack("<III", 0, 0, 0))
    case("browse_empty_mailbox", st == OK and browse_page(data)["count"] == 0)


def rss_anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def upload_max(api, user):
    """The largest upload a request can carry (a body of 41,943,056 bytes): the
    connection's buffer grows for it and is given back after it."""
    pid = api.system.daemons["api"].proc.pid
    name = b"max.bin"
    data = os.urandom(41943040 - 27 - len(name))
    ts = user.clock.next()
    body = user.body(ts, UPLOAD, bytes([len(name)]) + name + data)
    del data
    before = rss_anon_kib(pid)
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=api.ctx, timeout=60)
    http_st, st, res, _ = user.send(ts, body, conn=conn)
    case("upload_max_size", len(body) == 41943056 and http_st == 200 and st == OK and
         len(res) == 4, "%r %r" % (http_st, st))
    st2, _ = user.req(INFO, conn=conn)  # the same connection goes on
    after = rss_anon_kib(pid)
    case("buffer_given_back", st2 == OK and after < before + 16 * 1024,
         "%d KiB before, %d KiB after" % (before, after))
    conn.close()
    if len(res) == 4:
        user.req(MSG_DELETE, res)


def keep_alive(api, clock, admin):
    s = api.tls()
    rd = Reader(s)
    ok = True
    for i in range(5):
        ts = clock.next()
        body = admin.body(ts, INFO)
        s.sendall(head(url_of(ts, 0), len(body)) + body)
        status, headers, data = rd.response()
        st, _ = open_response(kresp_of(admin.uak, ts, 0), ts, 0, data)
        ok = ok and status == 200 and st == OK and "connection" not in headers
    case("keep_alive_five_requests", ok)
    # Pipelined: three requests in one write, answered in order.
    reqs, tss = b"", []
    for i in range(3):
        ts = clock.next()
        tss.append(ts)
        body = admin.body(ts, INFO)
        reqs += head(url_of(ts, 0), len(body)) + body
    s.sendall(reqs)
    sts = []
    for ts in tss:
        status, headers, data = rd.response()
        sts.append(open_response(kresp_of(admin.uak, ts, 0), ts, 0, data)[0]
                   if status == 200 else -status)
    case("pipelined_in_order", sts == [OK, OK, OK], str(sts))
    # A refusal without a body keeps the connection.
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, _ = rd.response()
    ts = clock.next()
    body = admin.body(ts, INFO)
    s.sendall(head(url_of(ts, 0), len(body)) + body)
    status2, _, _ = rd.response()
    case("keep_alive_after_404", status == 404 and status2 == 200)
    # HTTP/1.0 is answered and closed.
    ts = clock.next()
    body = admin.body(ts, INFO)
    s.sendall(("POST %s HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % (url_of(ts, 0), len(body)))
              .encode() + body)
    status, headers, _ = rd.response()
    case("http10_closed", status == 200 and headers.get("connection") == "close" and
         closed_within(s, 2) is not None)
    s.close()


def hostile_requests(api, clock, admin, user):
    """Each refused in clear with the status of section 14.2, nothing changed."""
    def private():
        st, data = user.req(PRIV_GET)
        return data if st == OK else None

    ts1 = clock.next()
    body1 = user.body(ts1, PRIV_SET, b"value-A")
    http_st, st, _, _ = user.send(ts1, body1)
    ts2 = clock.next()
    http_st2, st2, _, _ = user.send(ts2, user.body(ts2, PRIV_SET, b"value-B"))
    case("private_set_twice", (http_st, st, http_st2, st2) == (200, OK, 200, OK))

    http_st, _, data, headers = user.send(ts1, body1)
    case("replay_409", http_st == 409 and data == b"" and headers.get("cache-control") ==
         "no-store" and "date" in headers)
    case("replay_changed_nothing", private() == b"value-B")

    old = clock.next() - 60000
    http_st, _, data, _ = user.send(old, user.body(old, PRIV_SET, b"value-old"))
    case("old_timestamp_412", http_st == 412 and data == b"")
    future = clock.next() + 60000
    http_st, _, _, _ = user.send(future, user.body(future, PRIV_SET, b"value-future"))
    case("future_timestamp_412", http_st == 412)
    case("time_window_changed_nothing", private() == b"value-B")

    ts = clock.next()
    body = bytearray(user.body(ts, PRIV_SET, b"value-tampered"))
    body[30] ^= 0x01
    http_st, _, data, _ = user.send(ts, bytes(body))
    case("tampered_body_403", http_st == 403 and data == b"")
    ts = clock.next()
    body = user.body(ts, PRIV_SET, b"value-tampered-url")
    status, _, _ = api.post(url_of(ts + 1, user.uid), body)
    case("tampered_url_403", status == 403)
    # The user's own body under another user's UserID (the admin's, 0).
    ts = clock.next()
    http_st, _, _, _ = user.send(ts, user.body(ts, PRIV_SET, b"value-other", uid=0), uid=0)
    case("other_users_uid_403", http_st == 403)
    ts = clock.next()
    http_st, _, _, _ = user.send(ts, user.body(ts, INFO, uid=77), uid=77)
    case("unknown_uid_403", http_st == 403)
    case("tampering_changed_nothing", private() == b"value-B")
    st, info = admin.req(INFO)
    case("admin_unaffected", st == OK and info[:3] == b"\x00\x00\x03")

    # Oversized: refused from the head alone, the body is never read.
    s = api.tls()
    ts = clock.next()
    s.sendall(head(url_of(ts, 1), BODY_MAX + 1))
    status, headers, _ = Reader(s).response()
    case("oversized_body_413", status == 413 and headers.get("connection") == "close" and
         closed_within(s, 2) is not None)
    s.close()
    s = api.tls()
    s.sendall(head(url_of(clock.next(), 0xFFFF), REGISTER_BODY + 1))
    status, _, _ = Reader(s).response()
    s.close()
    s = api.tls()
    s.sendall(head(url_of(clock.next(), 0xFFFF), REGISTER_BODY - 1))
    status2, _, _ = Reader(s).response()
    s.close()
    case("registration_body_size", (status, status2) == (413, 400), "%r" % ((status, status2),))
    s = api.tls()
    s.sendall(head(url_of(clock.next(), 1), 41) + bytes(41))
    status, _, _ = Reader(s).response()
    s.close()
    case("short_body_400", status == 400)
    # A body shorter than declared, then the client gives up: nothing happens.
    s = api.tls()
    ts = clock.next()
    body = user.body(ts, PRIV_SET, b"value-half")
    s.sendall(head(url_of(ts, 1), len(body)) + body[:len(body) // 2])
    s.close()
    case("half_body_changed_nothing", private() == b"value-B")


def http_errors(api):
    def one(raw):
        s = api.tls()
        s.sendall(raw)
        try:
            status, headers, _ = Reader(s).response()
        except EOFError:
            status, headers = None, {}
        s.close()
        return status, headers

    url = url_of(int(time.time() * 1000), 1)
    st, h = one(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url).encode())
    case("get_405_allow_post", st == 405 and h.get("allow") == "POST")
    case("root_404", one(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 404)
    case("other_path_404", one(head("/v2/" + url[4:], 50))[0] == 404)
    case("bad_url_text_400", one(head("/v1/AAAAAAAAAAAAA", 50))[0] == 400)
    case("url_with_query_400", one(head(url + "?x=1", 50))[0] == 400)
    case("uid_out_of_range_400", one(head(url_of(1, 4096), 50))[0] == 400)
    case("no_length_411", one(("POST %s HTTP/1.1\r\nHost: x\r\n\r\n" % url).encode())[0] == 411)
    case("chunked_501", one(("POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             % url).encode())[0] == 501)
    case("bare_lf_400", one(("POST %s HTTP/1.1\nHost: x\n\n" % url).encode())[0] == 400)
    case("huge_header_431", one(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 3000 +
                                b"\r\n\r\n")[0] == 431)


def slow_clients(api, clock, admin):
    """Slow heads, silent TLS and plaintext are closed by their deadlines
    while another client is served."""
    # A ClientHello, then silence.
    ctx = ssl.create_default_context(cafile=api.system.tls_ca)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    silent = api.tcp()                         # connect, send nothing
    hello_only = api.tcp()
    hello_only.sendall(hello)
    plain = api.tcp()                          # plaintext HTTP on the TLS port
    plain.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    tls_silent = api.tls()                     # a handshake, then no request
    slow = api.tls()                           # a head trickled a byte at a time
    slow_url = url_of(clock.next(), 0)
    result = {}

    def trickle():
        data = head(slow_url, 42)
        t0 = time.monotonic()
        try:
            for b in data:
                slow.send(bytes([b]))
                time.sleep(0.05)
            result["finished"] = True
        except (OSError, ssl.SSLError):
            result["closed"] = time.monotonic() - t0

    th = threading.Thread(target=trickle)
    th.start()
    # Meanwhile a good client is served.
    st, data = admin.req(INFO)
    served = st == OK
    t_silent = closed_within(silent, 5)
    t_hello = closed_within(hello_only, 5)
    t_plain = closed_within(plain, 5)
    t_tls_silent = closed_within(tls_silent, 5)
    th.join(10)
    case("served_meanwhile", served)
    case("half_open_closed", t_silent is not None and t_silent < 2.5, str(t_silent))
    case("client_hello_then_silence_closed", t_hello is not None and t_hello < 2.5, str(t_hello))
    case("plaintext_on_tls_port_closed", t_plain is not None and t_plain < 2.5, str(t_plain))
    case("tls_then_no_request_closed", t_tls_silent is not None and t_tls_silent < 2.5,
         str(t_tls_silent))
    case("slow_head_closed", "finished" not in result and result.get("closed", 99) < 3,
         str(result))
    for s in (silent, hello_only, plain, tls_silent, slow):
        s.close()
    case("served_after_slow_clients", admin.req(INFO)[0] == OK)


def big_head(api, uid=1):
    """Opens a connection and announces a 40 MB body with Expect: 100-continue;
    returns (connection, the first line the server answers)."""
    url = base64.urlsafe_b64encode(struct.pack("<QH", int(time.time() * 1000), uid))
    t = api.tls()
    t.sendall(b"POST /v1/" + url.rstrip(b"=") + b" HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Length: 41000000\r\nExpect: 100-continue\r\n\r\n")
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = t.recv(1)
        if not chunk:
            break
        line += chunk
    return t, line.decode(errors="replace").strip()


def body_memory_budget(api):
    """Large bodies share one memory budget (api.body_memory_mib): a second 40 MB
    upload while one is in progress gets 503 rather than pushing the daemon past
    its MemoryMax; once the first is gone, room is back."""
    a, first = big_head(api)
    case("body_budget_first_large_upload_may_start", first.startswith("HTTP/1.1 100"), first)
    b, second = big_head(api)
    case("body_budget_second_concurrent_upload_503", second.startswith("HTTP/1.1 503"), second)
    b.close()
    a.close()
    # The server notices the closed connection at once, but asynchronously:
    # ask again until it has (there is no signal for it).
    third = ""
    for _ in range(50):
        c, third = big_head(api)
        c.close()
        if third.startswith("HTTP/1.1 100"):
            break
        time.sleep(0.05)
    case("body_budget_released_when_the_upload_ends", third.startswith("HTTP/1.1 100"), third)


def connection_cap(api, clock, admin):
    """MAX_CONNS + 1 silent connections: those over the cap are closed at once,
    the others only at their handshake deadline. (One more may be refused if
    the API has not yet seen a just-closed earlier connection go.)"""
    socks = [api.tcp() for _ in range(MAX_CONNS + 1)]
    for s in socks:
        s.setblocking(False)
    closed = set()
    t0 = time.monotonic()
    while time.monotonic() - t0 < TIMEOUT_MS / 1000 * 0.6:
        r, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.02)
        for s in r:
            try:
                if s.recv(1) == b"":
                    closed.add(s)
            except OSError:
                closed.add(s)
    case("connection_cap", 1 <= len(closed) <= 2, "%d closed early" % len(closed))
    for s in socks:
        s.setblocking(True)
        if s not in closed:
            closed_within(s, 5)
        s.close()
    case("served_after_cap", admin.req(INFO)[0] == OK)


def tls_policy(api):
    # Python's ssl: versions.
    def handshake(ctx):
        try:
            s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
            t = ctx.wrap_socket(s, server_hostname="localhost")
            v, c = t.version(), t.cipher()[0]
            t.close()
            return v, c
        except (ssl.SSLError, OSError) as e:
            return None, str(e)

    ctx = ssl.create_default_context(cafile=api.system.tls_ca)
    v, c = handshake(ctx)
    case("python_tls13_default", v == "TLSv1.3" and c in TLS13, "%r %r" % (v, c))
    ctx = ssl.create_default_context(cafile=api.system.tls_ca)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    v, c = handshake(ctx)
    case("python_tls12", v == "TLSv1.2" and c in TLS12_ECDSA, "%r %r" % (v, c))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    except ssl.SSLError:
        pass
    v, c = handshake(ctx)
    case("python_tls11_refused", v is None, "%r %r" % (v, c))
    # Every TLS 1.2 suite this OpenSSL knows, one at a time: only AEAD ones
    # with ECDHE are accepted.
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers("ALL:@SECLEVEL=0")
    names = sorted({c["name"] for c in probe.get_ciphers() if c["protocol"] == "TLSv1.2"})
    accepted = []
    for name in names:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.set_ciphers(name + ":@SECLEVEL=0")
        except ssl.SSLError:
            continue
        v, c = handshake(ctx)
        if v:
            accepted.append(c)
    case("tls12_only_aead_suites", sorted(accepted) == sorted(TLS12_ECDSA) and len(names) > 10,
         "%r of %d" % (accepted, len(names)))

    if not OPENSSL:
        for n in ("s_client_tls13", "s_client_tls12", "s_client_tls11_refused",
                  "s_client_cbc_refused", "s_client_tls13_suites"):
            skip(n, "openssl is not installed")
        return

    def s_client(*args, request=b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"):
        cmd = [OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % api.port, "-brief",
               "-CAfile", api.system.tls_ca, "-servername", "localhost", "-ign_eof"] + list(args)
        try:
            r = subprocess.run(cmd, input=request, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            return ""
        return (r.stdout + r.stderr).decode(errors="replace")

    out = s_client("-tls1_3")
    case("s_client_tls13", "Protocol version: TLSv1.3" in out and "Verification: OK" in out and
         "HTTP/1.1 404" in out, out[-500:])
    out = s_client("-tls1_2")
    case("s_client_tls12", "Protocol version: TLSv1.2" in out and "HTTP/1.1 404" in out and
         any("Ciphersuite: " + n in out for n in TLS12_ECDSA), out[-500:])
    out = s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    case("s_client_tls11_refused", "Protocol version" not in out and "HTTP/1.1" not in out,
         out[-300:])
    out = s_client("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:"
                   "ECDHE-ECDSA-AES128-SHA256")
    case("s_client_cbc_refused", "Protocol version" not in out and "HTTP/1.1" not in out,
         out[-300:])
    bad = [n for n in TLS13 if "Ciphersuite: " + n not in s_client("-tls1_3", "-ciphersuites", n)]
    out = s_client("-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256")
    case("s_client_tls13_suites", not bad and "HTTP/1.1" not in out, "%r %s" % (bad, out[-200:]))


def curl_cases(system, api, clock, admin):
    names = ("curl_authenticated_request", "curl_http2_falls_back", "curl_malformed_400",
             "curl_bad_url_400", "curl_expect_100_continue")
    if not CURL:
        for n in names:
            skip(n, "curl is not installed")
        return
    base = "https://127.0.0.1:%d" % api.port

    def curl(*args, body=None):
        cmd = [CURL, "-sS", "--cacert", system.tls_ca, "-o", os.path.join(TMP, "curl.out"),
               "-w", "%{http_code} %{http_version}", "--max-time", "20"] + list(args)
        if body is not None:
            cmd += ["-H", "Content-Type: application/octet-stream", "--data-binary",
                    "@" + tmpfile("curl.body", body)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        with open(os.path.join(TMP, "curl.out"), "rb") as f:
            data = f.read()
        parts = r.stdout.split()
        return r.returncode, int(parts[0]) if parts else 0, parts[1] if len(parts) > 1 else "", \
            data

    ts = clock.next()
    rc, code, ver, data = curl("--http1.1", base + url_of(ts, 0), body=admin.body(ts, INFO))
    ok = rc == 0 and code == 200 and \
        open_response(kresp_of(admin.uak, ts, 0), ts, 0, data)[0] == OK
    case("curl_authenticated_request", ok, "%r %r" % (rc, code))
    ts = clock.next()
    rc, code, ver, data = curl("--http2", base + url_of(ts, 0), body=admin.body(ts, INFO))
    case("curl_http2_falls_back", rc == 0 and code == 200 and ver == "1.1", "%r %r %r" %
         (rc, code, ver))
    rc, code, _, _ = curl("--request-target", "/v1/a b", base + "/")
    case("curl_malformed_400", rc == 0 and code == 400, "%r %r" % (rc, code))
    rc, code, _, _ = curl(base + "/v1/not-a-url", body=b"x" * 50)
    case("curl_bad_url_400", rc == 0 and code == 400, "%r %r" % (rc, code))
    # curl waits up to --expect100-timeout for "100 Continue" before it sends
    # the body; the API sends it once the head is accepted.
    ts = clock.next()
    args = bytes([8]) + b"curl.bin" + os.urandom(100000)
    body = admin.body(ts, UPLOAD, args)
    t0 = time.monotonic()
    rc, code, _, data = curl("--http1.1", "-H", "Expect: 100-continue", "--expect100-timeout",
                             "10", base + url_of(ts, 0), body=body)
    took = time.monotonic() - t0
    ok = rc == 0 and code == 200 and \
        open_response(kresp_of(admin.uak, ts, 0), ts, 0, data)[0] == OK
    case("curl_expect_100_continue", ok and took < 5, "%r %r %.2f" % (rc, code, took))


def until_ok(f, bad):
    """Retries f() while it answers `bad`: a channel client that failed waits
    RPC_RECONNECT_BACKOFF_MS (200 ms) before it connects again, and nothing
    announces that moment."""
    for _ in range(50):
        st, data = f()
        if st != bad:
            return st, data
        time.sleep(0.05)
    return st, data


def peers_down(system, api, clock, admin):
    system.kill("account")
    ts = clock.next()
    status, headers, data = api.post(url_of(ts, 0), admin.body(ts, INFO))
    case("account_down_503", status == 503 and headers.get("retry-after") == "5" and data == b"",
         "%r %r" % (status, headers))
    system.restart("account")
    clock.last = max(clock.last, int(time.time() * 1000))
    case("account_back", until_ok(lambda: admin.req(INFO), -503)[0] == OK)
    browse = bytes([0, 0]) + struct.pack("<III", 0, 0, 0)
    system.kill("storage")
    st, data = admin.req(BROWSE, browse)
    case("storage_down_tempfail_sealed", st == TEMPFAIL and data == b"", "%r" % st)
    system.restart("storage")
    case("storage_back", until_ok(lambda: admin.req(BROWSE, browse), TEMPFAIL)[0] == OK)


def graceful_stop(system, api, clock, admin):
    """SIGTERM while a request waits for Account: it is answered, then the API exits 0."""
    acc = system.daemons["account"].proc
    acc.send_signal(signal.SIGSTOP)
    s = api.tls()
    ts = clock.next()
    body = admin.body(ts, INFO)
    s.sendall(head(url_of(ts, 0), len(body)) + body)
    # No readiness signal says the API has read the request: give it a moment.
    time.sleep(0.3)
    d = system.daemons["api"]
    d.proc.terminate()
    time.sleep(0.1)
    acc.send_signal(signal.SIGCONT)
    try:
        status, headers, data = Reader(s).response()
        st = open_response(kresp_of(admin.uak, ts, 0), ts, 0, data)[0] if status == 200 else None
    except (EOFError, OSError) as e:
        status, headers, st = str(e), {}, None
    s.close()
    rc = d.proc.wait(timeout=30)
    case("stop_finishes_in_flight", status == 200 and st == OK and
         headers.get("connection") == "close", "%r %r" % (status, headers))
    case("stop_exit_0", rc == 0, str(rc))
    system.restart("api")
    case("restart_serves", admin.req(INFO)[0] == OK)


def credentials(system, api, clock, admin):
    cdir = system.credentials_dir("api")
    crt, key = os.path.join(cdir, "tls.crt"), os.path.join(cdir, "tls.key")
    saved = {p: open(p, "rb").read() for p in (crt, key)}

    def put(path, data):
        if os.path.exists(path):
            os.chmod(path, 0o600)
        with open(path, "wb") as f:
            f.write(data)

    def served_cert():
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(api.tcp(), server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)

    def restart_status():
        try:
            system.restart("api")
            return 0
        except LaunchError:
            return system.daemons["api"].proc.returncode

    # Another certificate (as a renewed ACME one) is served after a restart.
    k2 = ec.generate_private_key(ec.SECP384R1())
    now = datetime.datetime.utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert2 = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
             .public_key(k2.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=1)).sign(k2, hashes.SHA256()))
    before = served_cert()
    put(crt, cert2.public_bytes(serialization.Encoding.PEM))
    put(key, k2.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
    rs = restart_status()
    after = served_cert() if rs == 0 else None
    case("certificate_reloaded_on_restart", rs == 0 and after != before and
         after == cert2.public_bytes(serialization.Encoding.DER))
    # A key that is not the certificate's: configuration error, not restarted.
    put(key, ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    case("mismatched_key_exit_78", restart_status() == 78)
    os.unlink(key)
    case("missing_key_exit_78", restart_status() == 78)
    put(key, b"not pem at all\n")
    case("garbage_key_exit_78", restart_status() == 78)
    for p, data in saved.items():
        put(p, data)
    case("restored_credentials_serve", restart_status() == 0 and admin.req(INFO)[0] == OK)


if __name__ == "__main__":
    sys.exit(main())
