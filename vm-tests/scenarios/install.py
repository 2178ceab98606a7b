"""install.py: sets allears up in the booted guest as docs/OPERATIONS.md
section 3 tells an admin to: the files `make install` staged (copied into the
guest's /), systemd-sysusers, systemd-tmpfiles, `allears-admin init` on a tmpfs,
every credential the units name encrypted with systemd-creds, the TLS
certificate, the configuration, then `systemctl start allears.target`, which
returns once every Type=notify service has said READY=1."""

import re
import time

from vmlib import case, note, GuestError

SETUP = r"""
set -eu
t() { echo "TIMING $1 $(date +%s.%N)"; }
t start
cp -a /vmtest/root/. /
t copied
systemd-sysusers
systemd-tmpfiles --create allears.conf
systemctl daemon-reload
t reloaded
install -d -m 0700 /var/lib/private
install -d -m 0755 /var/lib/private/allears
umask 077
rm -rf /run/allears-setup
mkdir /run/allears-setup
# As an admin does: the defaults write every role's keys to
# /etc/allears/credentials, encrypted with systemd-creds (root on a systemd host).
allears-admin init > /run/allears-setup/init.out
t admin-init
install -m 0644 /vmtest/config.json /etc/allears/config.json
cat /run/allears-setup/init.out
"""


# A small page that passes allears-admin web's check (docs/PROTOCOL.md 21.1).
WEB_PAGE = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<title>allears vm-test</title></head><body><p>allears vm-test</p></body></html>\n')


def recipe(role, kind, name, path):
    """The command that makes one credential at path, or None if unknown."""
    enc = kind == "LoadCredentialEncrypted"
    if name == "keys" and enc:
        return "test -s %s  # written encrypted by allears-admin init" % path
    if name == "tls.key" and enc:
        return ("allears-admin tls --chain /vmtest/tls/server.crt --key /vmtest/tls/server.key "
                "--roles %s --encrypt yes && test -s %s" % (role, path))
    if name == "tls.crt" and not enc:
        return "test -s %s  # written by allears-admin tls" % path
    if name == "web" and not enc:
        return ("printf '%%s' '%s' | allears-admin web --gzip none --brotli none --out %s -"
                % (WEB_PAGE, path))
    return None


def credential_commands(env):
    """One command per credential the installed service units name; an unknown
    credential is an error, so a new role's unit cannot slip past."""
    cmds, unknown = [], []
    for unit in env.units:
        m = re.match(r"allears-(\w+)\.service$", unit)
        if not m:
            continue
        for kind, name, path in re.findall(r"(?m)^(LoadCredential(?:Encrypted)?)=([^:\s]+):(\S+)",
                                           env.unit_text(unit)):
            cmd = recipe(m.group(1), kind, name, path)
            if cmd:
                cmds.append(cmd)
            else:
                unknown.append("%s %s=%s" % (unit, kind, name))
    return cmds, unknown


def run(env):
    g = env.guest
    out = g.ok(SETUP, timeout=120)
    lines = out.splitlines()
    marks = [(w[1], float(w[2])) for w in (line.split() for line in lines) if w[:1] == ["TIMING"]]
    note("set-up steps (s): %s" % ", ".join("%s %.1f" % (marks[i][0], marks[i][1] - marks[i - 1][1])
                                            for i in range(1, len(marks))))
    smk = umk = None
    for i, line in enumerate(lines):
        if line.startswith("Server Master Key") and i + 1 < len(lines):
            smk = lines[i + 1].strip()
        if line.startswith("(shown once; give it"):
            umk = line.split(":", 1)[1].strip() or (lines[i + 1].strip() if i + 1 < len(lines) else "")
    if not case("admin_init_prints_smk_and_umk", bool(smk) and bool(umk)):
        raise GuestError("allears-admin init printed no keys")
    case("admin_init_encrypts_with_systemd_creds", "LoadCredentialEncrypted" in out, out[-600:])
    env.secrets.update([smk, umk])
    env.admin_umk = umk

    cmds, unknown = credential_commands(env)
    case("harness_knows_every_credential", not unknown,
         "no recipe for %s: add one to vm-tests/scenarios/install.py" % unknown)
    t0 = time.monotonic()
    rc, out = g.run("set -eu\numask 077\n" + "\n".join(cmds) + "\nrm -rf /run/allears-setup\n")
    case("credentials_encrypted_with_systemd_creds", rc == 0, out[-800:])
    note("systemd-creds encrypt: %.1f s" % (time.monotonic() - t0))
    rc, out = g.run("grep -rl --binary-files=text -e 'BEGIN' -e '%s' /etc/allears/credentials/*.cred"
                    " || true" % (smk[:20] if smk else "x"))
    case("credential_files_hold_no_plaintext", out.strip() == "", out)

    t0 = time.monotonic()
    rc, out = g.run("systemctl start allears.target", timeout=300)
    note("systemctl start allears.target: %.1f s" % (time.monotonic() - t0))
    if not case("allears_target_starts", rc == 0, out):
        note(g.run("systemctl --no-pager status 'allears-*' ; journalctl -b --no-pager -n 60")[1][-3000:])
        raise GuestError("allears.target did not start")
    bad = []
    for role in env.roles:
        s = g.show("allears-%s.service" % role, "ActiveState", "SubState", "StatusText")
        if s.get("ActiveState") != "active":
            bad.append((role, s))
    if not case("every_role_active_after_start", not bad, bad):
        for role, _ in bad:
            note("journal of allears-%s: %s" % (role, g.run(
                "journalctl -b --no-pager -o cat -u allears-%s | tail -n 8" % role)[1]))
    rc, out = g.run("systemctl is-active allears.target")
    case("allears_target_active", out.strip() == "active", out)
    rc, out = g.run("allears-admin status")
    running = [ln for ln in out.splitlines() if ln.startswith("allears-") and
               ".service" in ln and " active " in ln]
    case("admin_status_all_running", rc == 0 and len(running) == len(env.roles), out[-1500:])
