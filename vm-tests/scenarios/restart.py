"""restart.py: `systemctl restart` of each role while messages are being sent:
every message the server acknowledged is in the mailbox afterwards (a send
that failed during the restart was never acknowledged and may be missing), the
role has a new main process, and the system answers again."""

import threading

from vmlib import case, note
from roundtrip import send, subjects, wait_working


class Sender(threading.Thread):
    """Sends messages one after another until stopped; records which the
    server acknowledged."""

    def __init__(self, env, tag):
        super().__init__(daemon=True)
        self.env, self.tag = env, tag
        self.acked, self.failed = [], 0
        self.stop = threading.Event()
        self.some_sent = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            subject = "%s-%d" % (self.tag, n)
            rc, _ = send(self.env, subject, self.env.canary("body"))
            if rc == 0:
                self.acked.append(subject)
                self.some_sent.set()
            else:
                self.failed += 1


def restart_role(env, role):
    g = env.guest
    unit = "allears-%s.service" % role
    before = g.show(unit, "MainPID")["MainPID"]
    tag = env.canary("restart-%s" % role)
    sender = Sender(env, tag)
    sender.start()
    sender.some_sent.wait(60)
    rc, out = g.run("systemctl restart %s" % unit, timeout=120)
    case("restart_%s_returns" % role, rc == 0, out)
    after = g.wait_active(unit, 60)
    case("restart_%s_new_main_pid" % role, after and after["MainPID"] not in ("0", before),
         "%s -> %s" % (before, after))
    # Let the sender get through after the restart too, then stop it.
    done = len(sender.acked)
    g.wait("a send acknowledged after the restart", lambda: len(sender.acked) > done, 60)
    sender.stop.set()
    sender.join(120)
    case("restart_%s_sends_after_restart" % role, len(sender.acked) > done,
         "acked %d, failed %d" % (len(sender.acked), sender.failed))
    wait_working(env)
    listed = subjects(env)
    lost = [s for s in sender.acked if not any(s + '"' in m for m in listed)]
    case("restart_%s_nothing_acknowledged_lost" % role, not lost and sender.acked,
         "%d acknowledged, lost %s" % (len(sender.acked), lost))
    note("restart %s: %d sends acknowledged, %d refused during the restart"
         % (role, len(sender.acked), sender.failed))


def run(env):
    for role in env.roles:
        restart_role(env, role)
    env.guest.ok("systemctl reset-failed 'allears-*'")
