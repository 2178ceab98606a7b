#!/usr/bin/python3
"""test_units.py: the systemd units in units/, as `make install` installs them.

Installs into a temporary root (`make -o all install DESTDIR=... PREFIX=/usr`,
so nothing is rebuilt), then:
  - the installed files: every unit, sysusers.d and tmpfiles.d file is there;
    ExecStart= names the PREFIX's bin/ (also checked with PREFIX=/opt/allears),
    and every ExecStart= names an installed program;
  - `systemd-analyze verify` on every unit, with --root= on a copy of the
    install tree plus the host's own units (sysinit.target & co.) and MANPATH
    on the installed man pages (so Documentation=man: is checked too). verify
    exits 0 on unknown keys and bad values, so any output at all is a failure;
    a unit with a misspelt key proves that this catches one;
  - `systemd-analyze security --offline=yes` on every service: exposure 1.0
    or lower, and 0.5 or lower for a role without egress (every role but
    enquiry and outgoing);
  - systemd-sysusers and systemd-tmpfiles applied to a scratch root: the
    socket groups exist, the credentials directory is 0700 root;
  - the units agree with the code: each socket's FileDescriptorName= and path
    are what the daemon takes (daemon_take_fd, SOCK_RUN_DIR), each service
    joins exactly the groups of the sockets its main.c connects to
    (rpc_client_new), loads every credential its sources name, keeps state
    only if it uses a state directory, does not restart after exit status 78,
    is started with its socket and stopped with allears.target, and runs as a
    dynamic user whose name is not a static group's.

Usage: /usr/bin/python3 test_units.py <builddir>
Prints one PASS/FAIL/SKIP line per case; exits non-zero if any case fails."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build"))
UNITS = os.path.join(TOP, "units")
HOST_UNIT_DIRS = ["/usr/lib/systemd/system", "/lib/systemd/system"]

# Roles that reach outside the host (design section 2): they may score up to 1.0.
EGRESS_ROLES = {"enquiry", "outgoing"}
EXPOSURE_MAX = 1.0
EXPOSURE_MAX_NO_EGRESS = 0.5
EXIT_CONFIG = 78  # DAEMON_EXIT_CONFIG in src/ipc/daemon.h

failures = 0


def case(name, cond, detail=""):
    global failures
    if cond:
        print("PASS %s" % name)
    else:
        failures += 1
        print("FAIL %s %s" % (name, detail))
    sys.stdout.flush()
    return cond


def run(args, env=None, cwd=None):
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd)
    return r.returncode, r.stdout + r.stderr


def parse_unit(path):
    """{section: {key: [values in order]}}; comments and blank lines skipped."""
    out, sec = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                sec = out.setdefault(line.strip("[]"), {})
                continue
            k, v = line.split("=", 1)
            sec.setdefault(k.strip(), []).append(v.strip())
    return out


def words(unit, sec, key):
    return [w for v in unit.get(sec, {}).get(key, []) for w in v.split()]


def install(dest, prefix):
    return run(["make", "-s", "-C", TOP, "-o", "all", "install", "BUILD=" + BUILD,
                "DESTDIR=" + dest, "PREFIX=" + prefix])


def role_source(role):
    text = ""
    for p in sorted(glob.glob(os.path.join(TOP, "src", role, "*.c"))):
        with open(p) as f:
            text += f.read()
    return text


def main_c(role):
    p = os.path.join(TOP, "src", role, "main.c")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return f.read()


def sysusers_groups():
    groups = set()
    with open(os.path.join(UNITS, "sysusers.d", "allears.conf")) as f:
        for line in f:
            w = line.split()
            if w and w[0] == "g":
                groups.add(w[1])
    return groups


def check_install(tmp):
    unit_files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(UNITS, "allears*")))
    dest = os.path.join(tmp, "root")
    rc, out = install(dest, "/usr")
    if not case("install", rc == 0, out[-2000:]):
        return None
    udir = os.path.join(dest, "usr/lib/systemd/system")
    missing = [u for u in unit_files if not os.path.isfile(os.path.join(udir, u))]
    missing += [p for p in ("usr/lib/sysusers.d/allears.conf", "usr/lib/tmpfiles.d/allears.conf")
                if not os.path.isfile(os.path.join(dest, p))]
    case("install_all_units", not missing and unit_files, "missing %s" % missing)
    left, bad_exec = [], []
    for u in unit_files:
        with open(os.path.join(udir, u)) as f:
            text = f.read()
        if re.search(r"@[a-z_]+@", text):
            left.append(u)
        for e in re.findall(r"(?m)^ExecStart=(\S+)", text):
            if not e.startswith("/usr/bin/") or not os.access(dest + e, os.X_OK):
                bad_exec.append("%s: %s" % (u, e))
    case("install_placeholders_replaced", not left, "%s" % left)
    case("install_execstart_is_installed_program", not bad_exec, "%s" % bad_exec)

    other = os.path.join(tmp, "opt")
    rc, out = install(other, "/opt/allears")
    svc = os.path.join(other, "opt/allears/lib/systemd/system/allears-account.service")
    ok = rc == 0 and os.path.isfile(svc)
    if ok:
        with open(svc) as f:
            ok = "ExecStart=/opt/allears/bin/allears-account\n" in f.read() and \
                os.access(os.path.join(other, "opt/allears/bin/allears-account"), os.X_OK)
    case("install_prefix_followed", ok, out[-1000:])
    return dest


def check_verify(tmp, dest):
    vroot = os.path.join(tmp, "vroot")
    shutil.copytree(dest, vroot, symlinks=True)
    vdir = os.path.join(vroot, "usr/lib/systemd/system")
    ours = set(os.listdir(vdir))
    for d in HOST_UNIT_DIRS:
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            src = os.path.join(d, name)
            if name not in ours and not os.path.lexists(os.path.join(vdir, name)):
                if os.path.isfile(src) or os.path.islink(src):
                    shutil.copy(src, os.path.join(vdir, name), follow_symlinks=False)
    env = dict(os.environ, MANPATH=os.path.join(vroot, "usr/share/man"), SYSTEMD_PAGER="",
               SYSTEMD_LOG_COLOR="0")
    for u in sorted(ours):
        rc, out = run(["systemd-analyze", "verify", "--root=" + vroot, u], env=env)
        case("verify %s" % u, rc == 0 and out.strip() == "", "rc %d: %s" % (rc, out.strip()))

    # The check above must be able to fail: a misspelt key gives rc 0 and a warning.
    bad = os.path.join(vdir, "allears-broken.service")
    with open(os.path.join(vdir, "allears-account.service")) as f:
        text = f.read().replace("ProtectSystem=strict", "ProtectSystm=strict")
    with open(bad, "w") as f:
        f.write(text)
    rc, out = run(["systemd-analyze", "verify", "--root=" + vroot, "allears-broken.service"],
                  env=env)
    case("verify_catches_unknown_key", "ProtectSystm" in out, "rc %d: %s" % (rc, out.strip()))
    os.unlink(bad)
    return vroot


def check_security(vroot):
    vdir = os.path.join(vroot, "usr/lib/systemd/system")
    for u in sorted(os.listdir(vdir)):
        if not (u.startswith("allears-") and u.endswith(".service")):
            continue
        role = u[len("allears-"):-len(".service")]
        limit = EXPOSURE_MAX if role in EGRESS_ROLES else EXPOSURE_MAX_NO_EGRESS
        rc, out = run(["systemd-analyze", "security", "--offline=yes", "--root=" + vroot,
                       "--no-pager", u], env=dict(os.environ, SYSTEMD_COLORS="0"))
        m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(u), out)
        score = float(m.group(1)) if m else None
        case("security %s exposure %s <= %.1f" % (u, m.group(1) if m else "?", limit),
             rc == 0 and score is not None and score <= limit,
             "rc %d; counted against it: %s" % (rc, "; ".join(
                 " ".join(line.split()) for line in out.splitlines() if "\u2717" in line)))


def check_sysusers_tmpfiles(tmp, dest):
    root = os.path.join(tmp, "sysroot")
    os.makedirs(os.path.join(root, "etc"))
    conf = os.path.join(dest, "usr/lib/sysusers.d/allears.conf")
    rc, out = run(["systemd-sysusers", "--root=" + root, conf])
    groups = set()
    if os.path.exists(os.path.join(root, "etc/group")):
        with open(os.path.join(root, "etc/group")) as f:
            groups = {line.split(":")[0] for line in f}
    want = {"allears-account", "allears-storage", "allears-deliver", "allears-enquiry"}
    case("sysusers_creates_socket_groups", rc == 0 and want <= groups,
         "rc %d, groups %s: %s" % (rc, sorted(groups), out))

    conf = os.path.join(dest, "usr/lib/tmpfiles.d/allears.conf")
    rc, out = run(["systemd-tmpfiles", "--root=" + root, "--create", conf])
    cred = os.path.join(root, "etc/allears/credentials")
    st = os.stat(cred) if os.path.isdir(cred) else None
    case("tmpfiles_credentials_dir_0700_root",
         rc == 0 and st is not None and (st.st_mode & 0o7777) == 0o700 and st.st_uid == 0,
         "rc %d %s: %s" % (rc, oct(st.st_mode) if st else "missing", out))


def check_consistency():
    groups = sysusers_groups()
    target = parse_unit(os.path.join(UNITS, "allears.target"))
    wanted = set(words(target, "Unit", "Wants"))
    with open(os.path.join(TOP, "src/ipc/sock.h")) as f:
        run_dir = re.search(r'#define SOCK_RUN_DIR "([^"]+)"', f.read()).group(1)
    units = sorted(os.path.basename(p) for p in glob.glob(os.path.join(UNITS, "allears-*.s*")))
    case("target_wants_every_unit", set(units) <= wanted, "missing %s" % (set(units) - wanted))

    for sfile in [u for u in units if u.endswith(".socket")]:
        role = sfile[len("allears-"):-len(".socket")]
        sock = parse_unit(os.path.join(UNITS, sfile))
        src = main_c(role) or ""
        names = re.findall(r'daemon_take_fd\(\s*\w+\s*,\s*"([^"]+)"', src)
        fdname = sock["Socket"].get("FileDescriptorName", [None])[0]
        case("%s fd name matches daemon" % sfile, names and fdname in names,
             "unit %r, daemon takes %r" % (fdname, names))
        seq = sock["Socket"].get("ListenSequentialPacket")
        if seq:
            want = "%s/%s.sock" % (run_dir, role)
            case("%s channel socket" % sfile,
                 seq == [want] and sock["Socket"].get("SocketGroup") == ["allears-" + role] and
                 sock["Socket"].get("SocketMode") == ["0660"] and "allears-" + role in groups,
                 "%r %r %r" % (seq, sock["Socket"].get("SocketGroup"),
                               sock["Socket"].get("SocketMode")))
        case("%s part of allears.target" % sfile, "allears.target" in words(sock, "Unit", "PartOf"))

    for sfile in [u for u in units if u.endswith(".service")]:
        role = sfile[len("allears-"):-len(".service")]
        svc = parse_unit(os.path.join(UNITS, sfile))
        S = svc["Service"]
        src, allsrc = main_c(role), role_source(role)
        if not case("%s has a daemon" % sfile, src is not None):
            continue
        servers = set(re.findall(r"rpc_(?:client_new|sync_connect)\([^;]*?ROLE_\w+\s*,\s*ROLE_(\w+)", src))
        want_groups = {"allears-" + s.lower() for s in servers}
        have_groups = set(words(svc, "Service", "SupplementaryGroups"))
        case("%s groups are the sockets it connects to" % sfile,
             have_groups == want_groups and have_groups <= groups,
             "unit %s, code connects to %s, sysusers %s" % (sorted(have_groups),
                                                            sorted(want_groups), sorted(groups)))
        creds = set(re.findall(r'#define \w+_CREDENTIAL "([^"]+)"', allsrc))
        # The key bundle, read by daemon_load_keys() (src/ipc/daemon.c).
        if "daemon_load_keys(" in allsrc or "KEYBUNDLE_CREDENTIAL" in allsrc:
            creds.add("keys")
        loaded = {v.split(":", 1)[0] for k in ("LoadCredential", "LoadCredentialEncrypted")
                  for v in S.get(k, [])}
        case("%s loads its credentials" % sfile, creds and creds == loaded,
             "code reads %s, unit loads %s" % (sorted(creds), sorted(loaded)))
        uses_state = "state_dir" in src
        case("%s state directory" % sfile,
             (S.get("StateDirectory") == ["allears/" + role] and
              S.get("StateDirectoryMode") == ["0700"]) if uses_state
             else "StateDirectory" not in S, "%r" % S.get("StateDirectory"))
        case("%s no restart after exit %d" % (sfile, EXIT_CONFIG),
             str(EXIT_CONFIG) in words(svc, "Service", "RestartPreventExitStatus") and
             S.get("Restart") == ["on-failure"])
        sockname = "allears-%s.socket" % role
        if os.path.exists(os.path.join(UNITS, sockname)):
            case("%s started with its socket" % sfile,
                 sockname in words(svc, "Unit", "Requires") and
                 sockname in words(svc, "Unit", "After"))
        for server in servers:
            s = "allears-%s.socket" % server.lower()
            case("%s ordered after %s" % (sfile, s), s in words(svc, "Unit", "After"))
        case("%s part of allears.target" % sfile, "allears.target" in words(svc, "Unit", "PartOf"))
        user = (S.get("User") or [sfile[:-len(".service")]])[0]
        case("%s dynamic user name is free" % sfile,
             S.get("DynamicUser") == ["yes"] and user not in groups, "User=%s" % user)
        case("%s notify and watchdog" % sfile,
             S.get("Type") == ["notify"] and S.get("NotifyAccess") == ["main"] and
             "WatchdogSec" in S)


def main():
    check_consistency()
    need = ["systemd-analyze", "systemd-sysusers", "systemd-tmpfiles", "make"]
    missing = [t for t in need if not shutil.which(t)]
    if missing:
        print("SKIP systemd tools (not installed: %s)" % " ".join(missing))
        return 1 if failures else 0
    tmp = tempfile.mkdtemp(prefix="units-test-")
    try:
        dest = check_install(tmp)
        if dest:
            vroot = check_verify(tmp, dest)
            check_security(vroot)
            check_sysusers_tmpfiles(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
