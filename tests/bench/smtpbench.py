#!/usr/bin/python3
"""smtpbench.py: the SMTP end-to-end benchmark of `make bench` (docs/BENCHMARKS.md,
"SMTP: allears against Postfix").

Messages per second accepted over SMTP and durably stored, allears against a
private Postfix instance (tests/bench/postfix_peer.py) on the same machine in
the same run, driven by the same load generator with the same parameters:
Postfix's own smtp-source, a new SMTP session per message, messages of a 4 KiB
body, for

  - 1 session, 1 recipient per message;
  - 16 sessions in parallel, 1 recipient;
  - 64 sessions in parallel, 1 recipient (a busy MX: many senders at once);
  - 16 sessions, 10 recipients per message (10 different mailboxes).

Every case runs against
  postfix accept:    250 once the queue file is fsync'd, then the message is put
                     on hold (the same promise as allears's 250: the mail is on
                     disk; nothing else is done);
  postfix delivered: the same 250, then virtual(8) delivers it into one maildir
                     per recipient; "delivered" is when the last file is there;
  allears known:     the recipients are registered users' normal addresses;
                     allears answers 250 only once every recipient's Envelope
                     is durable in Storage;
  allears unknown:   a normal address nobody owns (accepted, then dropped by
                     Deliver: less work; 1-recipient cases only);
in rounds (each round: every case against every target, interleaved), by
default two, to show how noisy the machine is. The time of a run is from the
start of smtp-source to its exit (the last 250); the number of messages of a
run is chosen from a short unmeasured warm-up run so that each run lasts about
TARGET_SECONDS (at most MAX_MESSAGES).

Every run is checked: Postfix's held queue files / maildir files and Storage's
envelope count per user (STO_USAGE) must grow by exactly what was acknowledged
(nothing for unknown addresses), else the benchmark fails.

If the allears daemons cannot run (not built, or a placeholder), it says
"allears MTA not available", prints the Postfix numbers alone and exits 3. Any
other failure exits 1. Needs root (Postfix), smtp-source (package postfix),
dnsmasq (dnsmasq-base) and python3-dnspython (the DNS server Enquiry asks).

Usage: /usr/bin/python3 tests/bench/smtpbench.py <builddir> [--rounds N]
         [--target-seconds S] [--only postfix|allears] [--json FILE]"""

import argparse
import base64
import json
import os
import resource
import shutil
import signal
import smtplib
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))

from postfix_peer import PeerError, PostfixPeer  # noqa: E402

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
DOMAIN = "allears.test"         # the launcher's domain; Postfix gets the same one
SENDER = "bench@sender.test"
HELO = "sender.test"
BODY_BYTES = 4096               # smtp-source -l: payload after the headers
BASE = "bench"                  # smtp-source -r N: Nbench ... 2bench, bench
CASES = [  # (name, sessions, recipients per message)
    ("1 session", 1, 1),
    ("16 sessions", 16, 1),
    ("64 sessions", 64, 1),
    ("16 sessions, 10 rcpt", 16, 10),
]
TARGET_SECONDS = 3.0
MAX_MESSAGES = 2000
MIN_MESSAGES = 20
SOURCE_TIMEOUT = 300            # a run that takes longer has hung
DELIVERY_TIMEOUT = 120
ARGON2_THREADS = 2
SEAL_THREADS = 2
ROLES = ["enquiry", "storage", "account", "deliver", "mta"]
EXIT_FAILED, EXIT_NO_ALLEARS = 1, 3


class BenchError(Exception):
    pass


class NotAvailable(Exception):
    pass


def log(msg=""):
    print(msg)
    sys.stdout.flush()


def recipients(rcpts, base=BASE):
    """The local parts smtp-source uses with -r rcpts -t base@domain."""
    return [base] + ["%d%s" % (i, base) for i in range(2, rcpts + 1)]


# ---- measuring ----

def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rusage_cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class Meter:
    """CPU used during one run: the server (server_cpu: a function returning
    its CPU seconds so far), smtp-source, and everything else on the machine
    (other engineers' work: what makes a shared machine noisy)."""

    def __init__(self, server_cpu, nproc):
        self.server_cpu, self.nproc = server_cpu, nproc

    def start(self):
        self.s0 = self.server_cpu()
        self.g0 = rusage_cpu(resource.RUSAGE_CHILDREN)
        self.o0 = rusage_cpu(resource.RUSAGE_SELF)
        self.m0, self.w0 = machine_busy(), time.monotonic()

    def stop(self):
        self.cpu = self._measure()

    def _measure(self):
        wall = time.monotonic() - self.w0
        server = self.server_cpu() - self.s0
        gen = rusage_cpu(resource.RUSAGE_CHILDREN) - self.g0
        own = rusage_cpu(resource.RUSAGE_SELF) - self.o0
        other = max(0.0, machine_busy() - self.m0 - server - gen - own)
        return {"wall_s": round(wall, 3), "server_s": round(server, 2),
                "smtp_source_s": round(gen, 2), "other_s": round(other, 2),
                "other_pct": round(100 * other / (wall * self.nproc), 1)}


def smtp_source(port, sessions, messages, rcpts, base=BASE):
    """Runs smtp-source; returns its wall time (start to exit = the last 250).
    Any reply other than the expected one makes smtp-source exit non-zero."""
    args = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-r", str(rcpts),
            "-l", str(BODY_BYTES), "-f", SENDER, "-t", "%s@%s" % (base, DOMAIN), "-M", HELO,
            "127.0.0.1:%d" % port]
    t0 = time.monotonic()
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=SOURCE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BenchError("smtp-source timed out after %d s: %s" % (SOURCE_TIMEOUT,
                                                                    " ".join(args)))
    took = time.monotonic() - t0
    if r.returncode != 0:
        raise BenchError("smtp-source failed (exit %d): %s: %s" % (
            r.returncode, " ".join(args), (r.stderr or r.stdout).strip()[-500:]))
    return took


def plan(rate, sessions):
    n = int(rate * TARGET_SECONDS)
    return max(MIN_MESSAGES, 2 * sessions, min(MAX_MESSAGES, n))


# ---- targets: one object per server configuration ----

class PostfixAccept:
    label = "postfix accept"

    def __init__(self, peer):
        self.peer = peer

    def server_cpu(self):
        return self.peer.cpu_seconds()

    def run(self, sessions, messages, rcpts, meter):
        before = self.peer.held_count()
        meter.start()
        took = smtp_source(self.peer.port_hold, sessions, messages, rcpts)
        meter.stop()
        held = self.peer.held_count() - before
        if held != messages:
            raise BenchError("Postfix acknowledged %d messages but %d queue files are on hold"
                             % (messages, held))
        return {"seconds": took}

    def reset(self):
        self.peer.clear()


class PostfixDelivered:
    label = "postfix delivered"

    def __init__(self, peer):
        self.peer = peer

    def server_cpu(self):
        return self.peer.cpu_seconds()

    def run(self, sessions, messages, rcpts, meter):
        want = self.peer.delivered_count() + messages * rcpts
        meter.start()
        t0 = time.monotonic()
        took = smtp_source(self.peer.port_deliver, sessions, messages, rcpts)
        # virtual(8) gives no signal but the file: poll the maildirs.
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while True:
            got = self.peer.delivered_count()
            if got >= want and self.peer.queued_count() == 0:
                break
            if time.monotonic() > deadline:
                raise BenchError("Postfix delivered %d of %d files in %d s (log: %s)" % (
                    got - want + messages * rcpts, messages * rcpts, DELIVERY_TIMEOUT,
                    self.peer.maillog))
            time.sleep(0.01)
        delivered = time.monotonic() - t0
        meter.stop()
        if got != want:
            raise BenchError("Postfix delivered %d files for %d acknowledged copies" % (
                got - want + messages * rcpts, messages * rcpts))
        return {"seconds": delivered, "accept_seconds": took}

    def reset(self):
        self.peer.clear()


class AllearsTarget:
    def __init__(self, bench, known):
        self.bench, self.known = bench, known
        self.label = "allears known" if known else "allears unknown"

    def server_cpu(self):
        return self.bench.cpu_seconds()

    def run(self, sessions, messages, rcpts, meter):
        b = self.bench
        locals_ = recipients(rcpts, BASE if self.known else b.unknown)
        before = b.counts()
        meter.start()
        took = smtp_source(b.port, sessions, messages, rcpts,
                           BASE if self.known else b.unknown)
        meter.stop()
        b.check_alive()
        after = b.counts()
        for uid in after:
            grew = after[uid] - before[uid]
            want = messages if self.known and b.owner_of(uid) in locals_ else 0
            if grew != want:
                raise BenchError("Storage holds %d new envelopes for UserID %d, %d were "
                                 "acknowledged" % (grew, uid, want))
        return {"seconds": took}

    def reset(self):
        pass


# ---- allears ----

class Allears:
    """The allears daemons through the launcher, with the users the load is
    addressed to and a DNS server of our own for Enquiry."""

    def __init__(self, build, nproc):
        self.build, self.nproc = build, nproc
        self.system = self.dns = None
        self.users = {}   # uid -> local part
        self.unknown = None

    def start(self):
        for role in ROLES:
            if not os.access(os.path.join(self.build, "allears-" + role), os.X_OK):
                raise NotAvailable("build/allears-%s is not built" % role)
        import itest  # reads the build directory from argv[1]
        from dnsserver import DNSServer, DNSServerError
        from launcher import LaunchError, System
        self.itest = itest
        for tool in (itest.APITOOL, itest.CHANTOOL, itest.ADDRTOOL):
            if not os.access(tool, os.X_OK):
                raise BenchError("%s is not built" % tool)
        # The sender's domain passes SPF from 127.0.0.1; no DKIM signature.
        # (dnsmasq answers the PTR of an A record's address too.)
        records = [("A", HELO, "127.0.0.1"),
                   ("TXT", HELO, "v=spf1 ip4:127.0.0.1 -all"),
                   ("TXT", "_dmarc." + HELO, "v=DMARC1; p=none")]
        try:
            self.dns = DNSServer(records).start()
        except DNSServerError as e:
            raise BenchError("DNS server for Enquiry: %s" % e)
        try:
            self.system = System(self.build, roles=ROLES, quiet=True, config_extra={
                "enquiry": {"resolvers": [self.dns.address]},
                "account": {"argon2_threads": ARGON2_THREADS},
                "storage": {"seal_threads": SEAL_THREADS},
                # One client IP sends everything: lift the per-IP limits that
                # protect Account from one sender (recipients per minute,
                # sessions at once); nothing else is changed.
                "mta": {"rcpts_per_ip_minute": 1000000, "max_sessions_per_ip": 128}})
            self.system.start()
        except (LaunchError, subprocess.CalledProcessError, OSError) as e:
            raise NotAvailable("the daemons did not start: %s%s" % (e, self._log_tails()))
        self.port = self.system.port("smtp")
        self._users()
        self._check_addresses()

    def _log_tails(self, lines=5):
        """The last lines of each daemon's log (the launcher removes them)."""
        out = ""
        logdir = self.system.path("log") if self.system else None
        for role in ROLES:
            try:
                with open(os.path.join(logdir, role + ".log"), errors="replace") as f:
                    tail = f.readlines()[-lines:]
            except (OSError, TypeError):
                continue
            if tail:
                out += "\n    %s.log: %s" % (role, "    ".join(tail).rstrip())
        return out

    def _users(self):
        it = self.itest
        clock = it.Clock()
        api = it.Chan(self.system, "api", "account")
        with open(os.path.join(self.system.state_dir("account"), "bootstrap-invite")) as f:
            invite = f.read().strip()
        uak, epk = it.new_user_keys()
        _, ans = it.register(api, clock, invite, uak, epk)
        if ans.status != it.OK:
            raise BenchError("registration of the first admin failed: status %d" % ans.status)
        admin = it.Client(api, clock, uak, 0)
        info = admin.req(it.INFO)
        if info.status != it.OK:
            raise BenchError("USER_INFO failed: status %d" % info.status)
        params, salt = info.data[24:32], info.data[32:48]
        clients = {0: admin}
        for i in range(2, max(c[2] for c in CASES) + 1):
            ans = admin.req(it.INVITE, bytes([0, 0, 0, 0]) + struct.pack("<I", 3600))
            if ans.status != it.OK:
                raise BenchError("ADMIN_INVITE failed: status %d" % ans.status)
            text = base64.urlsafe_b64encode(ans.data[:32]).decode().rstrip("=")
            uak_i, epk_i = it.new_user_keys()
            _, ans = it.register(api, clock, text, uak_i, epk_i)
            if ans.status != it.OK:
                raise BenchError("registration failed: status %d" % ans.status)
            uid = struct.unpack_from("<H", ans.data)[0]
            clients[uid] = it.Client(api, clock, uak_i, uid)
        for (uid, client), local in zip(sorted(clients.items()), recipients(len(clients))):
            ans = client.req(it.ADD_NORMAL, it.normal_hash(it.addr32(local), salt, params))
            if ans.status != it.OK:
                raise BenchError("ADDRESS_ADD_NORMAL %s failed: status %d" % (local, ans.status))
            self.users[uid] = local
        # Storage must know every user before mail arrives for them.
        for _ in range(200):
            try:
                self.counts()
                return
            except BenchError:
                time.sleep(0.05)
        raise BenchError("Storage never created the users")

    def owner_of(self, uid):
        return self.users[uid]

    def counts(self):
        """Envelopes Storage holds, per UserID (STO_USAGE, as Account asks)."""
        it = self.itest
        sto = it.Chan(self.system, "account", "storage")
        out = {}
        for uid in self.users:
            _, raw = sto.call(it.STO_USAGE, struct.pack("<H", uid))
            if raw[:1] != bytes([it.OK]) or len(raw) != 13:
                raise BenchError("STO_USAGE for UserID %d: %s" % (uid, raw.hex()))
            out[uid] = struct.unpack_from("<QI", raw, 1)[1]
        return out

    def _rcpt(self, local):
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname=HELO, timeout=60) as s:
            s.ehlo_or_helo_if_needed()
            s.mail(SENDER)
            code, text = s.rcpt("%s@%s" % (local, DOMAIN))
            s.rset()
            return code, text

    def _check_addresses(self):
        """Every address the load uses must be accepted on a plain session:
        the users' addresses, and one unknown normal address (one in four
        unknown addresses carries the decoy REQUIRE_TLS flag, section 10.2:
        try names until one does not)."""
        for local in self.users.values():
            code, text = self._rcpt(local)
            if code != 250:
                raise BenchError("RCPT TO %s@%s: %d %s" % (local, DOMAIN, code, text))
        for k in range(1, 41):
            name = "nobody%d" % k
            code, _ = self._rcpt(name)
            if code == 250:
                self.unknown = name
                return
        raise BenchError("no unknown normal address was accepted on a plain session")

    def cpu_seconds(self):
        return sum(proc_cpu(d.proc.pid) for d in self.system.daemons.values())

    def check_alive(self):
        for role, d in self.system.daemons.items():
            if d.proc.poll() is not None:
                raise BenchError("allears-%s exited with status %d during the run (log: %s)" % (
                    role, d.proc.returncode, self.system.path("log", role + ".log")))

    def stop(self):
        status = {}
        if self.system is not None:
            status = self.system.stop()
            self.system = None
        if self.dns is not None:
            self.dns.stop()
            self.dns = None
        return status


# ---- the benchmark ----

def measure(target, case, nproc):
    name, sessions, rcpts = case
    # Warm-up: starts the server's processes, fills caches, and sizes the run.
    warm = max(20, 4 * sessions)
    res = target.run(sessions, warm, rcpts, Meter(target.server_cpu, nproc))
    n = plan(warm / res["seconds"], sessions)
    # The meter covers smtp-source's run only (for Postfix delivered: until
    # the last file), not the counting before and after.
    meter = Meter(target.server_cpu, nproc)
    res = target.run(sessions, n, rcpts, meter)
    cpu = meter.cpu
    target.reset()
    row = {"case": name, "sessions": sessions, "rcpts": rcpts, "target": target.label,
           "messages": n, "warmup_messages": warm, "seconds": round(res["seconds"], 3),
           "msg_per_s": round(n / res["seconds"], 1),
           "server_cpu_us_per_msg": round(1e6 * cpu["server_s"] / n), "cpu": cpu}
    if "accept_seconds" in res:
        row["accept_msg_per_s"] = round(n / res["accept_seconds"], 1)
    return row


def print_row(r):
    extra = ""
    if "accept_msg_per_s" in r:
        extra = "  (250s: %.0f msg/s)" % r["accept_msg_per_s"]
    log("  %-20s %-18s %5d %9.1f %11d %6.0f%%%s" % (
        r["case"], r["target"], r["messages"], r["msg_per_s"], r["server_cpu_us_per_msg"],
        r["cpu"]["other_pct"], extra))


def summarize(rows, rounds):
    """Ratios allears known / Postfix per case and round, and the spread of each
    figure over the rounds."""
    out = []
    log("")
    log("allears / Postfix (msg/s ratio; one value per round):")
    log("  %-20s %-26s %-26s" % ("case", "vs postfix accept", "vs postfix delivered"))
    for name, _, _ in CASES:
        ratios = {}
        for peer in ("postfix accept", "postfix delivered"):
            vals = []
            for rnd in range(rounds):
                a = [r for r in rows if r["round"] == rnd and r["case"] == name and
                     r["target"] == "allears known"]
                p = [r for r in rows if r["round"] == rnd and r["case"] == name and
                     r["target"] == peer]
                if a and p:
                    vals.append(round(a[0]["msg_per_s"] / p[0]["msg_per_s"], 3))
            ratios[peer] = vals
        out.append({"case": name, "vs_accept": ratios["postfix accept"],
                    "vs_delivered": ratios["postfix delivered"]})
        log("  %-20s %-26s %-26s" % (name, " | ".join("%.3f" % v for v in ratios["postfix accept"]),
                                     " | ".join("%.3f" % v for v in ratios["postfix delivered"])))
    return out


def spread(rows, rounds):
    """Per (case, target): the rounds' msg/s and (max - min) / mean."""
    out = []
    seen = []
    for r in rows:
        key = (r["case"], r["target"])
        if key in seen:
            continue
        seen.append(key)
        vals = [x["msg_per_s"] for x in rows if (x["case"], x["target"]) == key]
        mean = sum(vals) / len(vals)
        out.append({"case": key[0], "target": key[1], "msg_per_s": vals,
                    "spread_pct": round(100 * (max(vals) - min(vals)) / mean, 1) if mean else 0})
    return out


def main():
    global TARGET_SECONDS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--target-seconds", type=float, default=TARGET_SECONDS)
    ap.add_argument("--only", choices=["postfix", "allears"])
    ap.add_argument("--json", help="write the results here (default <build>/bench/smtp.json)")
    args = ap.parse_args()
    TARGET_SECONDS = args.target_seconds
    build = os.path.abspath(args.build)
    sys.argv[1:] = [build]  # itest (imported later) reads the build directory there
    out_json = args.json or os.path.join(build, "bench", "smtp.json")
    nproc = len(os.sched_getaffinity(0))
    t0 = time.monotonic()
    # SIGTERM (make interrupted) unwinds like an error: Postfix and the
    # daemons are stopped and their files removed by the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    log("== SMTP: messages accepted and durably stored per second, allears vs Postfix ==")
    log("smtp-source, a new session per message, %d-byte body, %d round(s) of ~%.0f s runs; "
        "load average at start %s" % (BODY_BYTES, args.rounds, TARGET_SECONDS, load))
    if not os.access(SMTP_SOURCE, os.X_OK):
        log("smtp-source is not installed (Debian package postfix)")
        return EXIT_FAILED
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "nproc": nproc,
               "loadavg_at_start": load, "body_bytes": BODY_BYTES, "rounds": args.rounds,
               "target_seconds": TARGET_SECONDS, "rows": []}
    peer = allears = None
    failed = None
    unavailable = None
    targets = []
    try:
        if args.only != "allears":
            peer = PostfixPeer(DOMAIN, recipients(max(c[2] for c in CASES)))
            peer.start()
            results["postfix"] = subprocess.run(["/usr/sbin/postconf", "-d", "-h",
                                                 "mail_version"], capture_output=True,
                                                text=True).stdout.strip()
            targets += [PostfixAccept(peer), PostfixDelivered(peer)]
        if args.only != "postfix":
            allears = Allears(build, nproc)
            try:
                allears.start()
                targets += [AllearsTarget(allears, True), AllearsTarget(allears, False)]
            except NotAvailable as e:
                unavailable = str(e)
                log("allears MTA not available: %s" % unavailable)
                allears.stop()
                allears = None
        if not targets and not unavailable:
            raise BenchError("nothing to measure")
        if targets:
            log("  %-20s %-18s %5s %9s %11s %7s" % ("case", "server", "msgs", "msg/s",
                                                     "cpu us/msg", "other"))
        for rnd in range(args.rounds if targets else 0):
            log("round %s" % "ABCDEFGH"[rnd % 8])
            for case in CASES:
                for t in targets:
                    if isinstance(t, AllearsTarget) and not t.known and case[2] != 1:
                        continue
                    row = measure(t, case, nproc)
                    row["round"] = rnd
                    results["rows"].append(row)
                    print_row(row)
    except (BenchError, PeerError, OSError, subprocess.SubprocessError) as e:
        failed = str(e)
    finally:
        if allears is not None:
            status = allears.stop()
            if not failed and any(s != 0 for s in status.values()):
                failed = "unclean exits of the allears daemons: %s" % status
        if peer is not None:
            problems = peer.stop()
            if problems and not failed:
                failed = "Postfix logged errors: %s" % problems.strip()[:1000]
    rows = results["rows"]
    if rows:
        results["spread"] = spread(rows, args.rounds)
        if args.rounds > 1:
            log("")
            log("Spread over the rounds ((max - min) / mean of msg/s):")
            for s in results["spread"]:
                log("  %-20s %-18s %s  %.0f%%" % (s["case"], s["target"], " | ".join(
                    "%.0f" % v for v in s["msg_per_s"]), s["spread_pct"]))
        if any(r["target"] == "allears known" for r in rows) and peer is not None:
            results["ratios"] = summarize(rows, args.rounds)
    results["allears"] = "not available: " + unavailable if unavailable else (
        "measured" if any(r["target"].startswith("allears") for r in rows) else "not run")
    results["failed"] = failed
    results["seconds"] = round(time.monotonic() - t0, 1)
    os.makedirs(os.path.dirname(out_json), exist_ok=True)
    with open(out_json, "w") as f:
        json.dump(results, f, indent=1)
    log("SMTP results: %s (%.0f s)" % (out_json, results["seconds"]))
    if failed:
        log("SMTP benchmark FAILED: %s" % failed)
        return EXIT_FAILED
    if unavailable:
        log("allears MTA not available: no allears numbers, no ratio%s" % (
            " (Postfix alone above)" if rows else ""))
        return EXIT_NO_ALLEARS
    return 0


if __name__ == "__main__":
    sys.exit(main())
