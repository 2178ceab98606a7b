#!/usr/bin/python3
"""test_users_4096.py: every UserID in use. The bootstrap admin (UserID 0) makes
invitations and 4,095 users register with them (each with its own UAK and
X25519 pair), through the local launcher with Account and Storage. Requests
are sealed by one apitool in batch mode and carried by chantools in batch
mode (invitations on one connection, in the admin's time order; registrations
on several at once, so Storage commits the creates in groups). Then: Account
lists 4,096 users, Storage has storage for each, the file names are the 4,096
secret names, users at both ends work (requests, stores, envelopes that open
with their keys), one more registration is refused with CHST_LIMIT and its
invitation kept (it works once a UserID is free), and after a restart of
Account, and of Storage, all 4,096 are still there.

Usage: /usr/bin/python3 test_users_4096.py <builddir>
Prints one PASS/FAIL line per case; exits non-zero if any case fails."""

import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_storage import *  # noqa: E402,F401,F403
import itest  # noqa: E402

USERS = 4096
INVITES_AT_ONCE = 64  # INVITES_MAX: open invitations
REG_CONNECTIONS = 4


class Pipe:
    """A tool in batch mode: one line in, one line out, in order."""

    def __init__(self, args):
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, lines):
        self.p.stdin.write("".join(line + "\n" for line in lines))
        self.p.stdin.flush()

    def recv(self, n):
        out = []
        for _ in range(n):
            line = self.p.stdout.readline()
            if not line or line.startswith(("error", "fd ")):
                raise RuntimeError("%s: %r" % (self.p.args[0], line))
            out.append(line.strip())
        return out

    def many(self, lines):
        self.send(lines)
        return self.recv(len(lines))

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def main():
    system = System(BUILD, roles=["storage", "account"], quiet=True).start()
    try:
        tests(system)
    finally:
        status = system.stop()
        cleanup()
        case("clean_stop", status.get("account") == 0 and status.get("storage") == 0, str(status))


def api_answer(line):
    rtype, hexp = line.split()
    return Answer(bytes.fromhex(hexp))


def tests(system):
    t_start = time.monotonic()
    clock = Clock()
    keys = ServerKeys(system)
    api = Chan(system, "api", "account")
    admin = register_admin(system, api, clock)
    chan_args = [CHANTOOL, system.channel_socket("account"), system.path("keys", "api.keys"),
                 "api", "account", "-"]
    seal = Pipe([APITOOL, "-"])
    inv_chan = Pipe(chan_args)
    reg_chans = [Pipe(chan_args) for _ in range(REG_CONNECTIONS)]
    users = {}
    bad = []
    pending = [User() for _ in range(USERS - 1)]
    invite_args = (bytes([0, 0, 0, 0]) + struct.pack("<I", 3600)).hex()
    while pending and len(bad) < 10:
        chunk, pending = pending[:INVITES_AT_ONCE], pending[INVITES_AT_ONCE:]
        # invitations, made by the admin in time order on one connection
        ts = [clock.next() for _ in chunk]
        bodies = seal.many(["seal %s %d 0 %d 0 %s" % (admin.uak.hex(), t, INVITE, invite_args)
                            for t in ts])
        answers = [api_answer(line) for line in inv_chan.many(
            ["%d %s" % (ACC_API, (struct.pack("<QHBB", t, 0, 0, 0) + bytes.fromhex(b)).hex())
             for t, b in zip(ts, bodies)])]
        invites = []
        for ans in answers:
            if ans.status != OK:
                bad.append("invite %d" % ans.status)
                continue
            invites.append(base64.urlsafe_b64encode(ans.data[:32]).decode().rstrip("="))
        # registrations, spread over several connections
        ts = [clock.next() for _ in invites]
        bodies = seal.many(["reg-seal %s %d 65535 %s %s" % (inv, t, u.uak.hex(), u.epk.hex())
                            for inv, t, u in zip(invites, ts, chunk)])
        lanes = [[] for _ in reg_chans]
        for n, (t, b, u) in enumerate(zip(ts, bodies, chunk)):
            lanes[n % len(reg_chans)].append(
                ("%d %s" % (ACC_API, (struct.pack("<QHBB", t, 0xFFFF, 1, 0) +
                                      bytes.fromhex(b)).hex()), u))
        for ch, lane in zip(reg_chans, lanes):
            ch.send([line for line, _ in lane])
        for ch, lane in zip(reg_chans, lanes):
            for line, (_, u) in zip(ch.recv(len(lane)), lane):
                ans = api_answer(line)
                if ans.status != OK or len(ans.data) != 3 or ans.data[2] != 0:
                    bad.append("register %d" % ans.status)
                    continue
                u.uid = struct.unpack_from("<H", ans.data)[0]
                users[u.uid] = u
    t_fill = time.monotonic() - t_start
    print("  4,095 registrations took %.1f s" % t_fill)
    case("register_4095_users", not bad and sorted(users) == list(range(1, USERS)),
         "%d registered, %r" % (len(users), bad[:5]))
    users[0] = admin
    for ch in reg_chans + [inv_chan]:
        ch.close()

    def list_users():
        ts = clock.next()
        chan = Pipe(chan_args)
        body = seal.many(["seal %s %d 0 %d 0 -" % (admin.uak.hex(), ts, LIST)])[0]
        ans = api_answer(chan.many(["%d %s" % (ACC_API, (struct.pack("<QHBB", ts, 0, 0, 0) +
                                                          bytes.fromhex(body)).hex())])[0])
        chan.close()
        if ans.status != OK:
            return None
        n = struct.unpack_from("<H", ans.data)[0]
        return [struct.unpack_from("<HBBB", ans.data, 2 + 5 * i) for i in range(n)]
    listed = list_users()
    want = [(0, 3, 0, 0)] + [(u, 0, 0, 0) for u in range(1, USERS)]
    case("admin_lists_4096", listed == want, "%r" % (listed[:3] if listed else listed))

    # ---- Storage has a user's storage for each, under the secret names ----
    acc = Sto(system, keys, "account")
    usage = [acc.usage(u) for u in range(USERS)]
    case("storage_for_every_user", all(x == (OK, 0, 0) for x in usage))
    msg_dir = os.path.join(system.state_dir("storage"), "Msg")
    names = sorted(os.listdir(msg_dir))
    case("msg_files_4096_secret_names", len(names) == USERS and
         names == sorted(keys.sto_name(u) for u in range(USERS)))
    users_dir = os.path.join(system.state_dir("account"), "users")
    case("account_files_4096_secret_names",
         sorted(os.listdir(users_dir)) == sorted(keys.acc_name(u) for u in range(USERS)))

    # ---- one more is refused cleanly, and its invitation kept ----
    extra = User()
    inv = invite(admin.client)
    case("register_4097th_limit", register_user(api, clock, admin.client, extra,
                                                invitation=inv) == LIMIT and extra.uid is None)
    case("still_4096_after_refusal", list_users() == want)
    case("4097th_left_no_storage", acc.usage(4095)[0] == OK and
         len(os.listdir(msg_dir)) == USERS and len(os.listdir(users_dir)) == USERS)
    ans = admin.client.req(DELETE_USER, struct.pack("<H", 2000))
    case("delete_one_user", ans.status == OK and
         wait_for(lambda: acc.usage(2000)[0] == NOT_FOUND))
    case("kept_invitation_registers", register_user(api, clock, admin.client, extra,
                                                    invitation=inv) == OK and extra.uid == 2000)
    users[2000] = extra
    case("invitation_single_use", register_user(api, clock, admin.client, User(),
                                                invitation=inv) == AUTH)

    # ---- users at both ends work ----
    sto = Sto(system, keys, "api")
    sent = {}
    for uid in (0, 1, 2, 2000, 4094, 4095):
        u = users[uid]
        c = client(api, clock, u.uak, uid)
        ans = c.req(INFO)
        ok_info = ans.status == OK and struct.unpack_from("<H", ans.data)[0] == uid
        m = sent[uid] = int_msg("to %d" % uid, "hello user %d" % uid)
        st, i = sto.store(uid, m)
        pg = sto.browse(uid)
        ok_env = st == OK and i == 1 and pg.ids == [1] and env_open(pg.envs[0], u.esk, u.epk) == m
        other = users[4095 - uid if uid != 2000 else 3]
        try:
            wrong = env_open(pg.envs[0], other.esk, other.epk) == m
        except ValueError:
            wrong = False
        case("user_%d_works" % uid, ok_info and ok_env and not wrong)
    case("wrong_user_uak_refused", client(api, clock, users[1].uak, 4095).req(INFO).status == AUTH)

    # ---- restarts keep all 4,096 ----
    t0 = time.monotonic()
    system.restart("account")
    clock.last = max(clock.last, int(time.time() * 1000))
    print("  Account restart with 4,096 users: %.2f s" % (time.monotonic() - t0))
    case("account_restart_keeps_4096", list_users() == want)
    c = client(api, clock, users[4095].uak, 4095)
    case("account_restart_user_4095", c.req(INFO).status == OK)
    acc.reset()
    sto.reset()
    t0 = time.monotonic()
    system.restart("storage")
    print("  Storage restart with 4,096 users: %.2f s" % (time.monotonic() - t0))
    case("storage_restart_keeps_4096", all(acc.usage(u)[0] == OK for u in range(USERS)))
    pg = sto.browse(4095)
    case("storage_restart_envelope_4095", pg.ids == [1] and
         env_open(pg.envs[0], users[4095].esk, users[4095].epk) == sent[4095])
    acc.reset()
    sto.reset()
    seal.close()
    print("  total %.1f s" % (time.monotonic() - t_start))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_users_4096 crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
