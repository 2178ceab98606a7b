#!/usr/bin/python3
"""run-bench.py: `make bench` for Storage and Account (docs/BENCHMARKS.md).

Starts allears-storage and allears-account with the local launcher in a
throw-away state directory (under $TMPDIR, normally /tmp), registers the first
admin, then measures with build/bench/loadgen:
  1. STO_STORE as deliver: envelopes stored per second, each durable before its
     answer, for small and medium ExtMsg Messages at 1, 16 and 64 calls in
     flight, with the daemon's own count of syncs per envelope (group commit);
     and the peer on the same disk: build/bench/fsyncbase, a naive store that
     makes every message durable with its own fdatasync (or fsync).
  2. ACC_LOOKUP as mta: never-seen normal addresses (one Argon2id hash each)
     against the theoretical cores / hash time; the same few addresses again
     (cache hits, held back for about one hash time); shield addresses
     (SipHash).
  3. The API over HTTPS: authenticated MSG_BROWSE requests per second with
     build/bench/apibench (the client's HTTPS and sealing code), each on one
     keep-alive TLS connection, against Storage, Account and the API started
     afresh, for users registered with the real client (build/allears) whose
     mailboxes hold a few internal messages.
  4. SMTP end to end: messages per second accepted and durably stored, allears
     (Enquiry, Storage, Account, Deliver, MTA) against a private Postfix
     instance with the same smtp-source load (tests/bench/smtpbench.py, run as
     its own process; its results go under "smtp"). Until the allears MTA runs,
     that section prints Postfix's numbers alone, says "allears MTA not
     available", and the bench exits 3 after every other section has run.
Prints a table and writes <build>/bench/results.json. Prints numbers, checks no
thresholds; exits 1 as soon as an operation fails.

Usage: /usr/bin/python3 tests/bench/run-bench.py <builddir>"""

import json
import os
import platform
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
sys.argv[1:] = [BUILD]  # itest reads the build directory from argv[1]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import LaunchError, System  # noqa: E402
import itest  # noqa: E402

LOADGEN = os.path.join(BUILD, "bench", "loadgen")
FSYNCBASE = os.path.join(BUILD, "bench", "fsyncbase")
APIBENCH = os.path.join(BUILD, "bench", "apibench")
CLIENT = os.path.join(BUILD, "allears")
RESULTS = os.path.join(BUILD, "bench", "results.json")
SMTPBENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtpbench.py")
SMTP_RESULTS = os.path.join(BUILD, "bench", "smtp.json")

# Message sizes: whole ExtMsg bytes, as Deliver would hand them to Storage.
SIZES = [("small", 2048), ("medium", 65536)]
STORE_CONC = [1, 16, 64]
STORE_SECONDS = 3
BASE_SECONDS = 2
SHIELD_ADDRS = 4
# The daemons' defaults, set explicitly so the report names what was measured.
ARGON2_THREADS = 2
SEAL_THREADS = 2
CACHED_ADDRS = 8
# API: users (one per connection: a user's timestamps must increase, 12.5),
# messages in each mailbox, connections per run, seconds per run.
API_USERS = 4
API_MAILBOX = 5
API_CONNS = [1, 4]
API_SECONDS = 5
API_WARM = 20


class BenchError(Exception):
    pass


def log(msg=""):
    print(msg)
    sys.stdout.flush()


def machine(state_dir):
    info = {"nproc": len(os.sched_getaffinity(0)), "kernel": platform.release(),
            "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            info["cpu"] = m.group(1).strip() if m else "?"
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / (1 << 20), 1)
    except OSError:
        pass
    try:
        out = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS", "-T", state_dir],
                             capture_output=True, text=True, check=True).stdout.split()
        info["fs"], info["fs_source"], info["fs_options"] = out[0], out[1], out[2]
    except (OSError, subprocess.CalledProcessError, IndexError):
        info["fs"] = subprocess.run(["stat", "-f", "-c", "%T", state_dir], capture_output=True,
                                    text=True).stdout.strip()
    return info


def make_message(path, target):
    """An ExtMsg of exactly `target` bytes (msgtool ext), with a CET body of text lines."""
    line = "the quick brown fox jumps over the lazy dog 0123456789\n"
    body_len = target
    for _ in range(4):
        body = (line * (body_len // len(line) + 1))[:body_len]
        r = subprocess.run([itest.MSGTOOL, "ext", "bench", body], capture_output=True, check=True)
        if len(r.stdout) == target:
            with open(path, "wb") as f:
                f.write(r.stdout)
            return
        body_len -= len(r.stdout) - target
    raise BenchError("msgtool: cannot make an ExtMsg of %d bytes" % target)


def proc_cpu(pid):
    """CPU seconds (user + system) a process has used so far, all threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """CPU seconds the whole machine has spent not idle."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """Where the CPU went during one measurement: our daemons, the load
    generator, and everything else on the machine (other users' work is what
    makes a shared machine's numbers noisy)."""

    def __init__(self, system, nproc):
        self.system, self.nproc = system, nproc

    def __enter__(self):
        self.pids = {r: d.proc.pid for r, d in self.system.daemons.items()}
        self.d0 = {r: proc_cpu(p) for r, p in self.pids.items()}
        self.c0, self.m0, self.w0 = children_cpu(), machine_busy(), time.monotonic()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.w0
        daemons = {r: proc_cpu(p) - self.d0[r] for r, p in self.pids.items()}
        gen = children_cpu() - self.c0
        other = max(0.0, machine_busy() - self.m0 - gen - sum(daemons.values()))
        self.cpu = {"wall_s": round(wall, 2), "loadgen_s": round(gen, 2),
                    "other_s": round(other, 2),
                    "other_pct": round(100 * other / (wall * self.nproc), 1)}
        for r, v in daemons.items():
            self.cpu[r + "_s"] = round(v, 2)


def loadgen(*args):
    """Runs loadgen; returns its JSON result, or raises on any failed call."""
    r = subprocess.run([LOADGEN] + [str(a) for a in args], capture_output=True, text=True)
    lines = [x for x in r.stdout.split("\n") if x.startswith("{")]
    res = json.loads(lines[-1]) if lines else None
    if r.returncode != 0 or res is None or res.get("errors"):
        raise BenchError("loadgen %s failed (exit %d): %s %s" % (
            " ".join(str(a) for a in args), r.returncode, r.stdout.strip(), r.stderr.strip()))
    return res


def fsyncbase(*args):
    r = subprocess.run([FSYNCBASE] + [str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError("fsyncbase failed: %s" % r.stderr.strip())
    return json.loads(r.stdout.strip().split("\n")[-1])


def storage_counters(system):
    """Restarts Storage and returns (operations, commits, syncs) that the
    stopped process logged for its life."""
    logf = system.path("log", "storage.log")
    proc = system.daemons["storage"].proc
    proc.terminate()
    if proc.wait(timeout=60) != 0:
        raise BenchError("allears-storage exited with status %d (see %s)" % (proc.returncode,
                                                                            logf))
    system.restart("storage")
    with open(logf, errors="replace") as f:
        found = re.findall(r"storage: (\d+) operations in (\d+) commits, (\d+) syncs", f.read())
    if not found:
        raise BenchError("Storage logged no commit counters (see %s)" % logf)
    return tuple(int(x) for x in found[-1])


def setup_users(system):
    """Registers the first admin (UserID 0) and gives it shield addresses."""
    clock = itest.Clock()
    api = itest.Chan(system, "api", "account")
    with open(os.path.join(system.state_dir("account"), "bootstrap-invite")) as f:
        invite = f.read().strip()
    uak, epk = itest.new_user_keys()
    _, ans = itest.register(api, clock, invite, uak, epk)
    if ans.status != itest.OK:
        raise BenchError("registration failed: status %d" % ans.status)
    admin = itest.Client(api, clock, uak, 0)
    shields = []
    for _ in range(SHIELD_ADDRS):
        ans = admin.req(itest.ADD_SHIELD)
        if ans.status != itest.OK:
            raise BenchError("ADDRESS_ADD_SHIELD failed: status %d" % ans.status)
        shields.append(ans.data[8:18])
    # Storage must have the user before anything is stored for it.
    sto = itest.Chan(system, "account", "storage")
    for _ in range(100):
        _, raw = sto.call(itest.STO_USAGE, struct.pack("<H", 0))
        if raw[:1] == bytes([itest.OK]):
            break
        time.sleep(0.05)
    else:
        raise BenchError("Storage never created UserID 0")
    return shields


def usage_count(system):
    sto = itest.Chan(system, "account", "storage")
    _, raw = sto.call(itest.STO_USAGE, struct.pack("<H", 0))
    if raw[:1] != bytes([itest.OK]) or len(raw) != 13:
        raise BenchError("STO_USAGE failed: %s" % raw.hex())
    return struct.unpack_from("<QI", raw, 1)


def bench_store(system, tmp, results):
    log("== Storage: STO_STORE as deliver, every envelope durable before its answer ==")
    sock = system.channel_socket("storage")
    keys = system.path("keys", "deliver.keys")
    storage_counters(system)  # a fresh process: its counters cover one run only
    expected = 0
    runs = [(name, size, conc, 1) for name, size in SIZES for conc in STORE_CONC]
    runs.append(("small", 2048, 64, 4))
    log("%-7s %6s %4s %5s %8s %8s %8s %10s %9s %10s %6s" % (
        "message", "bytes", "conc", "conns", "env/s", "p50 ms", "p99 ms", "env/commit",
        "syncs/env", "cpu us/env", "other"))
    for name, size, conc, conns in runs:
        msg = os.path.join(tmp, "%s.msg" % name)
        if not os.path.exists(msg):
            make_message(msg, size)
        warm = conc
        meter = CpuMeter(system, results["machine"]["nproc"])
        with meter:
            res = loadgen("--op", "store", "--socket", sock, "--keys", keys, "--role", "deliver",
                          "--server", "storage", "--msg", msg, "--uid", 0, "--conc", conc,
                          "--conns", conns, "--seconds", STORE_SECONDS, "--warm", warm,
                          "--label", "store-%s-c%d-n%d" % (name, conc, conns))
        ops, commits, syncs = storage_counters(system)
        stored = res["ok"] + warm
        expected += stored
        if ops < stored:
            raise BenchError("Storage counted %d operations for %d stores" % (ops, stored))
        res.update({"message": name, "daemon_ops": ops, "daemon_commits": commits,
                    "daemon_syncs": syncs, "env_per_commit": round(ops / max(commits, 1), 2),
                    "syncs_per_env": round(syncs / max(ops, 1), 4), "cpu": meter.cpu,
                    "storage_cpu_us_per_env": round(1e6 * meter.cpu["storage_s"] / stored, 1),
                    "stored_before": expected - stored})
        results["store"].append(res)
        log("%-7s %6d %4d %5d %8.0f %8.2f %8.2f %10.1f %9.3f %10.0f %5.0f%%" % (
            name, size, conc, conns, res["per_sec"], res["lat_ms"]["p50"], res["lat_ms"]["p99"],
            res["env_per_commit"], res["syncs_per_env"], res["storage_cpu_us_per_env"],
            meter.cpu["other_pct"]))
    _, count = usage_count(system)
    if count != expected:
        raise BenchError("Storage holds %d envelopes, %d were acknowledged" % (count, expected))
    log("(all %d acknowledged envelopes are in Storage's index)" % expected)

    log("")
    log("== Peer on the same disk: a naive store, one sync per message, no group commit ==")
    log("%-7s %6s %-7s %8s %8s %8s %9s" % ("message", "bytes", "mode", "msgs/s", "p50 ms",
                                          "p99 ms", "syncs/msg"))
    peer_dir = system.path("lib", "peer")
    os.makedirs(peer_dir, exist_ok=True)
    for name, size in SIZES:
        for mode in ("append", "file"):
            res = fsyncbase("--dir", peer_dir, "--size", size, "--seconds", BASE_SECONDS,
                            "--mode", mode, "--label", "peer-%s-%s" % (name, mode))
            res["message"] = name
            res["syncs_per_msg"] = 1 if mode == "append" else 2
            results["peer"].append(res)
            log("%-7s %6d %-7s %8.0f %8.2f %8.2f %9d" % (name, size, mode, res["per_sec"],
                                                       res["lat_ms"]["p50"],
                                                       res["lat_ms"]["p99"],
                                                       res["syncs_per_msg"]))
    log("")
    log("Group-commit gain (Storage env/s at 64 in flight / naive append+fdatasync msgs/s):")
    for name, _ in SIZES:
        best = [r for r in results["store"] if r["message"] == name and r["conc"] == 64 and
                r["conns"] == 1][0]
        one = [r for r in results["store"] if r["message"] == name and r["conc"] == 1][0]
        peer = [r for r in results["peer"] if r["message"] == name and r["mode"] == "append"][0]
        gain = best["per_sec"] / peer["per_sec"]
        results["derived"]["group_commit_gain_" + name] = round(gain, 2)
        results["derived"]["concurrency_gain_" + name] = round(best["per_sec"] / one["per_sec"],
                                                               2)
        log("  %-7s %.0f / %.0f = %.2fx   (64 vs 1 in flight: %.2fx)" % (
            name, best["per_sec"], peer["per_sec"], gain, best["per_sec"] / one["per_sec"]))


def bench_lookup(system, shields, results):
    log("")
    log("== Account: ACC_LOOKUP as mta ==")
    sock = system.channel_socket("account")
    keys = system.path("keys", "mta.keys")
    common = ["--op", "lookup", "--socket", sock, "--keys", keys, "--role", "mta", "--server",
              "account"]
    ht = loadgen("--op", "hashtime", "--count", 10, "--label", "argon2id-1-thread")
    threads = results["config"]["argon2_threads"]
    # The same number of hashes at once as Account's pool runs: they share the
    # memory bandwidth and caches (32 MiB each), so each takes longer.
    par = loadgen("--op", "hashtime", "--count", 10 * threads, "--threads", threads,
                  "--label", "argon2id-%d-threads" % threads)
    results["hashtime"] = [ht, par]
    nproc = results["machine"]["nproc"]
    ideal = min(nproc, threads) * 1000.0 / ht["lat_ms"]["p50"]
    d = results["derived"]
    d["argon2_hash_ms"] = ht["lat_ms"]["p50"]
    d["fresh_lookups_theoretical_per_sec"] = round(ideal, 1)
    d["argon2_parallel_per_sec"] = par["per_sec"]
    log("Argon2id (t=%d, m=%d MiB): %.1f ms per hash on one thread, so theoretically "
        "min(nproc %d, argon2_threads %d) / hash time = %.1f lookups/s; %d threads of one "
        "process at once (no daemon): %.1f hashes/s, %.1f ms each" % (
            ht["opslimit"], ht["memlimit_kib"] // 1024, ht["lat_ms"]["p50"], nproc, threads,
            ideal, threads, par["per_sec"], par["lat_ms"]["p50"]))
    runs = [
        ("fresh normal (Argon2id)", 1, 3, ["--fresh"]),
        ("fresh normal (Argon2id)", 16, 4, ["--fresh"]),
        ("cached normal (held back)", 1, 2, ["--addrs", None]),
        ("cached normal (held back)", 64, 3, ["--addrs", None]),
        ("shield (SipHash)", 1, 2, ["--addrs", ",".join(s.hex() for s in shields)]),
        ("shield (SipHash)", 64, 2, ["--addrs", ",".join(s.hex() for s in shields)]),
    ]
    cached = ",".join(itest.addr32("benchcached%d" % i).hex() for i in range(CACHED_ADDRS))
    # Put them in the cache first (one hash each), outside any measurement.
    loadgen(*common, "--addrs", cached, "--count", CACHED_ADDRS, "--conc", CACHED_ADDRS)
    log("%-26s %4s %10s %8s %8s %12s %6s" % ("addresses", "conc", "lookups/s", "p50 ms",
                                               "p99 ms", "cpu us/call", "other"))
    for kind, conc, secs, extra in runs:
        extra = [cached if x is None else x for x in extra]
        meter = CpuMeter(system, results["machine"]["nproc"])
        with meter:
            res = loadgen(*common, "--conc", conc, "--seconds", secs, *extra,
                          "--label", "lookup-%s-c%d" % (kind.split()[0], conc))
        res["kind"] = kind
        res["cpu"] = meter.cpu
        res["account_cpu_us_per_call"] = round(1e6 * meter.cpu["account_s"] /
                                               max(res["calls"], 1), 1)
        results["lookup"].append(res)
        log("%-26s %4d %10.1f %8.2f %8.2f %12.0f %5.0f%%" % (
            kind, conc, res["per_sec"], res["lat_ms"]["p50"], res["lat_ms"]["p99"],
            res["account_cpu_us_per_call"], meter.cpu["other_pct"]))
    best = max((r for r in results["lookup"] if r["kind"].startswith("fresh")),
               key=lambda r: r["per_sec"])
    d["fresh_lookups_vs_theoretical"] = round(best["per_sec"] / ideal, 3)
    d["fresh_lookups_vs_parallel_hashes"] = round(best["per_sec"] / par["per_sec"], 3)
    d["account_cpu_ms_per_fresh_lookup"] = round(best["account_cpu_us_per_call"] / 1000, 1)
    log("Fresh lookups: %.0f%% of the theoretical rate, %.0f%% of the parallel hash rate; "
        "Account's CPU per lookup %.1f ms (a hash alone: %.1f ms, two at once: %.1f ms)." % (
            100 * best["per_sec"] / ideal, 100 * best["per_sec"] / par["per_sec"],
            best["account_cpu_us_per_call"] / 1000, ht["lat_ms"]["p50"], par["lat_ms"]["p50"]))


class ClientHome:
    """One ALLEARS_HOME of the real client, pointed at the launcher's API."""

    def __init__(self, system, root, name):
        self.home = os.path.join(root, name)
        os.mkdir(self.home, 0o700)
        with open(os.path.join(self.home, "config"), "w") as f:
            f.write("server = localhost\nport = %d\nca = %s\n" % (system.port("api"),
                                                                    system.tls_ca))

    def run(self, *args, stdin=None):
        env = dict(os.environ, ALLEARS_HOME=self.home)
        r = subprocess.run([CLIENT, "--json"] + list(args), input=stdin, capture_output=True,
                           env=env, timeout=120)
        if r.returncode != 0:
            raise BenchError("allears %s failed (exit %d): %s" % (
                " ".join(args), r.returncode, r.stderr.decode(errors="replace").strip()))
        out = r.stdout.decode(errors="replace").strip()
        return json.loads(out) if out.startswith("{") else {}


def apibench(*args):
    r = subprocess.run([APIBENCH] + [str(a) for a in args], capture_output=True, text=True)
    lines = [x for x in r.stdout.split("\n") if x.startswith("{")]
    res = json.loads(lines[-1]) if lines else None
    if r.returncode != 0 or res is None or res.get("errors"):
        raise BenchError("apibench %s failed (exit %d): %s %s" % (
            " ".join(str(a) for a in args), r.returncode, r.stdout.strip(), r.stderr.strip()))
    return res


def bench_api(tmp, results):
    log("")
    log("== API: MSG_BROWSE over HTTPS (keep-alive), %d messages in the mailbox ==" %
        API_MAILBOX)
    system = System(BUILD, roles=["storage", "account", "api"], quiet=True,
                    config_extra={"account": {"argon2_threads": ARGON2_THREADS},
                                  "storage": {"seal_threads": SEAL_THREADS}})
    root = os.path.join(tmp, "homes")
    os.mkdir(root, 0o700)
    status = {}
    try:
        system.start()
        admin = ClientHome(system, root, "admin")
        with open(os.path.join(system.state_dir("account"), "bootstrap-invite")) as f:
            bootstrap = f.read().strip()
        admin.run("init")
        admin.run("register", bootstrap)
        admin.run("address", "add", "benchadmin")
        users = []
        for i in range(API_USERS):
            inv = admin.run("admin", "invite", "--level", "1")["invitation"]
            u = ClientHome(system, root, "user%d" % i)
            u.run("init")
            u.run("register", inv)
            name = "benchuser" + "abcdefgh"[i]
            u.run("address", "add", name)
            for k in range(API_MAILBOX):
                admin.run("send", "benchadmin", name, "bench message %d" % k, "-",
                          stdin=("Hello %s, this is message %d.\n" % (name, k)).encode())
            users.append(u)
        log("%-6s %5s %10s %8s %8s %8s %6s" % ("conns", "users", "requests/s", "p50 ms",
                                             "p99 ms", "cpu us/req", "other"))
        for conns in API_CONNS:
            homes = []
            for u in users[:conns]:
                homes += ["--home", u.home]
            meter = CpuMeter(system, results["machine"]["nproc"])
            with meter:
                res = apibench(*homes, "--seconds", API_SECONDS, "--warm", API_WARM,
                               "--expect-count", API_MAILBOX, "--label", "browse-n%d" % conns)
            res["mailbox"] = API_MAILBOX
            res["cpu"] = meter.cpu
            daemons = sum(meter.cpu[r + "_s"] for r in ("storage", "account", "api"))
            res["daemons_cpu_us_per_req"] = round(1e6 * daemons / max(res["ok"], 1), 1)
            res["api_cpu_us_per_req"] = round(1e6 * meter.cpu["api_s"] / max(res["ok"], 1), 1)
            results["api"].append(res)
            log("%-6d %5d %10.0f %8.2f %8.2f %8.0f %5.0f%%" % (
                conns, conns, res["per_sec"], res["lat_ms"]["p50"], res["lat_ms"]["p99"],
                res["daemons_cpu_us_per_req"], meter.cpu["other_pct"]))
        # The client still works after the bench (apibench recorded its timestamps).
        users[0].run("whoami")
    finally:
        status = system.stop()
    if any(s != 0 for s in status.values()):
        raise BenchError("unclean exits (API phase): %s" % status)
    log("(cpu us/req: Storage + Account + API CPU per request; apibench's own is not counted)")


def main():
    for b in (LOADGEN, FSYNCBASE, APIBENCH, CLIENT, itest.MSGTOOL, itest.CHANTOOL, itest.APITOOL):
        if not os.access(b, os.X_OK):
            raise BenchError("%s is not built (run make bench)" % b)
    t0 = time.monotonic()
    system = System(BUILD, roles=["storage", "account"], quiet=True,
                    config_extra={"account": {"argon2_threads": ARGON2_THREADS},
                                  "storage": {"seal_threads": SEAL_THREADS}})
    tmp = tempfile.mkdtemp(prefix="allears-bench-")
    status = {}
    try:
        results = {"machine": machine(system.state),
                   "config": {"argon2_threads": ARGON2_THREADS,
                              "storage_seal_threads": SEAL_THREADS,
                              "store_seconds": STORE_SECONDS, "peer_seconds": BASE_SECONDS,
                              "api_seconds": API_SECONDS, "api_mailbox": API_MAILBOX},
                   "store": [], "peer": [], "lookup": [], "api": [], "derived": {},
                   "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        m = results["machine"]
        log("allears bench: %d CPUs (%s), kernel %s, state on %s (%s)" % (
            m["nproc"], m.get("cpu", "?"), m["kernel"], m.get("fs", "?"), system.state))
        with open("/proc/loadavg") as f:
            m["loadavg_at_start"] = f.read().split()[0]
        log("Load average at start %s. This machine may be shared: numbers are noisy; the "
            "\"other\" column is the CPU share others used meanwhile." % m["loadavg_at_start"])
        log("")
        system.start()
        shields = setup_users(system)
        bench_store(system, tmp, results)
        bench_lookup(system, shields, results)
    except BaseException:
        system.stop()  # stops whatever was started and removes the state directory
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    status = system.stop()
    try:
        if any(s != 0 for s in status.values()):
            raise BenchError("unclean exits: %s" % status)
        # A system of its own (Storage, Account and the API): the first admin
        # registers with the real client, which needs the bootstrap invitation.
        bench_api(tmp, results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    smtp_status = bench_smtp(results)
    results["seconds"] = round(time.monotonic() - t0, 1)
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(results, f, indent=1)
    log("Results: %s (%.0f s)" % (RESULTS, results["seconds"]))
    if smtp_status != 0:
        print("make bench: the SMTP section did not complete (%s)" % (
            "allears MTA not available" if smtp_status == 3 else "failed, see above"),
            file=sys.stderr)
        sys.exit(smtp_status)


def bench_smtp(results):
    """Section 4, in its own process (it runs a Postfix instance and a second
    allears system); returns its exit status: 0, 1 (failed) or 3 (the allears
    MTA is not available: Postfix's numbers only)."""
    log("")
    if os.path.exists(SMTP_RESULTS):
        os.unlink(SMTP_RESULTS)
    r = subprocess.run([sys.executable, SMTPBENCH, BUILD, "--json", SMTP_RESULTS])
    try:
        with open(SMTP_RESULTS) as f:
            results["smtp"] = json.load(f)
    except (OSError, ValueError):
        results["smtp"] = {"failed": "smtpbench.py exited %d without results" % r.returncode}
    return r.returncode


if __name__ == "__main__":
    try:
        main()
    except (BenchError, LaunchError, subprocess.CalledProcessError, RuntimeError,
            OSError) as e:
        print("make bench: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
