"""storage_down.py: Storage stopped (its service and its socket, so nothing
re-activates it): the API still answers, with a temporary error (the client's
exit status 3, "server down, busy or failing"), and the other roles keep
running; Storage started again: the same requests work, and the mailbox is as
it was."""

from vmlib import case
from roundtrip import send, subjects

CLIENT_EXIT_NET = 3


def run(env):
    g = env.guest
    before = len(subjects(env))
    rc, out = g.run("systemctl stop allears-storage.socket allears-storage.service", timeout=60)
    case("storage_stop", rc == 0, out)
    p = env.user.run("mail", "list")
    err = p.stderr.decode(errors="replace")
    case("storage_down_mail_list_temporary_error", p.returncode == CLIENT_EXIT_NET,
         "exit %d: %s" % (p.returncode, err))
    rc, err2 = send(env, env.canary("while-down"), env.canary("body"))
    case("storage_down_send_temporary_error", rc == CLIENT_EXIT_NET, "exit %d: %s" % (rc, err2))
    api = g.show("allears-api.service", "ActiveState", "NRestarts")
    case("storage_down_api_stays_up", api["ActiveState"] == "active", api)

    rc, out = g.run("systemctl start allears.target", timeout=120)
    case("storage_start_again", rc == 0, out)
    ok = g.wait("mail list works again",
                lambda: env.user.run("mail", "list").returncode == 0, 60)
    case("storage_back_mail_list_works", ok)
    case("storage_back_mailbox_unchanged", len(subjects(env)) == before)
    subject = env.canary("after-storage")
    rc, err = send(env, subject, env.canary("body"))
    case("storage_back_send_works", rc == 0 and any(subject in m for m in subjects(env)), err)
    g.ok("systemctl reset-failed 'allears-*'")
