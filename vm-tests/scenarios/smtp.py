"""smtp.py: mail from the Internet. A sender outside the guest (swaks, from the
client's side of the network) submits a message over SMTP to the user's
address; it must then be listed and readable by the user, and its text must
appear in no state file (privacy.py scans for it). Skipped, with a SKIP line,
while the MTA or Deliver role is not installed (no allears-mta.service or
allears-deliver.service in the payload): the MTA hands every message to Deliver."""

import shutil
import subprocess
import time

from vmlib import case, skip

SMTP_PORT = 25


def run(env):
    missing = [r for r in ("mta", "deliver") if not env.has_role(r)]
    if missing:
        for name in ("smtp_inbound_delivered", "smtp_inbound_read",
                     "smtp_unknown_shield_refused", "smtp_unknown_normal_like_known"):
            skip(name, "role %s not installed: no build/allears-<role> with its units, "
                       "or left out by --roles" % "/".join(missing))
        return
    if not shutil.which("swaks"):
        skip("smtp_inbound_delivered", "swaks is not installed on the host")
        return
    subject, body = env.canary("smtp-subject"), env.canary("smtp-body")
    domain = env.domain

    def swaks(to):
        return subprocess.run(env.prefix + [
            "swaks", "--server", env.server, "--port", str(SMTP_PORT), "--from",
            "sender@example.net", "--to", "%s@%s" % (to, domain), "--header",
            "Subject: %s" % subject, "--body", body, "--timeout", "20"],
            capture_output=True, text=True, timeout=60)
    p = swaks(env.user_address)
    case("smtp_inbound_accepted", p.returncode == 0, p.stdout[-800:])
    end = time.monotonic() + 30
    listed = []
    while time.monotonic() < end:
        listed = [m for m in env.user.json("mail", "list")["messages"] if subject in str(m)]
        if listed:
            break
        time.sleep(0.5)
    case("smtp_inbound_delivered", len(listed) == 1, listed)
    if listed:
        r = env.user.run("mail", "read", str(listed[0]["id"]))
        case("smtp_inbound_read", r.returncode == 0 and body in r.stdout.decode(errors="replace"))
    # An unknown shield address (16 characters) is refused with 550 5.1.1; an
    # unknown normal address gets the same replies as a real one (design 5.1).
    p = swaks("abcdefghjkmnpqrs")
    case("smtp_unknown_shield_refused", p.returncode != 0 and "550 5.1.1" in p.stdout,
         p.stdout[-500:])
    p = subprocess.run(env.prefix + [
        "swaks", "--server", env.server, "--port", str(SMTP_PORT), "--from",
        "sender@example.net", "--to", "vmnobodyhere@%s" % domain, "--quit-after", "RCPT",
        "--timeout", "20"], capture_output=True, text=True, timeout=60)
    case("smtp_unknown_normal_like_known", "<-  250 2.1.5" in p.stdout or
         "<-  450 4.7.0" in p.stdout, p.stdout[-500:])
