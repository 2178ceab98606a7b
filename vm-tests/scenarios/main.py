#!/usr/bin/python3
"""main.py: runs the scenarios of one lane against a booted guest. Called by
vm-tests/nspawn.sh and vm-tests/qemu.sh once the guest is up; prints
PASS/FAIL/SKIP lines and ends with "N passed, N failed, N skipped"; exits 1 if
any case failed.

Adding a scenario: a module here with run(env), listed in LANES below. Adding a
role: its units in units/ are installed and picked up (env.roles); restart,
kill, credentials and security cover it with no change here."""

import argparse
import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmlib  # noqa: E402
from vmlib import case, note, Env, NspawnGuest, QemuGuest  # noqa: E402

# (module, keyword arguments). boot, install and roundtrip set up what the others use:
# when one of them fails, the rest of the lane is not run (and that is a FAIL).
LANES = {
    "nspawn": [("install", {}), ("roundtrip", {}), ("smtp", {}), ("restart", {}), ("kill", {}),
               ("storage_down", {}), ("credentials", {}), ("security", {}), ("ipdeny", {}),
               ("limits", {}), ("privacy", {})],
    "qemu": [("boot", {}), ("install", {}), ("roundtrip", {}), ("kill", {"roles": ["storage"]}),
             ("ipdeny", {}), ("limits", {}), ("privacy", {})],
}
REQUIRED = {"boot", "install", "roundtrip"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lane", choices=sorted(LANES), required=True)
    ap.add_argument("--leader", type=int, help="nspawn: the container's PID 1 (host pid)")
    ap.add_argument("--console", help="qemu: the virtconsole socket")
    ap.add_argument("--work", required=True)
    ap.add_argument("--payload", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--port", type=int, default=302)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--domain", default="allears.vm")
    ap.add_argument("--netns", help="run the client inside this network namespace")
    ap.add_argument("--only", help="comma-separated scenario names (debugging)")
    a = ap.parse_args()

    guest = NspawnGuest(a.leader) if a.lane == "nspawn" else QemuGuest(a.console)
    prefix = ["ip", "netns", "exec", a.netns] if a.netns else []
    env = Env(guest, a.work, a.payload, a.client, a.server, a.port, a.ca, prefix)
    env.domain = a.domain
    note("lane %s, roles installed: %s" % (a.lane, " ".join(env.roles)))
    only = set(a.only.split(",")) if a.only else None
    for name, kw in LANES[a.lane]:
        if only and name not in only and name not in REQUIRED:
            continue
        t0 = time.monotonic()
        try:
            importlib.import_module(name).run(env, **kw)
            note("scenario %s: %.1f s" % (name, time.monotonic() - t0))
        except Exception as e:  # a crash in a scenario is a failure, with its reason
            traceback.print_exc(file=sys.stdout)
            case("scenario_%s_completes" % name, False, "%s: %s" % (type(e).__name__, e))
            if name in REQUIRED:
                case("lane_%s_aborted_after_%s" % (a.lane, name), False, "later scenarios not run")
                break
            # Give the next scenario a running system again.
            rc, out = guest.run("systemctl reset-failed 'allears-*'; systemctl start allears.target",
                                timeout=120)
            if rc != 0:
                note("could not start allears.target again: %s" % out[-300:])
    c = vmlib.counts
    print("%s: %d passed, %d failed, %d skipped" % (a.lane, c["PASS"], c["FAIL"], c["SKIP"]))
    return 1 if c["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
