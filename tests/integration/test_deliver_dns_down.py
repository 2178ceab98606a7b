#!/usr/bin/python3
"""test_deliver_dns_down.py: mail is still accepted and stored, with its
authentication results recorded as temporary errors, when DNS does not work:
first with a resolver that never answers (Enquiry times out; Deliver's
per-message DNS budget ends the lookups), then with Enquiry stopped altogether.

Usage: /usr/bin/python3 test_deliver_dns_down.py <builddir>"""

import os
import shutil
import signal
import smtplib
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from launcher import System  # noqa: E402
from dnsserver import SilentServer  # noqa: E402
import itest  # noqa: E402
from itest import case, BUILD, ClientUser  # noqa: E402

ROLES = ["enquiry", "storage", "account", "deliver", "mta", "api"]
BUDGET_MS = 1500


def send(system, subject):
    raw = ("From: alice@sender.test\r\nTo: postmaster@allears.test\r\nSubject: %s\r\n"
           "DKIM-Signature: v=1; a=rsa-sha256; d=sender.test; s=sel; h=from;\r\n"
           " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n"
           "\r\nbody\r\n" % subject).encode()
    t0 = time.monotonic()
    s = smtplib.SMTP("127.0.0.1", system.port("smtp"), local_hostname="mx.sender.test",
                     timeout=120)
    try:
        s.ehlo()
        s.mail("alice@sender.test")
        s.rcpt("postmaster@allears.test")
        code, _ = s.data(raw)
    finally:
        s.quit()
    return code, time.monotonic() - t0


def read(admin, subject):
    for _ in range(50):
        found = [m for m in admin.json("mail", "list")["messages"] if m.get("subject") == subject]
        if found:
            return admin.json("mail", "read", str(found[0]["id"]))
        time.sleep(0.1)
    return None


def main():
    root = tempfile.mkdtemp(prefix="allears-dnsdown-")
    with SilentServer() as silent:
        system = System(BUILD, roles=ROLES, init_admin=True, config_extra={
            "enquiry": {"resolvers": [silent.address], "timeout_ms": 1000},
            "deliver": {"dns_budget_ms": BUDGET_MS}}).start()
        try:
            admin = ClientUser(system, root, "admin")
            admin.run("key", "import", system.admin_umk, "--uid", "0")
            admin.run("address", "add", "postmaster")

            code, took = send(system, "resolver silent")
            case("silent_resolver_mail_accepted", code == 250, code)
            # Without the budget, each of a dozen lookups would wait for
            # Enquiry's own 8 s deadline.
            case("silent_resolver_budget_bounds_the_wait", took < 20, "%.1f s" % took)
            m = read(admin, "resolver silent")
            case("silent_resolver_results_temperror", m is not None and
                 m.get("spf") == "temperror" and m.get("rdns") == "" and
                 [d.get("result") for d in m.get("dkim", [])] == ["temperror"], m)
            case("silent_resolver_was_asked", silent.received() > 0)

            system.kill("enquiry", signal.SIGTERM)
            code, took = send(system, "enquiry stopped")
            case("enquiry_down_mail_accepted", code == 250, code)
            m = read(admin, "enquiry stopped")
            case("enquiry_down_results_temperror", m is not None and
                 m.get("spf") == "temperror", m)
        finally:
            system.daemons["enquiry"].proc.poll()
            status = system.stop()
            case("clean_stop", all(v == 0 for r, v in status.items() if r != "enquiry"), status)
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
    sys.exit(1 if itest.failures else 0)
