"""credentials.py: a role whose key credential is missing, or is another
role's, fails once with a clear journal line and is not restarted:
missing -> exit status 243/CREDENTIALS (systemd could not load it), wrong ->
78/CONFIG (the daemon refused it); NRestarts stays 0 for longer than a few
RestartSec= (RestartPreventExitStatus=78 243). Then the credential is put
back and the whole system works again."""

import time

from vmlib import case, note
from roundtrip import wait_working

CRED = "/etc/allears/credentials/%s.keys.cred"
# RestartSec=1s in the units: three periods without a restart is no loop.
OBSERVE_S = 3.5


def cursor(g):
    out = g.ok("journalctl -n 0 --show-cursor --no-pager")
    return out.strip().split("cursor: ", 1)[-1]


def broken_starts(env, roles, label, status, journal_patterns):
    """Starts each role's service (its credential broken already), waits one
    observation window for all of them, then checks each."""
    g = env.guest
    cur = cursor(g)
    for role in roles:
        unit = "allears-%s.service" % role
        g.run("systemctl reset-failed %s" % unit)
        rc, out = g.run("systemctl start %s" % unit, timeout=60)
        case("cred_%s_%s_start_fails" % (label, role), rc != 0, out)
    # The start jobs have ended; watch that no restart follows.
    time.sleep(OBSERVE_S)
    for role in roles:
        unit = "allears-%s.service" % role
        s = g.show(unit, "ActiveState", "Result", "NRestarts", "ExecMainStatus", "ExecMainCode")
        case("cred_%s_%s_exit_status_%d" % (label, role, status),
             s.get("ExecMainStatus") == str(status), s)
        case("cred_%s_%s_not_restarted" % (label, role),
             s.get("ActiveState") == "failed" and s.get("NRestarts") == "0", s)
        _, log = g.run("journalctl --no-pager -o cat --after-cursor='%s' -u %s" % (cur, unit))
        # Each pattern: alternatives separated by |; {role} is the role's name.
        missing = [p for p in journal_patterns
                   if not any(a.format(role=role) in log for a in p.split("|"))]
        case("cred_%s_%s_clear_journal_error" % (label, role), not missing,
             "missing %s in: %s" % (missing, log[-800:]))
        case("cred_%s_%s_no_restart_scheduled" % (label, role),
             "Scheduled restart job" not in log, log[-800:])


def run(env):
    g = env.guest
    roles = [r for r in env.roles if "LoadCredentialEncrypted=keys:" in
             env.unit_text("allears-%s.service" % r)]
    g.ok("systemctl stop allears.target", timeout=120)
    paths = [CRED % r for r in roles]
    g.ok("\n".join("mv %s %s.bak" % (p, p) for p in paths))
    try:
        # systemd's own words vary by version (and the line can trail the
        # exit status in the journal); the exit status names the step.
        broken_starts(env, roles, "missing", 243,
                      ["Failed to set up credentials|Failed at step CREDENTIALS|"
                       "status=243/CREDENTIALS"])
        # Each role gets the next role's key bundle, encrypted as its own.
        g.ok("set -eu -o pipefail\n" + "\n".join(
            "systemd-creds decrypt --name=keys %s.bak - | systemd-creds encrypt --name=keys - %s"
            % (paths[(i + 1) % len(paths)], p) for i, p in enumerate(paths)))
        broken_starts(env, roles, "wrong", 78,
                      ["is not the {role} role's key bundle", "78/CONFIG"])
    finally:
        g.ok("\n".join("mv -f %s.bak %s" % (p, p) for p in paths))
    g.run("systemctl reset-failed 'allears-*'")
    rc, out = g.run("systemctl start allears.target", timeout=120)
    case("cred_restored_target_starts", rc == 0, out)
    case("cred_restored_system_works", wait_working(env, 60))
    note("credentials: %d roles checked, missing and wrong each" % len(roles))
