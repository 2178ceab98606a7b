"""vmlib.py: what the VM test scenarios share: PASS/FAIL/SKIP lines, a guest
(commands run inside the booted system: nsenter for nspawn, the virtconsole
command channel for qemu), the `allears` client run on the host against the
guest's API, and waits on conditions (never fixed sleeps where a state can be
polled). See vm-tests/README.md."""

import base64
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time

counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}


def case(name, cond, detail=""):
    """Prints PASS or FAIL for one case; returns cond."""
    word = "PASS" if cond else "FAIL"
    counts[word] += 1
    detail = " ".join(str(detail).split())[:600] if not cond else ""
    print(("%s %s %s" % (word, name, detail)).rstrip())
    sys.stdout.flush()
    return cond


def skip(name, why):
    counts["SKIP"] += 1
    print("SKIP %s (%s)" % (name, why))
    sys.stdout.flush()


def note(text):
    print("  %s" % text)
    sys.stdout.flush()


class GuestError(Exception):
    pass


class Guest:
    """A booted system; run() executes a bash script inside it as root."""

    lane = "?"

    def run(self, script, timeout=60):
        raise NotImplementedError

    def ok(self, script, timeout=60):
        """Runs script; raises GuestError unless it exits 0; returns its output."""
        rc, out = self.run(script, timeout)
        if rc != 0:
            raise GuestError("guest command failed (%d): %s\n%s" % (rc, script[:200], out[-2000:]))
        return out

    def show(self, unit, *props):
        out = self.ok("systemctl show %s -p %s" % (unit, ",".join(props)))
        vals = {}
        for line in out.splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                vals[k] = v
        return vals

    def wait(self, what, check, timeout=60, interval=0.1):
        """Polls check() (a callable returning a true value when done) until it
        holds or timeout seconds pass; returns its last value."""
        end = time.monotonic() + timeout
        while True:
            v = check()
            if v or time.monotonic() > end:
                if not v:
                    note("timed out after %d s waiting for %s" % (timeout, what))
                return v
            time.sleep(interval)

    def wait_active(self, unit, timeout=60):
        def active():
            s = self.show(unit, "ActiveState", "SubState", "MainPID")
            return s if s.get("ActiveState") == "active" and s.get("SubState") == "running" else None
        return self.wait("%s active" % unit, active, timeout)


class NspawnGuest(Guest):
    """systemd-nspawn container: commands through nsenter into its PID 1's
    namespaces (5 ms a command)."""

    lane = "nspawn"

    def __init__(self, leader):
        self.leader = leader

    def run(self, script, timeout=60):
        try:
            p = subprocess.run(["nsenter", "-t", str(self.leader), "-a", "/bin/bash", "-c", script],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, "timeout after %d s" % timeout
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


class QemuGuest(Guest):
    """qemu guest: commands over the virtconsole channel of guest-shell.sh (a
    unix socket on the host side, 20-120 ms a command)."""

    lane = "qemu"

    def __init__(self, sock_path, connect_timeout=180):
        self.path = sock_path
        self.sock = None
        self.buf = b""
        end = time.monotonic() + connect_timeout
        while self.sock is None:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
            except OSError:
                if time.monotonic() > end:
                    raise GuestError("no virtconsole socket at %s" % self.path)
                time.sleep(0.2)
        # The channel's service starts with the device; until then a command gets
        # no answer, so ping with a short timeout until one comes back.
        while True:
            rc, _ = self._call("true", 3)
            if rc == 0:
                return
            if time.monotonic() > end:
                raise GuestError("the guest's command channel never answered")

    def _call(self, script, timeout):
        cid = secrets.token_hex(6)
        line = cid.encode() + b" " + base64.b64encode(script.encode()) + b"\n"
        self.sock.sendall(line)
        end = time.monotonic() + timeout
        pat = re.compile(rb"VMTEST-BEGIN " + cid.encode() + rb"\r?\n([A-Za-z0-9+/=]*)\r?\n"
                         rb"VMTEST-END " + cid.encode() + rb" (\d+)\r?\n")
        while True:
            m = pat.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return int(m.group(2)), base64.b64decode(m.group(1)).decode(errors="replace")
            left = end - time.monotonic()
            if left <= 0:
                return 124, "timeout after %d s" % timeout
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise GuestError("the guest's command channel closed")
            self.buf += data

    def run(self, script, timeout=60):
        rc, out = self._call(script, timeout)
        if rc == 124 and out.startswith("timeout after"):
            # A late answer must not be taken for the next command's.
            self.buf = b""
        return rc, out


class Client:
    """The `allears` client built on the host, with its own home, talking to
    the guest's API from outside the guest (prefix: e.g. ip netns exec NS)."""

    def __init__(self, env, name):
        self.env = env
        self.home = os.path.join(env.work, "homes", name)
        os.makedirs(self.home, 0o700, exist_ok=True)
        with open(os.path.join(self.home, "config"), "w") as f:
            f.write("server = %s\nport = %d\nca = %s\ntimeout = 20\n" % (
                env.server, env.port, env.ca))

    def run(self, *args, stdin=None, timeout=90, env=None):
        e = dict(os.environ, ALLEARS_HOME=self.home, **(env or {}))
        e.pop("NO_COLOR", None)
        try:
            p = subprocess.run(self.env.prefix + [self.env.client] + list(args), input=stdin,
                               capture_output=True, env=e, timeout=timeout)
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(args, 124, b"", b"client timed out")
        return p

    def json(self, *args, stdin=None):
        p = self.run("--json", *args, stdin=stdin)
        if p.returncode != 0:
            raise GuestError("allears %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                       p.stderr.decode(errors="replace")[-500:]))
        return json.loads(p.stdout)


class Env:
    """Everything a scenario needs: the guest, how to reach its API, the
    installed roles, and the values the scenarios made (users, canaries)."""

    def __init__(self, guest, work, payload, client, server, port, ca, prefix):
        self.guest, self.work, self.payload = guest, work, payload
        self.client, self.server, self.port, self.ca = client, server, port, ca
        self.prefix = prefix
        self.lane = guest.lane
        self.needles = set()   # texts that must appear in no state file or log
        self.secrets = set()   # keys: the same, and never printed
        self.admin = self.user = None
        self.user_address = None
        self.sent = 0
        unitdir = os.path.join(payload, "root", "usr", "lib", "systemd", "system")
        self.units = sorted(os.listdir(unitdir)) if os.path.isdir(unitdir) else []
        # Roles with a service unit, in start order (servers before clients).
        order = ["account", "storage", "api", "mta", "deliver", "enquiry", "web"]
        roles = [u[len("allears-"):-len(".service")] for u in self.units
                 if u.startswith("allears-") and u.endswith(".service")]
        self.roles = sorted(roles, key=lambda r: (order.index(r) if r in order else 99, r))

    def has_role(self, role):
        return role in self.roles

    def unit_text(self, unit):
        with open(os.path.join(self.payload, "root", "usr", "lib", "systemd", "system", unit)) as f:
            return f.read()

    def canary(self, what):
        text = "vmcanary-%s-%s" % (what, secrets.token_hex(4))
        self.needles.add(text)
        return text
