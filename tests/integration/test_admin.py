#!/usr/bin/python3
"""test_admin.py: allears-admin, the creator utility: `init` makes a new
installation and refuses to touch an existing one; `credentials` remakes the
same credentials from the SMK that `init` printed (restoring on new hardware).

Usage: /usr/bin/python3 test_admin.py <builddir>"""

import base64
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
        p = subprocess.run([ADMIN, "init", "--encrypt", "no", "--credentials", creds,
                            "--account-state", acc], capture_output=True, text=True)
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
        again = subprocess.run([ADMIN, "init", "--encrypt", "no", "--credentials", creds,
                                "--account-state",
                                os.path.join(tmp, "other")], capture_output=True, text=True)
        case("init_refuses_existing_installation",
             again.returncode != 0 and "refusing" in again.stderr and tree_digest(tmp) == before,
             again.stderr)

        out = os.path.join(tmp, "restored")
        r = subprocess.run([ADMIN, "credentials", "--encrypt", "no", "--smk-file", "-", "--out",
                            out],
                           input=(smk[0] if smk else "") + "\n", capture_output=True, text=True)
        case("credentials_from_printed_smk_are_identical",
             r.returncode == 0 and tree_digest(out) == tree_digest(creds), r.stderr)
        bad = subprocess.run([ADMIN, "credentials", "--encrypt", "no", "--smk-file", "-", "--out",
                              os.path.join(tmp, "bad")], input="not an smk\n",
                             capture_output=True, text=True)
        case("bad_smk_refused_clearly", bad.returncode == 1 and "92 lowercase hex" in bad.stderr
             and not os.path.exists(os.path.join(tmp, "bad")), bad.stderr)
        u = subprocess.run([ADMIN, "frobnicate"], capture_output=True, text=True)
        case("usage_error_exit_2", u.returncode == 2 and "Usage" in u.stderr)
        encryption(tmp, smk[0] if smk else "")
        tls(tmp)
        status(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# A stand-in for systemd-creds (first on PATH): "encrypts" by writing a marker,
# the credential name and the input in base64, and logs its arguments. FAIL=1 in
# its environment makes it fail as systemd-creds does without a host key.
FAKE_CREDS = r"""#!/bin/sh
[ "${FAKE_CREDS_FAIL:-0}" = 1 ] && { echo "no host key" >&2; exit 1; }
echo "$@" >> "$FAKE_CREDS_LOG"
name=${2#--name=}
if [ "$4" = - ]; then out=/dev/stdout; else out=$4; fi
{ printf 'FAKECRED %s\n' "$name"; base64 -w0; } > "$out"
"""


def fake_creds(tmp, fail=False):
    d = os.path.join(tmp, "fakebin")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "systemd-creds")
    with open(path, "w") as f:
        f.write(FAKE_CREDS)
    os.chmod(path, 0o755)
    log = os.path.join(tmp, "fakecreds.log")
    env = dict(os.environ, PATH=d + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
               FAKE_CREDS_LOG=log, FAKE_CREDS_FAIL="1" if fail else "0")
    return env, log


def encryption(tmp, smk):
    env, log = fake_creds(tmp)
    creds, acc = os.path.join(tmp, "enc/credentials"), os.path.join(tmp, "enc/account")
    p = subprocess.run([ADMIN, "init", "--credentials", creds, "--account-state", acc],
                       capture_output=True, text=True, env=env)
    names = sorted(os.listdir(creds)) if os.path.isdir(creds) else []
    case("init_auto_encrypts_with_systemd_creds", p.returncode == 0 and names == sorted(
        r + ".keys.cred" for r in ("account", "storage", "deliver", "enquiry", "mta", "api",
                                   "outgoing")) and "LoadCredentialEncrypted" in p.stdout,
         (names, p.stderr))
    blobs = [open(os.path.join(creds, n), "rb").read() for n in names]
    case("encrypted_credentials_named_keys", blobs and all(b.startswith(b"FAKECRED keys\n")
                                                           for b in blobs))
    args = open(log).read() if os.path.exists(log) else ""
    case("systemd_creds_gets_the_name_and_stdin", "encrypt --name=keys - " in args, args[:300])
    modes = {n: os.stat(os.path.join(creds, n)).st_mode & 0o777 for n in names}
    case("encrypted_credentials_mode_0600", set(modes.values()) == {0o600}, modes)

    # The same SMK gives the same plaintext: what the stand-in wrote decodes to it.
    out = os.path.join(tmp, "enc/rekeyed")
    r = subprocess.run([ADMIN, "rekey", "--smk-file", "-", "--out", out], input=smk + "\n",
                       capture_output=True, text=True, env=env)
    plain = os.path.join(tmp, "enc/plain")
    subprocess.run([ADMIN, "credentials", "--encrypt", "no", "--smk-file", "-", "--out", plain],
                   input=smk + "\n", capture_output=True, text=True)
    same = r.returncode == 0 and sorted(os.listdir(out)) == sorted(
        n + ".cred" for n in os.listdir(plain)) and all(
        base64.b64decode(open(os.path.join(out, n + ".cred"), "rb").read().split(b"\n", 1)[1])
        == open(os.path.join(plain, n), "rb").read() for n in os.listdir(plain))
    case("rekey_writes_encrypted_credentials", same and "systemd-creds" in r.stdout, r.stderr)

    env_fail, _ = fake_creds(tmp, fail=True)
    bad = os.path.join(tmp, "enc/mustfail")
    r = subprocess.run([ADMIN, "credentials", "--encrypt", "yes", "--smk-file", "-", "--out",
                        bad], input=smk + "\n", capture_output=True, text=True, env=env_fail)
    case("encrypt_yes_fails_clearly_without_systemd_creds",
         r.returncode == 1 and "systemd-creds" in r.stderr and not os.path.exists(bad), r.stderr)
    auto = os.path.join(tmp, "enc/auto-plain")
    r = subprocess.run([ADMIN, "credentials", "--smk-file", "-", "--out", auto],
                       input=smk + "\n", capture_output=True, text=True, env=env_fail)
    case("encrypt_auto_falls_back_to_plain", r.returncode == 0 and
         tree_digest(auto) == tree_digest(plain), r.stderr)
    r = subprocess.run([ADMIN, "credentials", "--encrypt", "maybe", "--smk-file", "-"],
                       input=smk + "\n", capture_output=True, text=True)
    case("encrypt_bad_value_usage_error", r.returncode == 2, r.stderr)


def tls(tmp):
    env, log = fake_creds(tmp)
    chain, key = os.path.join(tmp, "chain.pem"), os.path.join(tmp, "key.pem")
    with open(chain, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with open(key, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nsecretkeymaterial\n-----END PRIVATE KEY-----\n")
    out = os.path.join(tmp, "tls")
    r = subprocess.run([ADMIN, "tls", "--chain", chain, "--key", key, "--out", out],
                       capture_output=True, text=True, env=env)
    names = sorted(os.listdir(out)) if os.path.isdir(out) else []
    want = sorted(["%s.tls.crt" % r_ for r_ in ("api", "mta", "web")] +
                  ["%s.tls.key.cred" % r_ for r_ in ("api", "mta", "web")])
    case("tls_installs_chain_and_encrypted_key", r.returncode == 0 and names == want,
         (names, r.stderr))
    leaked = [n for n in names if b"secretkeymaterial" in open(os.path.join(out, n), "rb").read()]
    case("tls_key_never_plain_when_encrypting", not leaked, leaked)
    crt_mode = os.stat(os.path.join(out, "api.tls.crt")).st_mode & 0o777 if names else 0
    case("tls_chain_public_0644", crt_mode == 0o644, oct(crt_mode))
    r = subprocess.run([ADMIN, "tls", "--chain", key, "--key", chain, "--out",
                        os.path.join(tmp, "tls2"), "--encrypt", "no"], capture_output=True,
                       text=True)
    case("tls_refuses_swapped_files", r.returncode == 1 and "PEM" in r.stderr and
         not os.path.exists(os.path.join(tmp, "tls2")), r.stderr)
    r = subprocess.run([ADMIN, "tls", "--chain", chain, "--key", key, "--roles", "account"],
                       capture_output=True, text=True)
    case("tls_refuses_role_without_tls", r.returncode == 2, r.stderr)


FAKE_SYSTEMCTL = r"""#!/bin/sh
for u in "$@"; do
  case "$u" in
    allears-web.*) printf 'LoadState=not-found\nActiveState=inactive\nSubState=dead\n\n' ;;
    allears-mta.service) printf 'LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=5\nMemoryCurrent=[not set]\n\n' ;;
    allears-*.service) printf 'LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=42\nNRestarts=0\nMemoryCurrent=1048576\n\n' ;;
    allears-*.socket) printf 'LoadState=loaded\nActiveState=active\nSubState=listening\n\n' ;;
  esac
done
"""


def status(tmp):
    prog = os.path.join(tmp, "fakesystemctl")
    with open(prog, "w") as f:
        f.write(FAKE_SYSTEMCTL)
    os.chmod(prog, 0o755)
    root = os.path.join(tmp, "state")
    os.makedirs(os.path.join(root, "storage", "msg"))
    with open(os.path.join(root, "storage", "msg", "f"), "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024))
    env = dict(os.environ, ALLEARS_SYSTEMCTL=prog, ALLEARS_STATE_ROOT=root)
    r = subprocess.run([ADMIN, "status"], capture_output=True, text=True, env=env)
    lines = {ln.split()[0]: ln for ln in r.stdout.splitlines() if ln.strip()}
    case("status_exit_3_when_a_role_is_down", r.returncode == 3, r.stdout + r.stderr)
    case("status_shows_failed_unit_and_restarts", "failed" in lines.get("allears-mta.service", "")
         and " 5 " in lines.get("allears-mta.service", ""), lines.get("allears-mta.service"))
    case("status_running_unit_pid_and_memory", "42" in lines.get("allears-api.service", "") and
         "1.0 MiB" in lines.get("allears-api.service", ""), lines.get("allears-api.service"))
    case("status_not_installed_unit", "not installed" in lines.get("allears-web.service", ""))
    sto = lines.get(os.path.join(root, "storage"), "")
    case("status_state_sizes", "3.0 MiB" in sto and sto.split()[-1] == "1", sto)
    env["ALLEARS_SYSTEMCTL"] = "/bin/false"
    r = subprocess.run([ADMIN, "status"], capture_output=True, text=True, env=env)
    case("status_systemctl_failure_exit_1", r.returncode == 1 and "failed" in r.stderr, r.stderr)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is a failure, with its reason
        import traceback
        traceback.print_exc()
        print("FAIL test_admin crashed: %s" % e)
        sys.exit(1)
    sys.exit(1 if itest.failures else 0)
