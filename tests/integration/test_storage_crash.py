#!/usr/bin/python3
"""test_storage_crash.py: kill -9 of allears-storage during a burst of stores
(and deletes), at several different moments, through the local launcher.

Each round starts four chantool processes in batch mode (two as the API, two
as Deliver, one connection each, one call per line), which store Messages for
four users and delete some earlier envelopes, and reads every answer as it
comes. After a chosen number of acknowledgements (or a chosen time), Storage
is killed with SIGKILL and restarted by the launcher (which waits for
READY=1). Then every user's envelopes are browsed and opened with the user's
ESK:
  - every acknowledged store is present and opens to the exact Message sent;
  - every acknowledged delete is gone;
  - every listed envelope opens to a Message that was sent (an unacknowledged
    store may be fully present, never half), each at most once;
  - the user files of users without deletes are exactly as long as their
    envelopes (no bytes of an unfinished write survive);
  - everything present after one round stays present in the next;
  - new envelopes get ids above every id a user has seen.

Usage: /usr/bin/python3 test_storage_crash.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import os
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_storage import *  # noqa: E402,F401,F403
import itest  # noqa: E402

# (kind, value): kill after that many acknowledged operations, or that many
# seconds after the burst starts.
MOMENTS = [("acks", 1), ("acks", 23), ("acks", 120), ("acks", 333), ("time", 0.002),
           ("time", 0.04), ("acks", 61)]
LINES_PER_WORKER = 140


def main():
    system = System(BUILD, roles=["storage", "account"], quiet=True).start()
    try:
        tests(system)
    finally:
        status = system.stop()
        cleanup()
        case("clean_stop", status.get("account") == 0 and status.get("storage") == 0, str(status))


class Worker:
    """One chantool in batch mode: lines in, one answer line per call out. Its
    first call (a STO_USAGE, which only Account may make: answered DENIED)
    shows that its connection is up; the burst is written only then, so that
    no chantool still waits for a handshake when Storage dies (the listening
    socket outlives the daemon, and a HELLO in its backlog would wait there)."""

    def __init__(self, system, role, ops, counter):
        self.ops = ops  # [(line, op)]; op = ("store", uid, msg) | ("delete", uid, id)
        self.answers = []
        self.counter = counter
        self.connected = threading.Event()
        self.go = threading.Event()
        self.proc = subprocess.Popen(
            [CHANTOOL, system.channel_socket("storage"), system.path("keys", role + ".keys"),
             role, "storage", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        self.reader = threading.Thread(target=self.read)
        self.writer = threading.Thread(target=self.write)
        self.reader.start()
        self.writer.start()

    def write(self):
        try:
            self.proc.stdin.write(b"%d 0000\n" % STO_USAGE)
            self.proc.stdin.flush()
            self.go.wait()
            for line, _ in self.ops:
                self.proc.stdin.write(line.encode())
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def read(self):
        first = True
        for line in self.proc.stdout:  # chantool flushes each answer
            w = line.split()
            if len(w) != 2:
                continue
            if first:
                first = False
                self.connected.set()
                continue
            self.answers.append(bytes.fromhex(w[1].decode()))
            if self.answers[-1][:1] == bytes([OK]):
                self.counter.inc()
        self.connected.set()

    def finish(self):
        """False if the chantool had to be killed (it should end by itself)."""
        self.go.set()
        try:
            self.proc.wait(30)
            clean = True
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            clean = False
        self.reader.join()
        self.writer.join()
        return clean


class Counter:
    def __init__(self, target):
        self.n, self.target = 0, target
        self.lock = threading.Lock()
        self.reached = threading.Event()

    def inc(self):
        with self.lock:
            self.n += 1
            if self.target is not None and self.n >= self.target:
                self.reached.set()


def tests(system):
    rng = random.Random(int.from_bytes(os.urandom(8), "little"))
    clock = Clock()
    keys = ServerKeys(system)
    api = Chan(system, "api", "account")
    admin = register_admin(system, api, clock)
    users = [admin]
    for _ in range(3):
        u = User()
        if register_user(api, clock, admin.client, u) != OK:
            raise RuntimeError("registration failed")
        users.append(u)
    by_uid = {u.uid: u for u in users}
    msg_dir = os.path.join(system.state_dir("storage"), "Msg")
    tmp = tempfile.mkdtemp(prefix="sto-crash-")
    TMP_DIRS.append(tmp)
    expected = {u.uid: {} for u in users}  # what must be there: uid -> {id: Message}
    seen_max = {u.uid: 0 for u in users}
    nfile = [0]

    def msgfile(m):
        nfile[0] += 1
        path = os.path.join(tmp, "m%d" % nfile[0])
        with open(path, "wb") as f:
            f.write(m)
        return path

    def store_line(uid, m):
        return ("%d %s %s\n" % (STO_STORE, struct.pack("<HBB", uid, 0, 0).hex(), msgfile(m)),
                ("store", uid, m))

    def data(r):
        n = rng.choice([0, 50, 300, 1000, 4000, 20000]) if r % 12 else rng.randint(200000, 1500000)
        return os.urandom(n)

    for rnd, (kind, value) in enumerate(MOMENTS):
        # ---- the burst ----
        # unique IntMsgs and ExtMsgs from msgtool, UplMsgs made here
        ints = [int_msg("round %d int %d" % (rnd, i), "body %d %s" % (i, os.urandom(8).hex()))
                for i in range(8)]
        exts = [ext_msg("round %d ext %d" % (rnd, i), "text %s" % os.urandom(12).hex(),
                        "Sender %d <s%d@example.net>" % (i, i)) for i in range(8)]
        plan = {"api": [], "api2": [], "deliver": [], "deliver2": []}
        deletable = sorted(expected[3])
        rng.shuffle(deletable)
        for i in range(LINES_PER_WORKER):
            uid = 1 + i % 2
            m = ints[i % 8] if i < 8 else upl_msg(0, "r%du%d" % (rnd, i), data(i))
            plan["api"].append(store_line(uid, m))
            if i % 3 == 2 and deletable:
                did = deletable.pop()
                plan["api2"].append(("%d %s\n" % (STO_DELETE, struct.pack("<HI", 3, did).hex()),
                                     ("delete", 3, did)))
            else:
                plan["api2"].append(store_line(3, upl_msg(0, "r%dd%d" % (rnd, i), data(i + 5))))
            m = exts[i % 8] if i < 8 else upl_msg(1, "r%da%d.pdf" % (rnd, i), data(i + 7))
            plan["deliver"].append(store_line(2 - i % 2, m))
            m = exts[(i + 4) % 8] if i < 8 else upl_msg(2, "r%ds%d.eml" % (rnd, i), data(i + 3))
            plan["deliver2"].append(store_line(0, m))
        counter = Counter(value if kind == "acks" else None)
        workers = [Worker(system, role.rstrip("2"), ops, counter) for role, ops in plan.items()]
        for w in workers:
            w.connected.wait(30)
        t0 = time.monotonic()
        for w in workers:
            w.go.set()
        if kind == "acks":
            counter.reached.wait(60)
        else:
            time.sleep(value)  # the moment of the kill itself, not a wait for readiness
        system.kill("storage")  # SIGKILL, and waits for it
        killed_at = time.monotonic() - t0
        ended = all([w.finish() for w in workers])
        case("round%d_clients_saw_the_crash" % rnd, ended)
        acked = sum(1 for w in workers for a in w.answers if a[:1] == bytes([OK]))
        unsent = sum(len(w.ops) - len(w.answers) for w in workers)
        print("  round %d: killed after %.3f s, %d acknowledged, %d without an answer" %
              (rnd, killed_at, acked, unsent))
        case("round%d_killed_mid_burst" % rnd, unsent > 0 and
             (kind != "acks" or acked >= value), "%d acked, %d unanswered" % (acked, unsent))

        # what the answers promise
        answered_bad = []
        promised = {uid: {} for uid in expected}
        deleted = {uid: set() for uid in expected}
        maybe = {uid: [] for uid in expected}  # unanswered stores: may be present, whole
        maybe_deleted = {uid: set() for uid in expected}
        for w in workers:
            for n, (line, op) in enumerate(w.ops):
                ans = w.answers[n] if n < len(w.answers) else None
                if op[0] == "store":
                    if ans is None:
                        maybe[op[1]].append(op[2])
                    elif ans[:1] == bytes([OK]) and len(ans) == 5:
                        promised[op[1]][struct.unpack_from("<I", ans, 1)[0]] = op[2]
                    else:
                        answered_bad.append(ans.hex())
                else:
                    if ans is None:
                        maybe_deleted[op[1]].add(op[2])
                    elif ans == bytes([OK]):
                        deleted[op[1]].add(op[2])
                    else:
                        answered_bad.append(ans.hex())
        case("round%d_answers_ok" % rnd, not answered_bad, repr(answered_bad[:5]))
        ids_fresh = all(i > seen_max[uid] for uid in promised for i in promised[uid])
        case("round%d_acked_ids_are_new" % rnd, ids_fresh)

        # ---- restart and check ----
        system.restart("storage")
        sto = Sto(system, keys, "api")
        ok_present, ok_opens, ok_whole, ok_deleted, ok_kept, ok_size = True, True, True, True, \
            True, True
        detail = []
        whole = 0
        for uid in sorted(expected):
            u = by_uid[uid]
            listed = browse_all(sto, uid)
            ids = [i for i, _ in listed]
            if len(set(ids)) != len(ids) or ids != sorted(ids):
                ok_whole = False
                detail.append("uid %d: ids not unique and ascending" % uid)
            got = {}
            for i, env in listed:
                try:
                    got[i] = env_open(env, u.esk, u.epk)
                except ValueError:
                    ok_opens = False
                    detail.append("uid %d id %d does not open" % (uid, i))
            for i, m in promised[uid].items():
                if got.get(i) != m:
                    ok_present = False
                    detail.append("uid %d: acknowledged id %d %s" % (
                        uid, i, "missing" if i not in got else "differs"))
            for i in deleted[uid]:
                if i in got:
                    ok_deleted = False
                    detail.append("uid %d: deleted id %d is back" % (uid, i))
            for i, m in expected[uid].items():
                if i in deleted[uid] or (i in maybe_deleted[uid] and i not in got):
                    continue
                if got.get(i) != m:
                    ok_kept = False
                    detail.append("uid %d: id %d of an earlier round lost" % (uid, i))
            pool = list(maybe[uid])
            for i, m in got.items():
                if i in promised[uid] or i in expected[uid]:
                    continue
                if m in pool:
                    pool.remove(m)  # an unanswered store that became durable: whole
                else:
                    ok_whole = False
                    detail.append("uid %d: id %d holds no Message that was sent" % (uid, i))
            whole += len(maybe[uid]) - len(pool)
            if uid != 3:  # append-only users: the file ends where the last envelope does
                size = os.path.getsize(os.path.join(msg_dir, keys.sto_name(uid)))
                total = sum(len(e) for _, e in listed)
                if size != total:
                    ok_size = False
                    detail.append("uid %d: file %d bytes, envelopes %d" % (uid, size, total))
            st, nbytes, count = Sto(system, keys, "account").usage(uid)
            if (st, nbytes, count) != (OK, sum(len(e) for _, e in listed), len(listed)):
                ok_size = False
                detail.append("uid %d: usage %r" % (uid, (st, nbytes, count)))
            expected[uid] = got
            seen_max[uid] = max([seen_max[uid]] + ids + list(promised[uid]))
        print("  round %d: %d unanswered stores turned out durable (whole)" % (rnd, whole))
        case("round%d_acknowledged_stores_present" % rnd, ok_present, "; ".join(detail[:5]))
        case("round%d_every_envelope_opens" % rnd, ok_opens, "; ".join(detail[:5]))
        case("round%d_nothing_half_present" % rnd, ok_whole, "; ".join(detail[:5]))
        case("round%d_acknowledged_deletes_gone" % rnd, ok_deleted, "; ".join(detail[:5]))
        case("round%d_earlier_rounds_kept" % rnd, ok_kept, "; ".join(detail[:5]))
        case("round%d_files_and_usage_exact" % rnd, ok_size, "; ".join(detail[:5]))
        sto.reset()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))

    # ---- after the last crash: new ids go on above everything seen ----
    sto = Sto(system, keys, "api")
    ok = True
    for uid in sorted(expected):
        st, i = sto.store(uid, int_msg("after", "the crashes"))
        ok = ok and st == OK and i > seen_max[uid]
    case("new_ids_above_all_seen", ok)
    case("storage_state_files", sorted(os.listdir(msg_dir)) ==
         sorted(keys.sto_name(uid) for uid in expected))
    sto.reset()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_storage_crash crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
