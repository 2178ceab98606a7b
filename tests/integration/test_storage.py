#!/usr/bin/python3
"""test_storage.py: allears-storage with allears-account through the local
launcher. Stores Messages as the API and as Deliver would, browses them in
pages (both directions, from a given id, with count and byte caps), opens
every Envelope with the user's ESK (an X25519 key pair made here, registered
with its public key), deletes one or all, enforces each role's rights and the
level's storage limit (changed by an admin, applied at once), removes a
deleted user's storage, and stays up through hostile connections: wrong pair
key, wrong roles, garbage and truncated handshakes, malformed, replayed and
reordered frames (a Python implementation of PROTOCOL.md section 7 sends them).

The helpers above tests() are also used by test_storage_crash.py,
test_users_4096.py and test_privacy_scan.py.

Usage: /usr/bin/python3 test_storage.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import array
import base64
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
from itest import *  # noqa: E402,F401,F403
import itest  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import (  # noqa: E402
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305  # noqa: E402

STO_USER_CHANGED, STO_DELETE, STO_EMPTY = 3, 12, 13
INTERNAL = 7
ROLES = {"account": 1, "storage": 2, "deliver": 3, "enquiry": 4, "mta": 5, "api": 6, "web": 7}
BROWSE_MAX_BYTES, BROWSE_MAX_COUNT = 16 << 20, 4096
MIB = 1 << 20

# ---------------------------------------------------------------------------
# Helpers shared by the Storage tests
# ---------------------------------------------------------------------------


def tool(path, *args, data=None):
    """Runs a tool with binary stdin/stdout; returns stdout bytes."""
    r = subprocess.run([path] + [str(a) for a in args], input=data, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s %s failed (%d): %s" % (os.path.basename(path), args[:1],
                                                     r.returncode, r.stderr.decode()))
    return r.stdout


def ext_msg(subject, body, sender=None):
    return tool(MSGTOOL, "ext", subject, body, *([sender] if sender else []))


def int_msg(subject, body):
    return tool(MSGTOOL, "int", subject, body)


def upl_msg(kind, name, data):
    """An UplMsg (section 5.7) made here; kind 0 upload, 1 attachment, 2 source."""
    ts = int(time.time() * 1000)
    media = b"application/octet-stream" if kind == 1 else b""
    name = name.encode() if isinstance(name, str) else name
    return (struct.pack("<BBHQ", 1, 3, 0, ts) + struct.pack("<QB", 0 if kind == 0 else 1, kind) +
            bytes([len(media)]) + media + bytes([len(name)]) + name +
            struct.pack("<I", len(data)) + data)


class User:
    """A client's keys: UAK, and the ESK/EPK X25519 pair (section 3.6)."""

    def __init__(self):
        self.uak = os.urandom(32)
        sk = X25519PrivateKey.generate()
        self.esk = sk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
        self.epk = sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        self.uid = None
        self.client = None


def env_size(m):
    """Envelope length for an m-byte Message (section 4.2)."""
    return 32 * max(4, -(-(m + 34) // 32))


def env_open(env, esk, epk):
    """Opens an Envelope (section 4.5); raises ValueError on every failure."""
    n = len(env)
    if n % 32 or n < 128 or n > 50331648:
        raise ValueError("length")
    b = n // 32
    try:
        s = X25519PrivateKey.from_private_bytes(esk).exchange(
            X25519PublicKey.from_public_bytes(env[:32]))
    except ValueError:
        raise ValueError("low-order point")
    h = hashlib.blake2b(s + epk + struct.pack("<I", b), digest_size=44).digest()
    dec = Cipher(algorithms.ChaCha20(h[:32], bytes(4) + h[32:44]), mode=None).decryptor()
    p = dec.update(env[32:]) + dec.finalize()
    version, pad = p[0], p[1]
    if version != 1 or pad > n - 34 or (b > 4 and pad >= 32) or any(p[len(p) - pad:]):
        raise ValueError("bad envelope")
    return p[2:len(p) - pad]


def sto_perm(key):
    """Storage's secret file-name permutation (section 3.5) from the sto-name key."""
    alpha = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_+")
    enc = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    stream = enc.update(bytes(4096))
    pos = 0
    for i in range(63, 0, -1):
        n = i + 1
        limit = 256 - (256 % n)
        while stream[pos] >= limit:
            pos += 1
        j = stream[pos] % n
        pos += 1
        alpha[i], alpha[j] = alpha[j], alpha[i]
    return "".join(alpha)


class ServerKeys:
    """What the launcher's SMK gives a test: pair keys, and the secret file
    names of Storage (section 3.5) and Account (section 8.2)."""

    def __init__(self, system):
        with open(system.path("smk")) as f:
            smk = f.read().strip()
        self.pairs, self.keys = {}, {}
        self.perm_tool = None
        for line in run(ENVTOOL, "smk", smk).splitlines():
            w = line.split()
            if w[0] == "pair":
                self.pairs[(int(w[1]), int(w[2]))] = bytes.fromhex(w[3])
            elif w[0] == "key":
                self.keys["%s/%s" % (w[1], w[2])] = bytes.fromhex(w[4])
            elif w[0] == "perm":
                self.perm_tool = w[1]
        self.perm = sto_perm(self.keys["sto-name/1"])
        state = self.keys["acc-stat/1"]
        self.acc_name_key = hashlib.blake2b(b"", digest_size=32, key=state,
                                            salt=b"\x01" + bytes(15),
                                            person=b"userdb-n" + bytes(8)).digest()

    def pair(self, client, server):
        return self.pairs[(ROLES[client], ROLES[server])]

    def sto_name(self, uid):
        return self.perm[uid & 63] + self.perm[uid >> 6]

    def acc_name(self, uid):
        return hashlib.blake2b(struct.pack("<H", uid), digest_size=16,
                               key=self.acc_name_key).hexdigest()


def memfd_of(data, seal=True):
    fd = os.memfd_create("test", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if seal:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW |
                    fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    return fd


def read_fd(fd):
    size = os.fstat(fd).st_size
    out = bytearray()
    while len(out) < size:
        chunk = os.pread(fd, min(size - len(out), 1 << 20), len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


class ChanClosed(Exception):
    pass


class PyChan:
    """A channel client written from PROTOCOL.md section 7 (handshake, frames,
    counters, fd passing), so that tests can also send what no real client does."""

    def __init__(self, path, client, server, key, connect=True):
        self.path, self.client, self.server, self.key = path, client, server, key
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.send_ctr = self.recv_ctr = 0
        self.next_call = 1
        if connect and not self.handshake():
            raise ChanClosed("handshake refused")

    def close(self):
        self.sock.close()

    def hello(self, client=None, server=None, key=None, nonce=None):
        c = ROLES[self.client] if client is None else client
        s = ROLES[self.server] if server is None else server
        self.nc = nonce or os.urandom(32)
        body = bytes([1, 1, c, s]) + self.nc
        return body + hashlib.blake2b(body, digest_size=32, key=key or self.key).digest()

    def handshake(self, hello=None):
        """Sends a HELLO (ours unless given); True when a good ACK came back."""
        self.sock.send(hello or self.hello())
        ack = self.recv_raw()
        if ack is None:
            return False
        want = hashlib.blake2b(ack[:36] + self.nc, digest_size=32, key=self.key).digest()
        if (len(ack) != 68 or ack[:4] != bytes([1, 2, ROLES[self.server], ROLES[self.client]])
                or ack[36:] != want):
            raise RuntimeError("bad ACK")
        ns = ack[4:36]
        c2s = hashlib.blake2b(b"allears c2s v1" + self.nc + ns, digest_size=32, key=self.key)
        s2c = hashlib.blake2b(b"allears s2c v1" + self.nc + ns, digest_size=32, key=self.key)
        self.k_send = ChaCha20Poly1305(c2s.digest())
        self.k_recv = ChaCha20Poly1305(s2c.digest())
        return True

    def frame(self, mtype, payload, flags=0, ctr=None):
        """Seals one data frame (section 7.4), using up a counter unless ctr is given."""
        if ctr is None:
            ctr = self.send_ctr
            self.send_ctr += 1
        header = struct.pack("<BBHIQ", 1, flags, mtype, len(payload), ctr)
        return header + self.k_send.encrypt(struct.pack("<Q", ctr) + bytes(4), payload, header)

    def send(self, data, fds=()):
        if fds:
            self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                        array.array("i", fds))])
        else:
            self.sock.send(data)

    def recv_raw(self, timeout=10):
        """One datagram, or None when the server closed the connection."""
        self.sock.settimeout(timeout)
        try:
            data, anc, flags, _ = self.sock.recvmsg(70000, socket.CMSG_SPACE(4 * 4))
        except (ConnectionResetError, BrokenPipeError):
            return None
        self.rfds = []
        for level, ctype, cdata in anc:
            if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(cdata[:len(cdata) - len(cdata) % 4])
                self.rfds += list(a)
        if not data:
            return None
        return data

    def closed(self, timeout=5):
        """True when the server closes the connection without sending anything."""
        try:
            return self.recv_raw(timeout) is None
        except socket.timeout:
            return False

    def request(self, mtype, payload, fd=None):
        """Sends one call; returns its call id."""
        call = self.next_call
        self.next_call += 1
        body = struct.pack("<I", call)
        if fd is not None:
            body += struct.pack("<Q", os.fstat(fd).st_size)
        self.send(self.frame(mtype, body + payload, 1 if fd is not None else 0),
                  [fd] if fd is not None else ())
        return call

    def answer(self):
        """(call, type, payload after the call id, data of the memfd or None)."""
        data = self.recv_raw()
        if data is None:
            raise ChanClosed("connection closed")
        flags, mtype, plen, ctr = struct.unpack_from("<xBHIQ", data)
        if ctr != self.recv_ctr:
            raise RuntimeError("bad counter")
        self.recv_ctr += 1
        plain = self.k_recv.decrypt(struct.pack("<Q", ctr) + bytes(4), data[16:], data[:16])
        bulk = None
        for fd in self.rfds:
            bulk = read_fd(fd)
            os.close(fd)
        if (flags & 1) != (bulk is not None):
            raise RuntimeError("fd flag and fd disagree")
        return struct.unpack_from("<I", plain)[0], mtype, plain[4:], bulk

    def call(self, mtype, payload, fd=None):
        call = self.request(mtype, payload, fd)
        got, rtype, p, bulk = self.answer()
        if got != call or rtype != mtype:
            raise RuntimeError("answer to another call")
        return p, bulk


class Sto:
    """Storage's messages (section 11) over a PyChan as one role."""

    def __init__(self, system, keys, role):
        self.system, self.keys, self.role = system, keys, role
        self.ch = None

    def chan(self):
        if self.ch is None:
            self.ch = PyChan(self.system.channel_socket("storage"), self.role, "storage",
                             self.keys.pair(self.role, "storage"))
        return self.ch

    def reset(self):
        if self.ch:
            self.ch.close()
        self.ch = None

    def call(self, mtype, payload, fd=None):
        try:
            return self.chan().call(mtype, payload, fd)
        except Exception:
            self.reset()
            raise

    def store(self, uid, msg, flags=0, reserved=0):
        """(status, id or None)."""
        fd = memfd_of(msg)
        try:
            p, _ = self.call(STO_STORE, struct.pack("<HBB", uid, flags, reserved), fd)
        finally:
            os.close(fd)
        return p[0], (struct.unpack_from("<I", p, 1)[0] if len(p) == 5 else None)

    def browse(self, uid, flags=0, from_id=0, max_bytes=0, max_count=0, raw=None):
        """A Page, or the status byte of a failed browse."""
        payload = raw if raw is not None else struct.pack("<HBBIII", uid, flags, 0, from_id,
                                                          max_bytes, max_count)
        p, bulk = self.call(STO_BROWSE, payload)
        if len(p) == 1 and bulk is None:
            return p[0]
        return Page(p, bulk)

    def status(self, mtype, payload):
        p, _ = self.call(mtype, payload)
        return p[0]

    def usage(self, uid):
        """(status, bytes, count) as Account asks (STO_USAGE)."""
        p, _ = self.call(STO_USAGE, struct.pack("<H", uid))
        if len(p) == 13:
            return (p[0],) + struct.unpack_from("<QI", p, 1)
        return p[0], None, None


class Page:
    def __init__(self, p, bulk):
        (self.bulk_len, self.status, self.more, res, self.count, self.total_count, res2,
         self.total_bytes) = struct.unpack("<QBBHIIIQ", p)
        self.bulk = bulk
        self.items = [struct.unpack_from("<II", bulk, 8 * i) for i in range(self.count)]
        self.ids = [i for i, _ in self.items]
        self.envs = []
        off = 8 * self.count
        for _, blocks in self.items:
            self.envs.append(bulk[off:off + 32 * blocks])
            off += 32 * blocks
        self.well_formed = (res == 0 and res2 == 0 and self.status == OK and
                            self.bulk_len == len(bulk) and off == len(bulk))


def browse_all(sto, uid, oldest_first=True):
    """Every envelope of a user, page by page: [(id, envelope)]."""
    out, from_id = [], 0
    while True:
        page = sto.browse(uid, flags=1 if oldest_first else 0, from_id=from_id,
                          max_bytes=4 * MIB)
        if not isinstance(page, Page) or not page.well_formed:
            raise RuntimeError("browse failed: %r" % page)
        out += list(zip(page.ids, page.envs))
        if not page.more:
            return out
        from_id = page.ids[-1]


TMP_DIRS = []


def client(api, clock, uak, uid):
    """An itest Client whose scratch directory cleanup() removes."""
    c = Client(api, clock, uak, uid)
    TMP_DIRS.append(c.tmp)
    return c


def cleanup():
    while TMP_DIRS:
        shutil.rmtree(TMP_DIRS.pop(), ignore_errors=True)


def invite(admin, level=0):
    ans = admin.req(INVITE, bytes([level, 0, 0, 0]) + struct.pack("<I", 3600))
    if ans.status != OK:
        raise RuntimeError("invite: status %d" % ans.status)
    return base64.urlsafe_b64encode(ans.data[:32]).decode().rstrip("=")


def register_user(api, clock, admin, user, level=0, wanted=0xFFFF, invitation=None):
    """Registers user (with its EPK) by a new invitation; returns the answer's status."""
    ts, ans = register(api, clock, invitation or invite(admin, level), user.uak, user.epk, wanted)
    if ans.status == OK:
        user.uid = struct.unpack_from("<H", ans.data)[0]
        user.client = client(api, clock, user.uak, user.uid)
    return ans.status


def register_admin(system, api, clock):
    """The master admin (UserID 0) by the bootstrap invitation."""
    with open(os.path.join(system.state_dir("account"), "bootstrap-invite")) as f:
        boot = f.read().strip()
    admin = User()
    ts, ans = register(api, clock, boot, admin.uak, admin.epk)
    if ans.status != OK:
        raise RuntimeError("admin registration: status %d" % ans.status)
    admin.uid = 0
    admin.client = client(api, clock, admin.uak, 0)
    return admin


def set_limits(admin, level, storage_mib, max_normal=3, max_shield=10):
    return admin.client.req(SET_LIMITS, bytes([level, max_normal, max_shield, 0]) +
                            struct.pack("<I", storage_mib)).status


def alive(system, role, pid):
    d = system.daemons[role]
    return d.proc.pid == pid and d.proc.poll() is None


def wait_for(cond, timeout=10.0):
    """Polls cond (for effects that have no completion signal, such as Account's
    background STO_REMOVE); True as soon as it holds."""
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


# ---------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------


def main():
    system = System(BUILD, roles=["storage", "account"], quiet=True).start()
    try:
        tests(system)
    finally:
        status = system.stop()
        cleanup()
        case("clean_stop", status.get("account") == 0 and status.get("storage") == 0, str(status))


def tests(system):
    clock = Clock()
    keys = ServerKeys(system)
    case("sto_name_permutation_matches_envtool", keys.perm == keys.perm_tool)
    api = Chan(system, "api", "account")
    acc_sto = Chan(system, "account", "storage")  # chantool, the C client
    sto = Sto(system, keys, "api")
    dlv = Sto(system, keys, "deliver")
    acc = Sto(system, keys, "account")
    msg_dir = os.path.join(system.state_dir("storage"), "Msg")
    users_dir = os.path.join(system.state_dir("account"), "users")
    sto_pid = system.daemons["storage"].proc.pid

    def normal_call_works():
        rtype, raw = acc_sto.call(STO_USAGE, struct.pack("<H", 0))
        return rtype == STO_USAGE and raw[:1] == bytes([OK]) and alive(system, "storage", sto_pid)

    # ---- users: the admin and two level-0 users, each with its own X25519 pair ----
    admin = register_admin(system, api, clock)
    a, b = User(), User()
    case("register_users", register_user(api, clock, admin.client, a) == OK and
         register_user(api, clock, admin.client, b) == OK and (a.uid, b.uid) == (1, 2))
    case("storage_created_on_register", acc.usage(a.uid) == (OK, 0, 0) and
         acc.usage(b.uid) == (OK, 0, 0))
    case("msg_files_are_secret_names",
         sorted(os.listdir(msg_dir)) == sorted(keys.sto_name(u) for u in (0, 1, 2)))
    case("account_files_are_secret_names",
         sorted(os.listdir(users_dir)) == sorted(keys.acc_name(u) for u in (0, 1, 2)))

    # ---- STO_STORE from the API and from Deliver ----
    sent = {}  # id -> Message, for user a
    m = int_msg("int subject", "int body text")
    st, i1 = sto.store(a.uid, m)
    case("store_api_intmsg", st == OK and i1 == 1, "%d %r" % (st, i1))
    sent[i1] = m
    m = upl_msg(0, "file.bin", os.urandom(3000))
    case("upl_msg_made_here_is_valid", tool(MSGTOOL, "show", data=m).split(b"\n")[:2] ==
         [b"type 3", b"kind 0"])
    st, i = sto.store(a.uid, m)
    case("store_api_upload", st == OK and i == 2)
    sent[i] = m
    for name, msg in (("ext", ext_msg("ext subject", "ext body", "Some One <one@example.net>")),
                      ("attachment", upl_msg(1, "att.pdf", os.urandom(500))),
                      ("source", upl_msg(2, "source.eml", b"From: x\r\n\r\nbody\r\n"))):
        st, i = dlv.store(a.uid, msg)
        case("store_deliver_" + name, st == OK and i == max(sent) + 1, "%d %r" % (st, i))
        sent[i] = msg
    # one through chantool, the C client, as the API does it
    mfile = os.path.join(a.client.tmp, "m.bin")
    m = int_msg("via chantool", "body")
    with open(mfile, "wb") as f:
        f.write(m)
    rtype, raw = Chan(system, "api", "storage").call(STO_STORE, struct.pack("<HBB", a.uid, 0, 0),
                                                     fd_in=mfile)
    case("store_chantool", rtype == STO_STORE and raw == bytes([OK]) + struct.pack("<I", 6))
    sent[6] = m

    # ---- what each peer may store (section 11.2) ----
    before = acc.usage(a.uid)
    refused = [
        ("api_may_not_store_extmsg", sto, ext_msg("s", "b"), INVALID),
        ("api_may_not_store_attachment", sto, upl_msg(1, "a", b"x"), INVALID),
        ("api_may_not_store_source", sto, upl_msg(2, "a", b"x"), INVALID),
        ("deliver_may_not_store_intmsg", dlv, int_msg("s", "b"), INVALID),
        ("deliver_may_not_store_upload", dlv, upl_msg(0, "a", b"x"), INVALID),
        ("account_may_not_store", acc, int_msg("s", "b"), DENIED),
        ("store_not_a_message", sto, os.urandom(200), INVALID),
        ("store_empty_memfd", sto, b"", INVALID),
        ("store_truncated_message", sto, int_msg("s", "body")[:-1], INVALID),
    ]
    for name, who, msg, want in refused:
        st, i = who.store(a.uid, msg)
        case(name, st == want and i is None, "%d" % st)
    case("store_unknown_user", sto.store(77, int_msg("s", "b")) == (NOT_FOUND, None))
    case("store_uid_4096", sto.store(4096, int_msg("s", "b")) == (INVALID, None))
    case("store_flags_not_zero", sto.store(a.uid, int_msg("s", "b"), flags=1) == (INVALID, None))
    case("store_reserved_not_zero", sto.store(a.uid, int_msg("s", "b"), reserved=1) ==
         (INVALID, None))
    rtype, raw = acc_sto.call(STO_STORE, struct.pack("<HBB", a.uid, 0, 0))
    case("store_account_chantool_denied", raw == bytes([DENIED]))
    rtype, raw = Chan(system, "api", "storage").call(STO_STORE, struct.pack("<HBB", a.uid, 0, 0))
    case("store_without_memfd", raw == bytes([INVALID]))
    fd = memfd_of(int_msg("s", "b"), seal=False)
    p, _ = sto.call(STO_STORE, struct.pack("<HBB", a.uid, 0, 0), fd)
    os.close(fd)
    case("store_unsealed_memfd", p == bytes([INVALID]))
    msg = int_msg("s", "b")
    fd = memfd_of(msg)
    ch = sto.chan()
    call = ch.next_call
    ch.next_call += 1
    ch.send(ch.frame(STO_STORE, struct.pack("<IQHBB", call, len(msg) + 1, a.uid, 0, 0), 1), [fd])
    os.close(fd)
    got = ch.answer()
    case("store_bulk_length_mismatch", got[0] == call and got[2] == bytes([INVALID]))
    case("refused_stores_stored_nothing", acc.usage(a.uid) == before, "%r %r" %
         (before, acc.usage(a.uid)))

    # ---- browse everything, open every envelope ----
    page = sto.browse(a.uid)
    ids = sorted(sent, reverse=True)
    case("browse_newest_first", isinstance(page, Page) and page.well_formed and
         page.ids == ids and page.more == 0 and page.total_count == len(ids))
    case("browse_sizes", [blk * 32 for _, blk in page.items] ==
         [env_size(len(sent[i])) for i in ids] and page.total_bytes == sum(
             env_size(len(m)) for m in sent.values()))
    case("usage_matches_browse", acc.usage(a.uid) == (OK, page.total_bytes, len(ids)))
    opened = [env_open(e, a.esk, a.epk) for e in page.envs]
    case("envelopes_open_to_the_messages", opened == [sent[i] for i in ids])
    case("envelopes_are_ciphertext", not any(sent[i][12:] in e for i, e in zip(ids, page.envs)))
    case("envtool_opens_them_too", all(tool(ENVTOOL, "open", a.esk.hex(), data=e) == sent[i]
                                        for i, e in zip(ids, page.envs)))

    def opens_as(e, u, want):
        try:
            return env_open(e, u.esk, u.epk) == want
        except ValueError:
            return False
    case("other_users_esk_does_not_open", not any(opens_as(e, b, sent[i])
                                                  for i, e in zip(ids, page.envs)))
    r = subprocess.run([ENVTOOL, "open", b.esk.hex()], input=page.envs[0], capture_output=True)
    case("envtool_other_esk", r.returncode != 0 or r.stdout != sent[ids[0]])
    case("other_user_sees_nothing", sto.browse(b.uid).ids == [] and
         sto.browse(b.uid).total_count == 0)

    # ---- more envelopes of varied sizes, for paging ----
    for n in range(19):
        m = int_msg("page %d" % n, "x" * (n * 37 + n * n * 11))
        st, i = sto.store(a.uid, m)
        if st != OK:
            break
        sent[i] = m
    all_ids = sorted(sent)
    case("store_more", st == OK and all_ids == list(range(1, 26)))
    size = {i: env_size(len(sent[i])) for i in all_ids}

    def pages(flags, count=0, nbytes=0):
        out, from_id, mores = [], 0, []
        for _ in range(100):
            pg = sto.browse(a.uid, flags=flags, from_id=from_id, max_count=count,
                            max_bytes=nbytes)
            if not isinstance(pg, Page) or not pg.well_formed:
                return None, None
            out.append(pg.ids)
            mores.append(pg.more)
            if not pg.more:
                break
            from_id = pg.ids[-1]
        return out, mores
    got, mores = pages(0, count=7)
    case("pages_newest_first_count_cap", got == [list(range(25, 18, -1)), list(range(18, 11, -1)),
                                                 list(range(11, 4, -1)), [4, 3, 2, 1]] and
         mores == [1, 1, 1, 0], repr(got))
    got, mores = pages(1, count=7)
    case("pages_oldest_first_count_cap", got == [list(range(1, 8)), list(range(8, 15)),
                                                 list(range(15, 22)), [22, 23, 24, 25]] and
         mores == [1, 1, 1, 0], repr(got))
    got, _ = pages(0, count=25)
    case("page_exactly_all", got == [list(range(25, 0, -1))])
    # byte caps: as many as fit, but the first always comes
    cap = size[25] + size[24]
    case("byte_cap_exact", sto.browse(a.uid, max_bytes=cap).ids == [25, 24])
    case("byte_cap_one_short", sto.browse(a.uid, max_bytes=cap - 1).ids == [25])
    case("byte_cap_first_always", sto.browse(a.uid, max_bytes=1).ids == [25] and
         sto.browse(a.uid, flags=1, max_bytes=1).ids == [1])
    got, _ = pages(1, nbytes=3000)
    flat = [i for pg in got for i in pg]
    ok = flat == all_ids
    for pg in got:  # each page is the longest run that fits, or one envelope
        ok = ok and (len(pg) == 1 or sum(size[i] for i in pg) <= 3000)
    for pg, nxt in zip(got, got[1:]):
        ok = ok and sum(size[i] for i in pg) + size[nxt[0]] > 3000
    case("pages_byte_cap_oldest_first", ok, repr(got))
    case("byte_and_count_cap", sto.browse(a.uid, max_bytes=100000, max_count=3).ids ==
         [25, 24, 23])
    # from a given envelope
    case("from_id_newest_first", sto.browse(a.uid, from_id=10, max_count=3).ids == [9, 8, 7])
    case("from_id_newest_inclusive", sto.browse(a.uid, flags=2, from_id=10,
                                                max_count=3).ids == [10, 9, 8])
    case("from_id_oldest_first", sto.browse(a.uid, flags=1, from_id=10,
                                            max_count=3).ids == [11, 12, 13])
    case("from_id_oldest_inclusive", sto.browse(a.uid, flags=3, from_id=10,
                                                max_count=3).ids == [10, 11, 12])
    pg = sto.browse(a.uid, from_id=1)
    case("from_id_past_the_end", pg.ids == [] and pg.more == 0 and pg.total_count == 25)
    pg = sto.browse(a.uid, flags=1, from_id=25)
    case("from_id_past_the_end_oldest", pg.ids == [] and pg.more == 0)
    case("from_id_beyond_newest", sto.browse(a.uid, from_id=1000, max_count=2).ids == [25, 24])
    case("limits_at_maximum", sto.browse(a.uid, max_bytes=BROWSE_MAX_BYTES,
                                         max_count=BROWSE_MAX_COUNT).ids == list(range(25, 0, -1)))
    pg = sto.browse(a.uid, flags=1)
    case("pages_open", [env_open(e, a.esk, a.epk) for e in pg.envs] == [sent[i] for i in pg.ids])
    bad = [
        ("browse_flag_bit2", struct.pack("<HBBIII", a.uid, 4, 0, 0, 0, 0)),
        ("browse_reserved", struct.pack("<HBBIII", a.uid, 0, 1, 0, 0, 0)),
        ("browse_max_bytes_over", struct.pack("<HBBIII", a.uid, 0, 0, 0, BROWSE_MAX_BYTES + 1, 0)),
        ("browse_max_count_over", struct.pack("<HBBIII", a.uid, 0, 0, 0, 0, BROWSE_MAX_COUNT + 1)),
        ("browse_short", struct.pack("<HBBIII", a.uid, 0, 0, 0, 0, 0)[:15]),
        ("browse_long", struct.pack("<HBBIII", a.uid, 0, 0, 0, 0, 0) + b"\x00"),
        ("browse_uid_4096", struct.pack("<HBBIII", 4096, 0, 0, 0, 0, 0)),
    ]
    for name, raw in bad:
        case(name, sto.browse(0, raw=raw) == INVALID)
    case("browse_unknown_user", sto.browse(77) == NOT_FOUND)
    fd = memfd_of(b"x" * 8)
    p, bulk = sto.call(STO_BROWSE, struct.pack("<HBBIII", a.uid, 0, 0, 0, 0, 0), fd)
    os.close(fd)
    case("browse_with_memfd", p == bytes([INVALID]) and bulk is None)

    # ---- who may ask what ----
    denied = [("deliver_browse", dlv, STO_BROWSE, struct.pack("<HBBIII", a.uid, 0, 0, 0, 0, 0)),
              ("deliver_delete", dlv, STO_DELETE, struct.pack("<HI", a.uid, 1)),
              ("deliver_empty", dlv, STO_EMPTY, struct.pack("<H", a.uid)),
              ("account_browse", acc, STO_BROWSE, struct.pack("<HBBIII", a.uid, 0, 0, 0, 0, 0)),
              ("account_empty", acc, STO_EMPTY, struct.pack("<H", a.uid)),
              ("api_create", sto, STO_CREATE, struct.pack("<H", 9)),
              ("api_remove", sto, STO_REMOVE, struct.pack("<H", a.uid)),
              ("api_usage", sto, STO_USAGE, struct.pack("<H", a.uid)),
              ("api_user_changed", sto, STO_USER_CHANGED, struct.pack("<H", a.uid)),
              ("deliver_create", dlv, STO_CREATE, struct.pack("<H", 9))]
    for name, who, mtype, payload in denied:
        case("denied_" + name, who.status(mtype, payload) == DENIED)
    case("unknown_type", sto.status(99, b"") == INVALID and acc.status(5, b"\x00\x00") == INVALID)
    case("denied_changed_nothing", sto.browse(a.uid).total_count == 25 and
         acc.usage(9)[0] == NOT_FOUND)

    # ---- delete and empty ----
    st = sto.status(STO_DELETE, struct.pack("<HI", a.uid, 10))
    pg = sto.browse(a.uid)
    case("delete_one", st == OK and 10 not in pg.ids and pg.total_count == 24 and
         pg.total_bytes == sum(size[i] for i in all_ids if i != 10))
    del sent[10]
    case("delete_again", sto.status(STO_DELETE, struct.pack("<HI", a.uid, 10)) == NOT_FOUND)
    case("delete_unknown_id", sto.status(STO_DELETE, struct.pack("<HI", a.uid, 999)) == NOT_FOUND)
    case("delete_id_zero", sto.status(STO_DELETE, struct.pack("<HI", a.uid, 0)) == INVALID)
    case("delete_other_users_envelope", sto.status(STO_DELETE, struct.pack("<HI", b.uid, 3)) ==
         NOT_FOUND and 3 in sto.browse(a.uid).ids)
    case("delete_unknown_user", sto.status(STO_DELETE, struct.pack("<HI", 77, 1)) == NOT_FOUND)
    case("delete_bad_length", sto.status(STO_DELETE, struct.pack("<HI", a.uid, 3)[:5]) == INVALID)
    case("delete_uid_4096", sto.status(STO_DELETE, struct.pack("<HI", 4096, 3)) == INVALID)
    case("from_deleted_id", sto.browse(a.uid, flags=2, from_id=10, max_count=2).ids == [9, 8] and
         sto.browse(a.uid, flags=3, from_id=10, max_count=2).ids == [11, 12])
    # the way a client deletes: through Account, which names the Storage call
    ans = a.client.req(MSG_DELETE, struct.pack("<I", 25))
    st = sto.status(ans.sto_type, ans.sto_args) if ans.status == OK else None
    case("delete_forwarded_by_account", ans.status == OK and ans.disp == 1 and
         ans.sto_type == STO_DELETE and st == OK and 25 not in sto.browse(a.uid).ids)
    del sent[25]
    pg = sto.browse(a.uid, flags=1)
    case("rest_still_opens", [env_open(e, a.esk, a.epk) for e in pg.envs] ==
         [sent[i] for i in pg.ids] and pg.ids == sorted(sent))
    case("empty_unknown_user", sto.status(STO_EMPTY, struct.pack("<H", 77)) == NOT_FOUND)
    case("empty_bad_length", sto.status(STO_EMPTY, struct.pack("<HB", a.uid, 0)) == INVALID)
    ans = a.client.req(EMPTY)
    st = sto.status(ans.sto_type, ans.sto_args) if ans.status == OK else None
    pg = sto.browse(a.uid)
    case("empty_forwarded_by_account", ans.sto_type == STO_EMPTY and st == OK and
         pg.ids == [] and pg.total_count == 0 and pg.total_bytes == 0)
    case("empty_usage", acc.usage(a.uid) == (OK, 0, 0))
    m = int_msg("after empty", "ids go on")
    case("ids_not_reused", sto.store(a.uid, m) == (OK, 26))
    sent = {26: m}
    case("empty_again_then_store", sto.status(STO_EMPTY, struct.pack("<H", a.uid)) == OK and
         sto.store(a.uid, m) == (OK, 27))
    sent = {27: m}

    # ---- hostile connections: each is refused, the daemon goes on serving ----
    path = system.channel_socket("storage")

    def hostile(name, refused):
        case("hostile_%s_refused" % name, refused)
        case("hostile_%s_then_normal_call" % name, normal_call_works())

    def raw_sock():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        return s

    def refused_hello(client, key, server="storage"):
        ch = PyChan(path, "deliver", "storage", key, connect=False)
        try:
            ch.sock.send(ch.hello(client=ROLES[client] if isinstance(client, str) else client,
                                  server=ROLES[server], key=key))
            return ch.closed()
        finally:
            ch.close()
    good = keys.pair("deliver", "storage")
    ch = PyChan(path, "deliver", "storage", good)
    case("python_channel_works", ch.call(STO_USAGE, struct.pack("<H", 0))[0] == bytes([DENIED]))
    ch.close()
    hostile("wrong_pair_key", refused_hello("deliver", keys.pair("api", "storage")))
    hostile("random_pair_key", refused_hello("deliver", os.urandom(32)))
    hostile("role_mta", refused_hello("mta", keys.pair("mta", "account")))
    hostile("role_web", refused_hello("web", os.urandom(32)))
    hostile("role_storage_itself", refused_hello("storage", os.urandom(32)))
    hostile("role_0", refused_hello(0, good))
    hostile("role_9", refused_hello(9, good))
    hostile("hello_for_account", refused_hello("deliver", good, server="account"))
    ch = PyChan(path, "deliver", "storage", good, connect=False)
    hello = ch.hello()
    ch.close()
    for name, data in (("truncated_hello", hello[:67]), ("hello_trailing_byte", hello + b"\x00"),
                       ("hello_version_2", b"\x02" + hello[1:]),
                       ("hello_kind_ack", hello[:1] + b"\x02" + hello[2:]),
                       ("garbage_68", os.urandom(68)), ("garbage_1000", os.urandom(1000)),
                       ("empty_datagram", b""), ("oversized_datagram", os.urandom(70000))):
        s = raw_sock()
        s.settimeout(5)
        try:
            s.send(data)
            got = s.recv(100)
        except ConnectionResetError:
            got = b""
        except socket.timeout:
            got = None
        s.close()
        hostile(name, got == b"")
    s = raw_sock()  # a connection that never says HELLO is closed after the handshake timeout
    s.settimeout(8)
    t0 = time.monotonic()
    try:
        got = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        got = None
    s.close()
    hostile("silent_client", got == b"" and time.monotonic() - t0 < 7.5)

    def after_handshake(name, make, fds=()):
        ch = PyChan(path, "api", "storage", keys.pair("api", "storage"))
        ok = ch.call(STO_USAGE, struct.pack("<H", 0))[0] == bytes([DENIED])
        ch.send(make(ch), fds)
        ok = ok and ch.closed()
        ch.close()
        hostile(name, ok)

    def browse_frame(ch, **kw):
        return ch.frame(STO_BROWSE, struct.pack("<IHBBIII", 99, a.uid, 0, 0, 0, 0, 0), **kw)

    def flip(data, at):
        return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
    after_handshake("frame_garbage", lambda ch: os.urandom(100))
    after_handshake("frame_short", lambda ch: browse_frame(ch)[:31])
    after_handshake("frame_bad_tag", lambda ch: flip(browse_frame(ch), -1))
    after_handshake("frame_bad_ciphertext", lambda ch: flip(browse_frame(ch), 20))
    after_handshake("frame_header_changed", lambda ch: flip(browse_frame(ch), 2))
    def short_length_field(ch):
        f = browse_frame(ch)
        return f[:4] + struct.pack("<I", len(f) - 33) + f[8:]

    def server_direction(ch):
        """A frame sealed with the server-to-client key, as if reflected back."""
        payload = struct.pack("<IHBBIII", 5, a.uid, 0, 0, 0, 0, 0)
        header = struct.pack("<BBHIQ", 1, 0, STO_BROWSE, len(payload), ch.send_ctr)
        return header + ch.k_recv.encrypt(struct.pack("<Q", ch.send_ctr) + bytes(4), payload,
                                          header)
    after_handshake("frame_length_field", short_length_field)
    after_handshake("frame_trailing_byte", lambda ch: browse_frame(ch) + b"\x00")
    after_handshake("frame_version_2", lambda ch: b"\x02" + browse_frame(ch)[1:])
    after_handshake("frame_type_0", lambda ch: ch.frame(0, struct.pack("<IH", 5, 0)))
    after_handshake("frame_unknown_flag", lambda ch: browse_frame(ch, flags=2))
    after_handshake("frame_counter_skipped", lambda ch: browse_frame(ch, ctr=ch.send_ctr + 1))
    after_handshake("frame_counter_repeated", lambda ch: browse_frame(ch, ctr=ch.send_ctr - 1))
    after_handshake("frame_counter_max", lambda ch: browse_frame(ch, ctr=(1 << 64) - 1))
    after_handshake("frame_no_call_id", lambda ch: ch.frame(STO_BROWSE, b"\x01\x00"))
    after_handshake("frame_fd_flag_without_fd",
                    lambda ch: ch.frame(STO_STORE, struct.pack("<IQHBB", 7, 10, a.uid, 0, 0), 1))
    fd1, fd2 = memfd_of(m), memfd_of(m)
    after_handshake("frame_fd_without_flag",
                    lambda ch: ch.frame(STO_STORE, struct.pack("<IQHBB", 7, len(m), a.uid, 0, 0)),
                    [fd1])
    after_handshake("frame_two_fds",
                    lambda ch: ch.frame(STO_STORE, struct.pack("<IQHBB", 7, len(m), a.uid, 0, 0),
                                        1), [fd1, fd2])
    after_handshake("frame_from_the_server_direction", server_direction)
    os.close(fd1)
    os.close(fd2)
    case("hostile_frames_stored_nothing", sto.browse(a.uid).ids == [27])

    # replay: the identical sealed STO_STORE frame (and its memfd) sent again
    ch = PyChan(path, "api", "storage", keys.pair("api", "storage"))
    m = int_msg("replayed", "once only")
    fd = memfd_of(m)
    frame = ch.frame(STO_STORE, struct.pack("<IQHBB", 1, len(m), a.uid, 0, 0), 1)
    ch.send(frame, [fd])
    got = ch.answer()
    case("replay_first_accepted", got[2] == bytes([OK]) + struct.pack("<I", 28))
    ch.send(frame, [fd])
    hostile("replayed_frame", ch.closed())
    ch.close()
    ch = PyChan(path, "api", "storage", keys.pair("api", "storage"))
    ch.send(frame, [fd])  # counter 0 matches here, but the key does not
    hostile("frame_from_another_connection", ch.closed())
    ch.close()
    os.close(fd)
    case("replays_stored_nothing", sto.browse(a.uid).ids == [28, 27])
    sent[28] = m
    # a well-formed frame with a bad request is answered and the connection stays
    ch = PyChan(path, "api", "storage", keys.pair("api", "storage"))
    p1, _ = ch.call(STO_BROWSE, b"\x01\x00\x00")
    p2, bulk = ch.call(STO_BROWSE, struct.pack("<HBBIII", a.uid, 0, 0, 0, 0, 0))
    ch.close()
    case("bad_request_answered_connection_kept", p1 == bytes([INVALID]) and p2[8] == OK)
    case("storage_never_restarted", alive(system, "storage", sto_pid) and
         system.daemons["storage"].restarts == 0)

    # ---- the level's storage limit (set by an admin, applied at once) ----
    sto.reset()
    pre = sto.store(b.uid, int_msg("warm", "the cache"))  # Storage now caches b's limit
    case("limit_warm_cache", pre[0] == OK and sto.store(a.uid, int_msg("w", "w"))[0] == OK)
    big = upl_msg(0, "big.bin", os.urandom(2 * MIB))
    case("limit_big_fits_default", env_size(len(big)) < 256 * MIB)
    case("set_limits_1mib", set_limits(admin, 0, 1) == OK)
    ans = a.client.req(INFO)
    case("info_shows_limit", ans.status == OK and struct.unpack_from("<I", ans.data, 4)[0] == 1)
    case("new_limit_applies_at_once", sto.store(a.uid, big) == (LIMIT, None) and
         sto.store(b.uid, big) == (LIMIT, None))
    used = sto.browse(a.uid).total_bytes
    target = MIB - used
    fill = upl_msg(0, "fill", os.urandom(target - 34 - 27 - 4))
    case("limit_fill_size", env_size(len(fill)) == target)
    st, fid = sto.store(a.uid, fill)
    case("limit_exact_fit", st == OK and sto.browse(a.uid).total_bytes == MIB)
    case("limit_reached", sto.store(a.uid, int_msg("one", "more")) == (LIMIT, None))
    case("limit_reached_upload", sto.store(a.uid, upl_msg(0, "x", b"")) == (LIMIT, None))
    case("limit_other_user_unaffected", sto.store(b.uid, int_msg("b", "fits"))[0] == OK)
    case("limit_delete_frees", sto.status(STO_DELETE, struct.pack("<HI", a.uid, fid)) == OK and
         sto.store(a.uid, int_msg("fits", "again"))[0] == OK)
    case("set_limits_4mib", set_limits(admin, 0, 4) == OK)
    case("raised_limit_applies_at_once", sto.store(a.uid, big)[0] == OK)
    case("set_limits_1mib_again", set_limits(admin, 0, 1) == OK and
         sto.store(a.uid, int_msg("over", "again")) == (LIMIT, None))
    ans = admin.client.req(SET_LEVEL, struct.pack("<HB", a.uid, 1))
    case("level_change_applies_at_once", ans.status == OK and
         sto.store(a.uid, int_msg("level 1", "1 GiB"))[0] == OK)
    # stores accepted but not yet durable count too: three pipelined stores of
    # 400 KiB against 1 MiB, on one connection, in one go
    pg = sto.browse(b.uid)
    for i in pg.ids:
        sto.status(STO_DELETE, struct.pack("<HI", b.uid, i))
    ch = sto.chan()
    msgs = [upl_msg(0, "p%d" % n, os.urandom(400 << 10)) for n in range(3)]
    fds = [memfd_of(x) for x in msgs]
    calls = [ch.request(STO_STORE, struct.pack("<HBB", b.uid, 0, 0), fd) for fd in fds]
    answers = sorted(ch.answer()[2][0] for _ in calls)
    for fd in fds:
        os.close(fd)
    case("limit_counts_stores_in_flight", answers == [OK, OK, LIMIT], repr(answers))
    case("set_limits_back", set_limits(admin, 0, 256) == OK)

    # ---- Account down: a store that needs the user's limit cannot go on ----
    case("user_changed_from_account", acc.status(STO_USER_CHANGED, struct.pack("<H", a.uid)) == OK)
    case("user_changed_uid_4096", acc.status(STO_USER_CHANGED, struct.pack("<H", 4096)) == INVALID)
    system.kill("account", signal.SIGTERM)
    # Storage sees its connection to Account close and fails calls for a short
    # back-off; later calls wait in the backlog of the listening socket (which
    # the launcher keeps, as systemd does) until Account is back or the call's
    # 10 s deadline passes. Either way a store that cannot learn the limit is
    # answered "try again later", never stored unchecked.
    t0 = time.monotonic()
    case("store_tempfail_while_account_down", sto.store(a.uid, int_msg("s", "b")) ==
         (TEMPFAIL, None) and time.monotonic() - t0 < 11)
    time.sleep(0.3)  # past the client's reconnect back-off (200 ms), which signals nothing
    ch = sto.chan()
    fd = memfd_of(int_msg("during", "restart"))
    ch.request(STO_STORE, struct.pack("<HBB", a.uid, 0, 0), fd)
    os.close(fd)
    system.restart("account")
    clock.last = max(clock.last, int(time.time() * 1000))
    got = ch.answer()
    case("store_waits_for_account_restart", got[2][:1] == bytes([OK]), got[2].hex())

    # ---- user removal removes the storage ----
    ans = admin.client.req(DELETE_USER, struct.pack("<H", b.uid))
    case("admin_deletes_user", ans.status == OK)
    case("deleted_user_storage_removed", wait_for(lambda: acc.usage(b.uid)[0] == NOT_FOUND))
    case("deleted_user_msg_file_gone", sorted(os.listdir(msg_dir)) ==
         sorted(keys.sto_name(u) for u in (0, a.uid)))
    case("deleted_user_account_file_gone", sorted(os.listdir(users_dir)) ==
         sorted(keys.acc_name(u) for u in (0, a.uid)))
    case("deleted_user_store", sto.store(b.uid, int_msg("s", "b")) == (NOT_FOUND, None))
    case("deleted_user_browse", sto.browse(b.uid) == NOT_FOUND)
    c = User()
    case("reregister_same_uid", register_user(api, clock, admin.client, c) == OK and c.uid == b.uid)
    m = int_msg("fresh", "start")
    st = sto.store(c.uid, m)
    pg = sto.browse(c.uid)
    case("reused_uid_starts_fresh", st == (OK, 1) and pg.ids == [1] and
         env_open(pg.envs[0], c.esk, c.epk) == m)
    case("user_deletes_itself", a.client.req(DELETE).status == OK and
         wait_for(lambda: acc.usage(a.uid)[0] == NOT_FOUND))
    case("msg_dir_after_deletes", sorted(os.listdir(msg_dir)) ==
         sorted(keys.sto_name(u) for u in (0, c.uid)))
    case("account_create_remove_denied_to_others",
         dlv.status(STO_REMOVE, struct.pack("<H", c.uid)) == DENIED and acc.usage(c.uid)[0] == OK)
    # Storage's own create/remove answers, as Account sees them
    case("create_existing", acc.status(STO_CREATE, struct.pack("<H", c.uid)) == EXISTS)
    case("remove_unknown", acc.status(STO_REMOVE, struct.pack("<H", 77)) == NOT_FOUND)
    case("create_remove_direct", acc.status(STO_CREATE, struct.pack("<H", 77)) == OK and
         acc.usage(77) == (OK, 0, 0) and acc.status(STO_REMOVE, struct.pack("<H", 77)) == OK and
         acc.usage(77)[0] == NOT_FOUND)
    case("create_uid_4096", acc.status(STO_CREATE, struct.pack("<H", 4096)) == INVALID)
    for s in (sto, dlv, acc):
        s.reset()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_storage crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
