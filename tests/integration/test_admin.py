#!/usr/bin/python3
"""test_admin.py: allears-admin, the creator utility: `init` makes a new
installation and refuses to touch an existing one; `credentials` remakes the
same credentials from the SMK that `init` printed (restoring on new hardware).

Usage: /usr/bin/python3 test_admin.py <builddir>"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import itest  # noqa: E402
from itest import case, BUILD  # noqa: E402

ADMIN = os.path.join(BUILD, "allears-admin")


def tree_digest(path):
    h = hashlib.sha256()
    for top, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(top, name)
            h.update(os.path.relpath(p, path).encode())
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def main():
    tmp = tempfile.mkdtemp(prefix="allears-admin-")
    try:
        creds, acc = os.path.join(tmp, "etc/credentials"), os.path.join(tmp, "lib/account")
        p = subprocess.run([ADMIN, "init", "--credentials", creds, "--account-state", acc],
                           capture_output=True, text=True)
        case("init_succeeds", p.returncode == 0, p.stderr)
        smk = re.findall(r"(?m)^  ([0-9a-f]{92})$", p.stdout)
        umk = re.findall(r"(?m)^  ([A-Za-z0-9+/]{60})$", p.stdout)
        case("init_prints_smk_and_umk_once", len(smk) == 1 and len(umk) == 1, p.stdout)
        keys = sorted(os.listdir(creds)) if os.path.isdir(creds) else []
        case("init_writes_every_role_credential", keys == sorted(
            r + ".keys" for r in ("account", "storage", "deliver", "enquiry", "mta", "api",
                                  "outgoing")), keys)
        modes = {k: os.stat(os.path.join(creds, k)).st_mode & 0o777 for k in keys}
        case("credentials_mode_0600", set(modes.values()) == {0o600}, modes)
        users = os.listdir(os.path.join(acc, "users")) if os.path.isdir(acc) else []
        case("init_creates_account_state_with_one_user",
             os.path.isfile(os.path.join(acc, "settings")) and len(users) == 1, users)
        with open(os.path.join(acc, "users", users[0]), "rb") as f:
            blob = f.read()
        case("admin_record_is_encrypted", umk and umk[0].encode() not in blob)

        before = tree_digest(tmp)
        again = subprocess.run([ADMIN, "init", "--credentials", creds, "--account-state",
                                os.path.join(tmp, "other")], capture_output=True, text=True)
        case("init_refuses_existing_installation",
             again.returncode != 0 and "refusing" in again.stderr and tree_digest(tmp) == before,
             again.stderr)

        out = os.path.join(tmp, "restored")
        r = subprocess.run([ADMIN, "credentials", "--smk-file", "-", "--out", out],
                           input=(smk[0] if smk else "") + "\n", capture_output=True, text=True)
        case("credentials_from_printed_smk_are_identical",
             r.returncode == 0 and tree_digest(out) == tree_digest(creds), r.stderr)
        bad = subprocess.run([ADMIN, "credentials", "--smk-file", "-", "--out",
                              os.path.join(tmp, "bad")], input="not an smk\n",
                             capture_output=True, text=True)
        case("bad_smk_refused_clearly", bad.returncode == 1 and "92 lowercase hex" in bad.stderr
             and not os.path.exists(os.path.join(tmp, "bad")), bad.stderr)
        u = subprocess.run([ADMIN, "frobnicate"], capture_output=True, text=True)
        case("usage_error_exit_2", u.returncode == 2 and "Usage" in u.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_admin crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
