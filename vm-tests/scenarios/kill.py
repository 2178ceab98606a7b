"""kill.py: `kill -9` of each role's main process: systemd sees the crash,
restarts the role (Restart=on-failure, NRestarts grows by one), and a message
sent afterwards arrives. Messages acknowledged before the kill are still there.
ROLES limits the roles (the qemu lane kills one)."""

import time

from vmlib import case, note
from roundtrip import send, subjects, wait_working


def kill_role(env, role):
    g = env.guest
    unit = "allears-%s.service" % role
    before_subject = env.canary("prekill-%s" % role)
    rc, err = send(env, before_subject, env.canary("body"))
    case("kill_%s_sent_before" % role, rc == 0, err)
    s = g.show(unit, "MainPID", "NRestarts")
    pid, restarts = s["MainPID"], int(s["NRestarts"])
    t0 = time.monotonic()
    g.ok("kill -9 %s" % pid)

    def restarted():
        n = g.show(unit, "MainPID", "NRestarts", "ActiveState", "SubState")
        return n if (int(n["NRestarts"]) > restarts and n["MainPID"] not in ("0", pid)
                     and n["ActiveState"] == "active" and n["SubState"] == "running") else None
    n = g.wait("%s restarted" % unit, restarted, 60)
    case("kill_%s_systemd_restarts_it" % role, n and int(n["NRestarts"]) == restarts + 1,
         "before pid %s restarts %d, now %s" % (pid, restarts, n or g.show(unit, "MainPID", "NRestarts",
                                                                          "ActiveState", "Result")))
    case("kill_%s_recovers" % role, wait_working(env, 60))
    took = time.monotonic() - t0
    after_subject = env.canary("postkill-%s" % role)
    rc, err = send(env, after_subject, env.canary("body"))
    case("kill_%s_send_after" % role, rc == 0, err)
    listed = subjects(env)
    case("kill_%s_no_loss" % role, all(any(x + '"' in m for m in listed)
                                       for x in (before_subject, after_subject)))
    note("kill -9 %s: answering again %.1f s after the kill" % (role, took))
    rc, out = g.run("journalctl -b -u %s --no-pager -o cat | grep -c 'status=9/KILL'" % unit)
    case("kill_%s_journal_records_signal" % role, rc == 0 and int(out.strip() or 0) >= 1, out)


def run(env, roles=None):
    for role in roles or env.roles:
        kill_role(env, role)
    env.guest.ok("systemctl reset-failed 'allears-*'")
