#!/usr/bin/python3
"""The local launcher: runs allears without systemd (design section 8).

It does what systemd and allears-admin do on a real server, in a throw-away
directory: makes a Server Master Key and one key credential per role, binds
every listening socket (SOCK_SEQPACKET channels, TCP on loopback high ports),
and starts each daemon with the sockets in LISTEN_FDS/LISTEN_FDNAMES, its keys
in $CREDENTIALS_DIRECTORY, its state in $STATE_DIRECTORY and a NOTIFY_SOCKET it
reports READY=1 to. Daemons that fail are restarted (as Restart=on-failure),
except after exit status 78 (a configuration error). SIGINT/SIGTERM stop
everything cleanly.

Used by `make run` and by the integration tests (import it and call
System.start()).
"""

import argparse
import fcntl
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

EXIT_CONFIG = 78

# Each role: which channel sockets it serves, which roles it calls, and TCP
# listeners (name -> port offset from the base port).
ROLES = {
    "account": {"serves": True, "calls": ["storage"], "tcp": {}},
    "storage": {"serves": True, "calls": ["account"], "tcp": {}},
    "deliver": {"serves": True, "calls": ["enquiry", "storage"], "tcp": {}},
    "enquiry": {"serves": True, "calls": [], "tcp": {}},
    "mta": {"serves": False, "calls": ["account", "deliver"], "tcp": {"smtp": 0}},
    "api": {"serves": False, "calls": ["account", "storage", "enquiry"], "tcp": {"api": 1}},
    "web": {"serves": False, "calls": [], "tcp": {"web": 2}},
}
# Roles started when none are named (roles still being built are left out).
COMPLETE = ["enquiry", "storage", "account", "deliver", "mta", "api", "web"]
# Start order: servers before their clients.
ORDER = ["enquiry", "storage", "account", "deliver", "mta", "api", "web"]


class LaunchError(Exception):
    pass


class Proc:
    """A child process, waited for with waitpid (like subprocess.Popen)."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def _status(self, st):
        self.returncode = os.waitstatus_to_exitcode(st)
        return self.returncode

    def poll(self):
        if self.returncode is None:
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self._status(st)
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("allears", timeout)
            # pidfd would avoid polling; os.pidfd_open needs Linux 5.3 and
            # Python 3.9, both true on Debian 12, so use it when available.
            try:
                fd = os.pidfd_open(self.pid)
            except (AttributeError, OSError):
                time.sleep(0.01)
                continue
            try:
                sel = selectors.DefaultSelector()
                sel.register(fd, selectors.EVENT_READ)
                sel.select(None if deadline is None else max(0, deadline - time.monotonic()))
                sel.close()
            finally:
                os.close(fd)
        return self.returncode

    def send_signal(self, sig):
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self):
        self.send_signal(signal.SIGTERM)

    def kill(self):
        self.send_signal(signal.SIGKILL)


class Daemon:
    def __init__(self, system, role):
        self.system = system
        self.role = role
        self.proc = None
        self.fds = []  # (name, socket object)
        self.notify = None
        self.ready = False
        self.restarts = 0
        self.log = None


class System:
    def __init__(self, build, state=None, roles=None, base_port=None, keep=False,
                 config_extra=None, quiet=False, init_admin=False, binaries=None):
        self.build = os.path.abspath(build)
        # binaries: {"deliver": "/path/to/stub"} or {"deliver": ["/path", "arg", ...]}
        # runs another program (a test stand-in) in a role's place.
        self.binaries = {r: ([b] if isinstance(b, str) else list(b))
                         for r, b in (binaries or {}).items()}
        # init_admin: set up with `allears-admin init` (a master admin exists,
        # whose UMK text is then in self.admin_umk) instead of a bare SMK.
        self.init_admin = init_admin
        self.admin_umk = None
        self.own_state = state is None
        self.state = os.path.abspath(state) if state else tempfile.mkdtemp(prefix="allears-run-")
        self.keep = keep
        self.quiet = quiet
        available = [r for r in ORDER if os.access(self.binary(r), os.X_OK)]
        default = [r for r in available if r in COMPLETE]
        self.roles = [r for r in ORDER if r in (roles or default)]
        missing = [r for r in self.roles if r not in available]
        if missing:
            raise LaunchError("not built: " + ", ".join("allears-" + m for m in missing))
        self.base_port = base_port or self._free_port_block(3)
        self.config_extra = config_extra or {}
        self.daemons = {}
        self.stopping = False
        # The CA that signed the API's TLS certificate (prepare() makes both
        # when the api role runs): clients verify 127.0.0.1/localhost with it.
        self.tls_ca = self.path("tls", "ca.pem")

    # ---- layout ----
    def binary(self, role):
        if role in self.binaries:
            return self.binaries[role][0]
        return os.path.join(self.build, "allears-" + role)

    def argv(self, role):
        return [self.binary(role)] + self.binaries.get(role, [])[1:]

    def path(self, *parts):
        return os.path.join(self.state, *parts)

    def channel_socket(self, role):
        return self.path("run", role + ".sock")

    def credentials_dir(self, role):
        return self.path("credentials", role)

    def state_dir(self, role):
        return self.path("lib", role)

    def port(self, name):
        for spec in ROLES.values():
            if name in spec["tcp"]:
                return self.base_port + spec["tcp"][name]
        raise KeyError(name)

    @staticmethod
    def _free_port_block(n):
        for _ in range(200):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
            s.close()
            if base + n >= 65535:
                continue
            ok = True
            for i in range(n):
                t = socket.socket()
                try:
                    t.bind(("127.0.0.1", base + i))
                except OSError:
                    ok = False
                t.close()
            if ok:
                return base
        raise LaunchError("no free block of loopback ports")

    # ---- set-up ----
    def prepare(self):
        for d in ("run", "credentials", "lib", "log"):
            os.makedirs(self.path(d), mode=0o700, exist_ok=True)
        smk_file = self.path("smk")
        admin = os.path.join(self.build, "allears-admin")
        if not os.path.exists(smk_file) and self.init_admin:
            out = subprocess.run([admin, "init", "--encrypt", "no",
                                  "--credentials", self.path("keys"),
                                  "--account-state", self.state_dir("account")], check=True,
                                 capture_output=True, text=True).stdout.splitlines()
            at = [i for i, line in enumerate(out) if line.startswith("Server Master Key")][0]
            smk = out[at + 1].strip() + "\n"
            at = [i for i, line in enumerate(out) if line.startswith("(shown once; give it")][0]
            self.admin_umk = out[at].split(":", 1)[1].strip() or out[at + 1].strip()
            fd = os.open(smk_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(smk)
        if not os.path.exists(smk_file):
            smk = subprocess.run([admin, "smk-generate"], check=True, capture_output=True,
                                 text=True).stdout
            fd = os.open(smk_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(smk)
            subprocess.run([admin, "credentials", "--encrypt", "no", "--smk-file", smk_file,
                            "--out", self.path("keys")], check=True, stdout=subprocess.DEVNULL)
        for role in self.roles:
            cdir = self.credentials_dir(role)
            os.makedirs(cdir, mode=0o700, exist_ok=True)
            src = self.path("keys", role + ".keys")
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(cdir, "keys"))
                os.chmod(os.path.join(cdir, "keys"), 0o400)
            os.makedirs(self.state_dir(role), mode=0o700, exist_ok=True)
        for role in ("api", "mta", "web"):
            if role in self.roles:
                self._make_tls(self.credentials_dir(role))
        if "web" in self.roles:
            self._make_web_page(self.credentials_dir("web"))
        config = {"domain": "allears.test"}
        for role in self.roles:
            sec = {}
            for server in ROLES[role]["calls"]:
                sec[server + "_socket"] = self.channel_socket(server)
            config[role] = sec
        for role, extra in self.config_extra.items():
            if isinstance(extra, dict):
                config.setdefault(role, {}).update(extra)
            else:
                config[role] = extra
        with open(self.path("config.json"), "w") as f:
            json.dump(config, f, indent=2)

    def _make_web_page(self, cdir):
        """The Web role's page credential "web": the default page
        (data/web/index.html) built by `allears-admin web`, as an admin does."""
        out = os.path.join(cdir, "web")
        if os.path.exists(out):
            return
        page = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "web",
                            "index.html")
        subprocess.run([os.path.join(self.build, "allears-admin"), "web", "--out", out, page],
                       check=True, capture_output=True)

    def _make_tls(self, cdir):
        """A throw-away CA and a certificate for localhost and 127.0.0.1, as the
        credentials tls.crt (chain) and tls.key, as ACME files would be given."""
        crt, key = os.path.join(cdir, "tls.crt"), os.path.join(cdir, "tls.key")
        if os.path.exists(crt) and os.path.exists(key) and os.path.exists(self.tls_ca):
            return
        # Every role gets the same certificate: made once, then copied.
        made = [self.path("tls", n) for n in ("server.crt", "server.key")]
        if all(os.path.exists(p) for p in made) and os.path.exists(self.tls_ca):
            for src, dst in zip(made, (crt, key)):
                if os.path.exists(dst):
                    os.unlink(dst)
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o400)
            return
        import datetime
        import ipaddress
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        def name(cn):
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        now = datetime.datetime.utcnow()
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (x509.CertificateBuilder().subject_name(name("allears launcher CA"))
              .issuer_name(name("allears launcher CA")).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(hours=1))
              .not_valid_after(now + datetime.timedelta(days=30))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
              .sign(ca_key, hashes.SHA256()))
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder().subject_name(name("localhost"))
                .issuer_name(ca.subject).public_key(leaf_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"),
                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
                .sign(ca_key, hashes.SHA256()))
        os.makedirs(os.path.dirname(self.tls_ca), mode=0o700, exist_ok=True)
        pem = serialization.Encoding.PEM
        leaf_pem = leaf.public_bytes(pem)
        key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        files = [(self.tls_ca, ca.public_bytes(pem), 0o644),
                 (crt, leaf_pem, 0o400), (key, key_pem, 0o400),
                 (made[0], leaf_pem, 0o400), (made[1], key_pem, 0o400)]
        for path, data, mode in files:
            if os.path.exists(path):
                os.unlink(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(path, mode)

    def _bind(self, d):
        spec = ROLES[d.role]
        if spec["serves"]:
            p = self.channel_socket(d.role)
            if os.path.exists(p):
                os.unlink(p)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.bind(p)
            os.chmod(p, 0o660)
            s.listen(128)
            d.fds.append(("channel", s))
        for name in spec["tcp"]:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", self.port(name)))
            s.listen(128)
            d.fds.append((name, s))

    def _spawn(self, d):
        d.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        npath = self.path("run", "notify-" + d.role)
        if os.path.exists(npath):
            os.unlink(npath)
        d.notify.bind(npath)
        d.ready = False
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LISTEN_", "NOTIFY_", "WATCHDOG_"))}
        env.update({
            "ALLEARS_CONFIG": self.path("config.json"),
            "CREDENTIALS_DIRECTORY": self.credentials_dir(d.role),
            "STATE_DIRECTORY": self.state_dir(d.role),
            "NOTIFY_SOCKET": npath,
            "LISTEN_FDS": str(len(d.fds)),
            "LISTEN_FDNAMES": ":".join(n for n, _ in d.fds),
        })
        # Sockets go to fds 3, 4, ... as systemd passes them. Copy them above
        # every fd in use first, so no dup2 overwrites one still to be moved.
        high = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 100) for _, s in d.fds]
        log_path = self.path("log", d.role + ".log")
        d.log = open(log_path, "ab")
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, d.log.fileno(), 1),
                   (os.POSIX_SPAWN_DUP2, d.log.fileno(), 2)]
        actions += [(os.POSIX_SPAWN_DUP2, fd, 3 + i) for i, fd in enumerate(high)]
        # LISTEN_PID must be the daemon's own pid: the shell sets it and execs.
        argv = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"'] + self.argv(d.role)
        try:
            pid = os.posix_spawn("/bin/sh", argv, env, file_actions=actions)
        finally:
            for fd in high:
                os.close(fd)
        d.proc = Proc(pid)

    def start(self, timeout=30):
        self.prepare()
        for role in self.roles:
            d = Daemon(self, role)
            self.daemons[role] = d
            self._bind(d)
        for role in self.roles:
            self._spawn(self.daemons[role])
            self._wait_ready([self.daemons[role]], timeout)
        return self

    def _wait_ready(self, daemons, timeout):
        deadline = time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        for d in daemons:
            sel.register(d.notify, selectors.EVENT_READ, d)
        try:
            while not all(d.ready for d in daemons):
                for d in daemons:
                    if d.proc.poll() is not None:
                        raise LaunchError("allears-%s exited with status %d before it was ready "
                                          "(log: %s)" % (d.role, d.proc.returncode,
                                                         self.path("log", d.role + ".log")))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LaunchError("timed out waiting for READY=1 from " +
                                      ", ".join(d.role for d in daemons if not d.ready))
                for key, _ in sel.select(min(left, 0.2)):
                    d = key.data
                    msg = d.notify.recv(4096).decode(errors="replace")
                    if "READY=1" in msg.split("\n"):
                        d.ready = True
        finally:
            sel.close()

    # ---- running ----
    def check_alive(self):
        """Restarts daemons that died (except after a configuration error)."""
        for d in self.daemons.values():
            rc = d.proc.poll()
            if rc is None or self.stopping:
                continue
            if rc == EXIT_CONFIG:
                raise LaunchError("allears-%s: configuration error (exit 78), not restarting"
                                  % d.role)
            d.restarts += 1
            if d.restarts > 5:
                raise LaunchError("allears-%s keeps failing (exit %d)" % (d.role, rc))
            self._spawn(d)
            self._wait_ready([d], 30)

    def kill(self, role, sig=signal.SIGKILL):
        d = self.daemons[role]
        d.proc.send_signal(sig)
        d.proc.wait()

    def restart(self, role):
        d = self.daemons[role]
        if d.proc.poll() is None:
            d.proc.terminate()
            d.proc.wait()
        self._spawn(d)
        self._wait_ready([d], 30)

    def stop(self):
        self.stopping = True
        status = {}
        for role in reversed(self.roles):
            d = self.daemons.get(role)
            if not d or not d.proc:
                continue
            if d.proc.poll() is None:
                d.proc.terminate()
            try:
                status[role] = d.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                d.proc.kill()
                status[role] = d.proc.wait()
            for _, s in d.fds:
                s.close()
            if d.notify:
                d.notify.close()
            if d.log:
                d.log.close()
        if self.own_state and not self.keep:
            shutil.rmtree(self.state, ignore_errors=True)
        return status

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--state", help="state directory (default: a new temporary one, removed at exit)")
    ap.add_argument("--roles", help="comma-separated roles (default: every built daemon)")
    ap.add_argument("--base-port", type=int, help="first TCP port (default: a free block)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary state directory")
    args = ap.parse_args()
    roles = args.roles.split(",") if args.roles else None
    dns = None
    try:
        system = System(args.build, args.state, roles, args.base_port, args.keep)
        if "enquiry" in system.roles:
            # Enquiry asks a DNS server of our own on loopback, never the
            # machine's resolver: it knows the names below and nothing else.
            from dnsserver import DNSServer
            dns = DNSServer(LOCAL_DNS_RECORDS).start()
            system.config_extra["enquiry"] = {"resolvers": [dns.address]}
    except Exception as e:
        print("launcher: %s" % e, file=sys.stderr)
        return 1
    if not system.roles:
        print("launcher: no daemons are built yet in %s" % args.build, file=sys.stderr)
        return 1
    try:
        return run_system(system, dns)
    finally:
        if dns:
            dns.stop()


# What `make run`'s DNS server knows: the local names, so that mail sent from
# this machine gets its reverse DNS and HELO checked like any other.
LOCAL_DNS_RECORDS = [("A", "localhost", "127.0.0.1"), ("MX", "allears.test", 10, "localhost")]


def run_system(system, dns):
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        system.start()
    except (LaunchError, subprocess.CalledProcessError) as e:
        print("launcher: %s" % e, file=sys.stderr)
        system.stop()
        return 1
    print("allears is running (state: %s)" % system.state)
    for role in system.roles:
        d = system.daemons[role]
        where = ", ".join("%s %s" % (n, system.channel_socket(role) if n == "channel"
                                      else "127.0.0.1:%d" % system.port(n)) for n, _ in d.fds)
        print("  allears-%-8s pid %-7d %s" % (role, d.proc.pid, where or "(no listener)"))
    print("  logs: %s" % system.path("log"))
    if dns:
        print("  DNS for Enquiry: dnsmasq on %s (no other resolver is asked)" % dns.address)
    if "mta" in system.roles:
        print("  send mail: swaks --server 127.0.0.1 --port %d --to ADDRESS@allears.test"
              % system.port("smtp"))
    if "api" in system.roles:
        print("  the TLS certificate of the API, MTA and Web roles is signed by the CA in %s"
              % system.tls_ca)
    invite = os.path.join(system.state_dir("account"), "bootstrap-invite")
    if "account" in system.roles and os.path.exists(invite):
        print("  first admin's invitation (single use): %s" % invite)
    client = os.path.join(system.build, "allears")
    if "api" in system.roles and os.access(client, os.X_OK) and os.path.exists(invite):
        home = system.path("client-admin")
        os.makedirs(home, mode=0o700, exist_ok=True)
        with open(os.path.join(home, "config"), "w") as f:
            f.write("server = localhost\nport = %d\nca = %s\n" % (system.port("api"),
                                                                   system.tls_ca))
        print("Become the first admin with the client, in another terminal:")
        print("  export ALLEARS_HOME=%s" % home)
        print("  %s init" % client)
        print("  %s register \"$(cat %s)\"" % (client, invite))
        print("  %s whoami; %s admin invite; %s help" % (client, client, client))
    print("Press Ctrl-C to stop.")
    sys.stdout.flush()
    try:
        while not stop:
            system.check_alive()
            time.sleep(0.5)
    except LaunchError as e:
        print("launcher: %s" % e, file=sys.stderr)
        system.stop()
        return 1
    status = system.stop()
    bad = {r: s for r, s in status.items() if s != 0}
    if bad:
        print("launcher: unclean exits: %s" % bad, file=sys.stderr)
        return 1
    print("stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
