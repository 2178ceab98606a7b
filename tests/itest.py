"""itest.py: helpers shared by the integration tests (tests/integration/*.py):
PASS/FAIL reporting, a strictly increasing client clock, channel calls through
build/tests/chantool, API requests sealed by build/tests/apitool, registration.
The tests import it with sys.path.insert(0, <repo>/tests)."""

import os
import struct
import subprocess
import sys
import tempfile
import time

import json

import argon2.low_level
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import serialization

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
MSGTOOL = os.path.join(BUILD, "tests", "msgtool")
ENVTOOL = os.path.join(BUILD, "tests", "envtool")
APITOOL = os.path.join(BUILD, "tests", "apitool")
CHANTOOL = os.path.join(BUILD, "tests", "chantool")
ADDRTOOL = os.path.join(BUILD, "tests", "addrtool")

# chanmsg.h
ACC_LOOKUP, ACC_USER_INFO, ACC_API = 1, 2, 10
STO_CREATE, STO_REMOVE, STO_USAGE, STO_STORE, STO_BROWSE = 1, 2, 4, 10, 11
OK, NOT_FOUND, EXISTS, LIMIT, INVALID, TEMPFAIL, DENIED = 0, 1, 2, 3, 4, 5, 6
FORBIDDEN, AUTH, REPLAY, TIME, SELF, DECLINED, NOT_OWNER = 8, 9, 10, 11, 12, 13, 14
# section 12.7
INFO, DELETE, PRIV_GET, PRIV_SET, ADD_NORMAL, ADD_SHIELD, ADDR_DELETE, SET_FLAGS = range(1, 9)
BROWSE, MSG_DELETE, EMPTY, UPLOAD, SEND = 16, 17, 18, 19, 20
LIST, SET_LEVEL, SET_LIMITS, INVITE, DELETE_USER = 32, 33, 34, 35, 36

failures = 0


def case(name, cond, detail=""):
    """Prints PASS or FAIL for one case; returns cond."""
    global failures
    if cond:
        print("PASS %s" % name)
    else:
        failures += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()
    return cond


def run(*args, stdin=None):
    r = subprocess.run(list(args), input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (args[0], r.returncode, r.stderr))
    return r.stdout


class Clock:
    """Strictly increasing Unix milliseconds, as a client keeps them."""

    def __init__(self):
        self.last = 0

    def next(self):
        self.last = max(self.last + 1, int(time.time() * 1000))
        return self.last


def addr32(text):
    out = run(ADDRTOOL, "encode", stdin=text + "\n").split()
    return bytes.fromhex(out[1])


def normal_hash(addr, salt, params):
    ops = params[1]
    mem = struct.unpack_from("<I", params, 4)[0]
    h = argon2.low_level.hash_secret_raw(addr, salt, ops, mem, 1, 16, argon2.low_level.Type.ID, 19)
    return bytes(a ^ b for a, b in zip(h[:8], h[8:]))


class Chan:
    def __init__(self, system, role, server):
        self.sock = system.channel_socket(server)
        self.keys = system.path("keys", role + ".keys")
        self.role, self.server = role, server

    def call(self, mtype, payload, fd_in=None, fd_out=None):
        args = [CHANTOOL]
        if fd_in:
            args += ["--fd-in", fd_in]
        if fd_out:
            args += ["--fd-out", fd_out]
        args += [self.sock, self.keys, self.role, self.server, str(mtype),
                 payload.hex() if payload else "-"]
        line = run(*args).split("\n")[0].split()
        rtype, hexp = int(line[0]), line[1]
        return rtype, b"" if hexp == "-" else bytes.fromhex(hexp)


    def batch(self, calls):
        """Calls one after another on one connection; returns the seconds taken."""
        lines = "".join("%d %s\n" % (t, p.hex()) for t, p in calls)
        t0 = time.monotonic()
        out = run(CHANTOOL, self.sock, self.keys, self.role, self.server, "-", stdin=lines)
        took = time.monotonic() - t0
        if len(out.strip().split("\n")) != len(calls):
            raise RuntimeError("chantool batch: %r" % out)
        return took


class Answer:
    def __init__(self, raw, fd_file=None):
        self.raw = raw
        self.bulk = None
        if fd_file:
            raw = raw[8:]
            with open(fd_file, "rb") as f:
                self.bulk = f.read()
        self.status, self.cmd, self.disp, res = raw[0], raw[1], raw[2], raw[3]
        self.key = raw[4:36]
        self.rest = raw[36:]
        self.data = self.bulk if self.bulk is not None else self.rest
        if self.disp == 1:
            self.sto_type, n = struct.unpack_from("<HB", self.rest)
            self.sto_args = self.rest[4:4 + n]


class Client:
    def __init__(self, api, clock, uak, uid):
        self.api, self.clock, self.uak, self.uid = api, clock, uak, uid
        self.tmp = tempfile.mkdtemp(prefix="acc-test-")

    def body(self, ts, cmd, args=b"", uid=None):
        uid = self.uid if uid is None else uid
        return bytes.fromhex(run(APITOOL, "seal", self.uak.hex(), str(ts), str(uid), str(cmd), "0",
                                 args.hex() if args else "-").strip())

    def send(self, ts, body, uid=None):
        uid = self.uid if uid is None else uid
        out = os.path.join(self.tmp, "answer.bin")
        if os.path.exists(out):
            os.unlink(out)
        payload = struct.pack("<QHBB", ts, uid, 0, 0) + body
        rtype, raw = self.api.call(ACC_API, payload, fd_out=out)
        return Answer(raw, out if os.path.exists(out) else None)

    def send_memfd(self, ts, body):
        """The body in a sealed memfd (section 10.4), as the API does for large ones."""
        out = os.path.join(self.tmp, "answer.bin")
        if os.path.exists(out):
            os.unlink(out)
        inp = os.path.join(self.tmp, "body.bin")
        with open(inp, "wb") as f:
            f.write(body)
        rtype, raw = self.api.call(ACC_API, struct.pack("<QHBB", ts, self.uid, 0, 0), fd_in=inp,
                                   fd_out=out)
        return Answer(raw, out if os.path.exists(out) else None)

    def req(self, cmd, args=b""):
        ts = self.clock.next()
        return self.send(ts, self.body(ts, cmd, args))


def register(api, clock, invite_text, uak, epk, wanted=0xFFFF):
    ts = clock.next()
    body = bytes.fromhex(run(APITOOL, "reg-seal", invite_text, str(ts), str(wanted), uak.hex(),
                             epk.hex()).strip())
    rtype, raw = api.call(ACC_API, struct.pack("<QHBB", ts, 0xFFFF, 1, 0) + body)
    return ts, Answer(raw)


def new_user_keys():
    uak = os.urandom(32)
    epk = X25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return uak, epk


def lookup(mta, addr, tag=7):
    rtype, raw = mta.call(ACC_LOOKUP, addr + struct.pack("<IB", tag, 0))
    return raw[0], struct.unpack_from("<H", raw, 1)[0], raw[3]




class ClientUser:
    """A user of the `allears` client with its own home directory, set up to
    talk to the launcher's API with the launcher's CA."""

    def __init__(self, system, root, name):
        self.home = os.path.join(root, name)
        os.mkdir(self.home, 0o700)
        with open(os.path.join(self.home, "config"), "w") as f:
            f.write("server = localhost\nport = %d\nca = %s\n" % (system.port("api"),
                                                                    system.tls_ca))

    def run(self, *args, stdin=None):
        env = dict(os.environ, ALLEARS_HOME=self.home)
        env.pop("NO_COLOR", None)
        return subprocess.run([os.path.join(BUILD, "allears")] + list(args), input=stdin,
                              capture_output=True, env=env, timeout=120)

    def json(self, *args, stdin=None):
        p = self.run("--json", *args, stdin=stdin)
        if p.returncode != 0:
            raise RuntimeError("allears %s: %d %s" % (" ".join(args), p.returncode,
                                                      p.stderr.decode(errors="replace")))
        return json.loads(p.stdout)
