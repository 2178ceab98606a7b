#!/usr/bin/python3
"""test_deliver_waves.py: a message whose copies are too many to make at once
(64 attachments, stored separately, for 5 users: 325 copies, more than one
wave of 256) is stored in waves and every copy arrives: each user gets the
mail once, with all 64 attachments right after it. A user named twice (two
of their addresses) gets one copy.

Usage: /usr/bin/python3 test_deliver_waves.py <builddir>"""

import os
import shutil
import smtplib
import ssl
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
import itest  # noqa: E402
from itest import case, BUILD, ClientUser  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = ["storage", "account", "deliver", "mta", "api"]
USERS = ["wavea", "waveb", "wavec", "waved"]  # and the admin, "postmaster"
ATTACHMENTS = 64  # MSG_ATTACH_MAX: the corpus file has 70, the rest are dropped


def main():
    root = tempfile.mkdtemp(prefix="allears-waves-")
    # No Enquiry: lookups off, the results are recorded as unchecked.
    system = System(BUILD, roles=ROLES, init_admin=True,
                    config_extra={"deliver": {"enquiry_socket": ""}}).start()
    try:
        admin = ClientUser(system, root, "admin")
        admin.run("key", "import", system.admin_umk, "--uid", "0")
        people = [(admin, "postmaster")]
        for name in USERS:
            u = ClientUser(system, root, name)
            inv = admin.json("admin", "invite", "--level", "1")["invitation"]
            u.run("init")
            u.json("register", inv)
            people.append((u, name))
        ok = []
        for u, name in people:
            ok.append(u.run("address", "add", name, "--nick", "main").returncode == 0 and
                      u.run("address", "flags", "main", "+attachments").returncode == 0)
        ok.append(admin.run("address", "add", "hostmaster").returncode == 0)
        case("five_users_with_attachments", all(ok), ok)

        raw = open(os.path.join(TOP, "tests", "data", "mail", "many_attachments.eml"), "rb").read()
        s = smtplib.SMTP("127.0.0.1", system.port("smtp"), timeout=300)
        s.ehlo("sender.example")
        s.starttls(context=ssl.create_default_context(cafile=system.tls_ca))
        s.ehlo("sender.example")
        s.mail("a@sender.example")
        names = [n for _, n in people] + ["hostmaster"]
        rcpt = [s.rcpt("%s@allears.test" % n)[0] for n in names]
        code, _ = s.data(raw)
        s.quit()
        case("all_recipients_accepted_250", rcpt == [250] * len(names) and code == 250,
             (rcpt, code))

        for u, name in people:
            listing = u.json("mail", "list")["messages"]
            mails = [m for m in listing if m.get("type") == "mail"]
            files = [m for m in listing if m.get("type") == "file"]
            full = u.json("mail", "read", str(mails[0]["id"])) if len(mails) == 1 else {}
            case("%s_one_copy" % name, len(mails) == 1, len(mails))
            case("%s_every_attachment" % name, len(files) == ATTACHMENTS, len(files))
            case("%s_attachments_follow_the_mail" % name,
                 len(full.get("attachments", [])) == ATTACHMENTS,
                 len(full.get("attachments", [])))
    finally:
        status = system.stop()
        case("clean_stop", all(v == 0 for v in status.values()), status)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
    sys.exit(1 if itest.failures else 0)
