#!/usr/bin/python3
"""test_nix.py: the NixOS module's checks that need only Debian's nix-bin
(nix-instantiate 2.8) and no network, no Nix store and no nixpkgs:

  1. every .nix file of the working tree (git ls-files --cached --others
     --exclude-standard '*.nix') parses: nix-instantiate --parse, one case each;
  2. the drift test against units/, without nixpkgs' lib: nixos-module/roles.nix
     is plain data, so it is evaluated alone (--eval --strict --json, restricted
     eval that may read no other file, and it must not be a function) and
     compared with the unit files:
       - every units/allears-<role>.service/.socket has a role, and every role
         has its service (and a socket when it has a channel or a TCP port);
       - the socket listens on /run/allears/<role>.sock with SocketGroup=
         allears-<role> iff `channel`, on ListenStream=<tcp> iff `tcp`;
       - the service's LoadCredential=/LoadCredentialEncrypted= lines are
         `credentials` in order: id:/etc/allears/credentials/<file>, plus .cred
         and Encrypted iff secret;
       - the static groups of sysusers.d/allears.conf are allears-<role> of the
         channel roles; every SupplementaryGroups= group is one of them;
       - allears.target Wants= exactly every role's socket and service;
     and the checks themselves catch mutations planted in a copy of units/;
  3. with NIXPKGS_LIB=/path/to/nixpkgs/lib set: vm-tests/nixos/eval-module.sh
     and options-doc.sh --check, their PASS/FAIL/SKIP lines relayed; without it
     one SKIP line (NIXPKGS_LIB only, never a guessed path, so CI is
     deterministic);
  4. without nix-instantiate: SKIP lines only (CI installs nix-bin).

nix-instantiate runs with --store dummy:// --option substituters '' and every
Nix directory (state, log, config, cache, home) in a throw-away directory, so
it works as root or any user, on a machine without /nix, and writes nothing
outside that directory.

Usage: /usr/bin/python3 test_nix.py [builddir]   (the build dir is not used)
ALLEARS_TOP overrides the source tree (as for eval-module.sh); used to run the
drift checks against a modified copy.
Prints one PASS/FAIL/SKIP line per case; exits non-zero if any case fails."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.abspath(os.environ.get("ALLEARS_TOP") or
                      os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
NIXI = "nix-instantiate"
CRED_DIR = "/etc/allears/credentials"
CRED_KINDS = {"keys", "tls.key", "tls.crt", "page"}

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


def skip(name, why):
    print("SKIP %s: %s" % (name, why))
    sys.stdout.flush()


def nix_env(scratch):
    """The environment for nix-instantiate: nothing read from or written to
    /nix, /etc/nix, ~ or the user's XDG directories."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIX_")}
    for sub, var in (("home", "HOME"), ("cache", "XDG_CACHE_HOME"), ("config", "XDG_CONFIG_HOME"),
                     ("xdg", "XDG_CONFIG_DIRS"), ("data", "XDG_DATA_HOME"), ("state", "NIX_STATE_DIR"),
                     ("log", "NIX_LOG_DIR"), ("conf", "NIX_CONF_DIR")):
        d = os.path.join(scratch, sub)
        os.makedirs(d, exist_ok=True)
        env[var] = d
    env["NIX_PATH"] = ""
    env["NIX_USER_CONF_FILES"] = os.path.join(scratch, "conf", "none.conf")
    if "NIXPKGS_LIB" in os.environ:
        env["NIXPKGS_LIB"] = os.environ["NIXPKGS_LIB"]
    return env


def nixi(env, *args, timeout=120):
    r = subprocess.run([NIXI, "--store", "dummy://", "--option", "substituters", ""] + list(args),
                       capture_output=True, text=True, env=env, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def first_lines(text, n=5):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[:n])


# ---- 1. parsing ---------------------------------------------------------------------

def nix_files(top):
    """The .nix files of the working tree: tracked and untracked (not ignored)
    ones that exist; without git, every .nix file outside .git and build*."""
    try:
        r = subprocess.run(["git", "-C", top, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard", "--", "*.nix"],
                           capture_output=True, text=True, timeout=60)
        in_git = r.returncode == 0
    except OSError:
        in_git = False
    if in_git:
        names = {n for n in r.stdout.split("\0") if n}
    else:
        names = set()
        for d, dirs, files in os.walk(top):
            rel = os.path.relpath(d, top)
            dirs[:] = [x for x in dirs if not (rel == "." and (x == ".git" or x.startswith("build")))]
            for f in files:
                if f.endswith(".nix"):
                    names.add(os.path.normpath(os.path.join(rel, f)))
    return sorted(n for n in names if os.path.isfile(os.path.join(top, n)))


def check_parse(env):
    files = nix_files(TOP)
    case("nix: the tree has .nix files to parse", len(files) > 0, "(none found under %s)" % TOP)
    for f in files:
        rc, _, err = nixi(env, "--parse", os.path.join(TOP, f))
        case("nix parse: %s" % f, rc == 0, first_lines(err))


# ---- 2. the drift test ---------------------------------------------------------------

def eval_roles(env, roles_path):
    """roles.nix alone: not a function, reads no other file (restricted eval
    with only itself allowed), evaluates strictly to JSON. Returns the table or None."""
    rc, out, err = nixi(env, "--eval", "--json", "--argstr", "p", roles_path, "--expr",
                        "{ p }: builtins.isFunction (import (/. + p))")
    if rc != 0 or out.strip() != "false":
        case("nix roles.nix: plain data, evaluates with no arguments, no lib and no other file", False,
             "(a function or does not evaluate: %s)" % first_lines(out + err))
        return None
    rc, out, err = nixi(env, "--eval", "--strict", "--json", "--option", "restrict-eval", "true",
                        "-I", roles_path, roles_path)
    try:
        roles = json.loads(out) if rc == 0 else None
    except ValueError:
        roles = None
    case("nix roles.nix: plain data, evaluates with no arguments, no lib and no other file",
         roles is not None, first_lines(err))
    return roles


def roles_schema_errors(roles):
    errs = []
    if not isinstance(roles, dict) or not roles:
        return ["not a non-empty attribute set"]
    for r, e in sorted(roles.items()):
        if not re.fullmatch(r"[a-z]+", r):
            errs.append("%s: role name is not [a-z]+" % r)
        if not isinstance(e, dict) or set(e) != {"channel", "tcp", "optional", "credentials"}:
            errs.append("%s: attributes are %s" % (r, sorted(e) if isinstance(e, dict) else type(e)))
            continue
        if not isinstance(e["channel"], bool) or not isinstance(e["optional"], bool):
            errs.append("%s: channel/optional not booleans" % r)
        t = e["tcp"]
        if t is not None and (not isinstance(t, int) or isinstance(t, bool) or not 0 < t < 65536):
            errs.append("%s: tcp is not null or a port" % r)
        if not isinstance(e["credentials"], list):
            errs.append("%s: credentials is not a list" % r)
            continue
        for c in e["credentials"]:
            if (not isinstance(c, dict) or set(c) != {"id", "file", "secret", "kind"}
                    or not isinstance(c["id"], str) or not isinstance(c["file"], str)
                    or not isinstance(c["secret"], bool) or c["kind"] not in CRED_KINDS
                    or not re.fullmatch(r"[A-Za-z0-9._-]+", c["id"])
                    or not re.fullmatch(r"[A-Za-z0-9._-]+", c["file"])):
                errs.append("%s: bad credential %r" % (r, c))
    return errs


def parse_unit(path):
    """[(section, key, value)] in file order; comments, blank lines skipped,
    backslash continuation lines joined."""
    out, sec, pending = [], None, ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if pending:
                line = pending + " " + line.strip()
                pending = ""
            s = line.strip()
            if not s or s[0] in "#;":
                continue
            if s.endswith("\\"):
                pending = s[:-1].rstrip()
                continue
            if s.startswith("[") and s.endswith("]"):
                sec = s[1:-1]
                continue
            if "=" not in s:
                out.append((sec, s, None))
                continue
            k, v = s.split("=", 1)
            out.append((sec, k.strip(), v.strip()))
    return out


def values(unit, section, key):
    return [v for s, k, v in unit if s == section and k == key]


def words(unit, section, key):
    """A list setting: space-separated words over every line; an empty
    assignment resets it."""
    out = []
    for v in values(unit, section, key):
        if v == "":
            out = []
        else:
            out.extend(v.split())
    return out


def port_of(listen):
    m = re.fullmatch(r"(?:.*:)?(\d+)", listen)
    return int(m.group(1)) if m else listen


def drift_checks(roles, units):
    """Every drift case as (name, ok, detail), for a units/ directory."""
    res = []
    exists = lambda f: os.path.isfile(os.path.join(units, f))
    in_units = set()
    for f in sorted(os.listdir(units)) if os.path.isdir(units) else []:
        m = re.fullmatch(r"allears-([A-Za-z0-9_-]+)\.(service|socket)", f)
        if m:
            in_units.add((m.group(1), m.group(2)))
    orphans = sorted("allears-%s.%s" % rk for rk in in_units if rk[0] not in roles)
    res.append(("nix drift: every units/allears-*.service and .socket has a role in roles.nix",
                not orphans, "(no role for: %s)" % " ".join(orphans)))

    static = []
    sysusers = os.path.join(units, "sysusers.d", "allears.conf")
    if os.path.isfile(sysusers):
        with open(sysusers) as f:
            for line in f:
                p = line.split()
                if p and not p[0].startswith("#") and p[0] == "g" and len(p) >= 2:
                    static.append(p[1])
    channel_groups = sorted("allears-%s" % r for r in roles if roles[r]["channel"])

    supplementary = []
    for r in sorted(roles):
        e = roles[r]
        svc, sock = "allears-%s.service" % r, "allears-%s.socket" % r
        need_sock = e["channel"] or e["tcp"] is not None
        missing = [u for u, need in ((svc, True), (sock, need_sock)) if need and not exists(u)]
        extra = [sock] if not need_sock and exists(sock) else []
        res.append(("nix drift %s: units/%s and its socket exist" % (r, svc), not missing and not extra,
                    "(missing: %s%s)" % (" ".join(missing) or "-",
                                         "; a socket for a role without channel or tcp: " + sock
                                         if extra else "")))
        if exists(sock):
            u = parse_unit(os.path.join(units, sock))
            got = sorted((k, port_of(v) if k == "ListenStream" else v)
                         for s, k, v in u if s == "Socket" and k.startswith("Listen"))
            want = []
            if e["channel"]:
                want.append(("ListenSequentialPacket", "/run/allears/%s.sock" % r))
            if e["tcp"] is not None:
                want.append(("ListenStream", e["tcp"]))
            want.sort(key=repr)
            got.sort(key=repr)
            group = values(u, "Socket", "SocketGroup")
            want_group = ["allears-%s" % r] if e["channel"] else []
            res.append(("nix drift %s: %s listens where roles.nix says (channel, tcp), with its group"
                        % (r, sock), got == want and group == want_group,
                        "(listens %s, SocketGroup %s; roles.nix wants %s, %s)"
                        % (got, group, want, want_group)))
        if exists(svc):
            u = parse_unit(os.path.join(units, svc))
            got = [(k, v) for s, k, v in u
                   if s == "Service" and k in ("LoadCredential", "LoadCredentialEncrypted")]
            want = []
            for c in e["credentials"]:
                if c["secret"]:
                    want.append(("LoadCredentialEncrypted", "%s:%s/%s.cred" % (c["id"], CRED_DIR, c["file"])))
                else:
                    want.append(("LoadCredential", "%s:%s/%s" % (c["id"], CRED_DIR, c["file"])))
            res.append(("nix drift %s: %s loads the credentials of roles.nix, in order" % (r, svc),
                        got == want, "(unit: %s; roles.nix: %s)" % (
                            ["%s=%s" % kv for kv in got], ["%s=%s" % kv for kv in want])))
            supplementary += [(r, g) for g in words(u, "Service", "SupplementaryGroups")]

    res.append(("nix drift: sysusers.d/allears.conf's static groups are allears-<role> of the channel roles",
                sorted(static) == channel_groups and len(static) == len(set(static)),
                "(sysusers.d: %s; channel roles: %s)" % (static, channel_groups)))
    bad = ["%s:%s" % rg for rg in supplementary if rg[1] not in channel_groups]
    res.append(("nix drift: every SupplementaryGroups= group is a channel role's static group",
                not bad, "(not a channel group: %s)" % " ".join(bad)))

    target = os.path.join(units, "allears.target")
    if os.path.isfile(target):
        wants = words(parse_unit(target), "Unit", "Wants")
        got = sorted(w for w in wants if w.startswith("allears-"))
        dup = len(got) != len(set(got))
    else:
        got, dup = [], False
    want = []
    for r in roles:
        want.append("allears-%s.service" % r)
        if roles[r]["channel"] or roles[r]["tcp"] is not None:
            want.append("allears-%s.socket" % r)
    want.sort()
    res.append(("nix drift: allears.target Wants= every role's socket and service, and no other",
                got == want and not dup, "(missing: %s; extra: %s)" % (
                    " ".join(sorted(set(want) - set(got))) or "-",
                    " ".join(sorted(set(got) - set(want))) or "-")))
    return res


# Each: (file, pattern (re.M) that must match exactly once, replacement, the
# case that must then fail, as a substring of its name). Pattern None deletes
# the file; pattern "" creates it with the replacement as its text.
MUTATIONS = [
    ("allears-api.socket", r"^ListenStream=(\d+)$", r"ListenStream=1\1",
     "drift api: allears-api.socket listens"),
    ("allears-storage.socket", r"^SocketGroup=allears-storage$", "SocketGroup=allears-account",
     "drift storage: allears-storage.socket listens"),
    ("allears-account.socket", r"^(ListenSequentialPacket=/run/allears/)account\.sock$", r"\1acount.sock",
     "drift account: allears-account.socket listens"),
    ("allears-api.service", r"^LoadCredential=tls\.crt:(\S+)$", r"LoadCredentialEncrypted=tls.crt:\1.cred",
     "drift api: allears-api.service loads"),
    ("allears-api.service", r"^(LoadCredentialEncrypted=keys:\S+\n)(LoadCredentialEncrypted=tls\.key:\S+\n)",
     r"\2\1", "drift api: allears-api.service loads"),
    ("allears-account.service", r"^LoadCredentialEncrypted=keys:\S+\n", "",
     "drift account: allears-account.service loads"),
    ("sysusers.d/allears.conf", r"^g\s+allears-storage\s.*\n", "",
     "sysusers.d/allears.conf's static groups"),
    ("allears-api.service", r"^(SupplementaryGroups=.*)$", r"\1 allears-api",
     "every SupplementaryGroups= group"),
    ("allears.target", r"^(Wants=.*?)allears-storage\.service", r"\1", "allears.target Wants="),
    ("allears.target", r"^\[Unit\]\n", "[Unit]\nWants=allears-other.socket\n", "allears.target Wants="),
    ("allears-account.socket", None, None, "drift account: units/allears-account.service and its socket"),
    ("allears-extra.service", "", "[Service]\nExecStart=/usr/bin/true\n",
     "every units/allears-*.service and .socket has a role"),
]


def check_mutations(roles, units):
    """The drift checks against copies of units/, each with one planted
    mutation: exactly the expected case turns to FAIL (or, when it fails on
    the tree already, fails with another finding); no other case changes."""
    base = {n: d for n, ok, d in drift_checks(roles, units) if not ok}
    problems = []
    with tempfile.TemporaryDirectory(prefix="allears-nixdrift-") as tmp:
        for i, (f, old, new, expect) in enumerate(MUTATIONS):
            copy = os.path.join(tmp, "u%d" % i)
            shutil.copytree(units, copy)
            path = os.path.join(copy, f)
            if old is None:
                if not os.path.exists(path):
                    problems.append("#%d: %s does not exist" % (i, f))
                    continue
                os.unlink(path)
            elif old == "":
                if os.path.exists(path):
                    problems.append("#%d: %s exists already" % (i, f))
                    continue
                with open(path, "w") as fh:
                    fh.write(new)
            else:
                try:
                    with open(path) as fh:
                        text = fh.read()
                except OSError:
                    text = ""
                text, n = re.subn(old, new, text, flags=re.M)
                if n != 1:
                    problems.append("#%d: /%s/ matches %s %d times, not once (update MUTATIONS)"
                                    % (i, old, f, n))
                    continue
                with open(path, "w") as fh:
                    fh.write(text)
            now = {n: d for n, ok, d in drift_checks(roles, copy) if not ok}
            changed = sorted(n for n in set(now) | set(base) if now.get(n) != base.get(n))
            if len(changed) != 1 or expect not in changed[0]:
                problems.append("#%d (%s): cases changed: %s" % (i, f, changed))
    case("nix drift: the checks catch each of %d mutations planted in a copy of units/" % len(MUTATIONS),
         not problems, "(%s)" % "; ".join(problems))


def check_drift(env):
    roles_path = os.path.join(TOP, "nixos-module", "roles.nix")
    if not os.path.isfile(roles_path):
        case("nix roles.nix: plain data, evaluates with no arguments, no lib and no other file", False,
             "(%s not found)" % roles_path)
        return
    roles = eval_roles(env, roles_path)
    if roles is None:
        return
    errs = roles_schema_errors(roles)
    if not case("nix roles.nix: every role has channel, tcp, optional, credentials of the documented types",
                not errs, "(%s)" % "; ".join(errs)):
        return
    units = os.path.join(TOP, "units")
    for name, ok, detail in drift_checks(roles, units):
        case(name, ok, detail)
    check_mutations(roles, units)


# ---- 3. the full module evaluation -------------------------------------------------

def relay(env, label, args):
    """Runs one of vm-tests/nixos/*.sh and relays its PASS/FAIL/SKIP lines
    (and indented detail lines) with the script's name in front."""
    global failures
    script = os.path.join(TOP, "vm-tests", "nixos", args[0])
    if not os.path.isfile(script):
        case("nix %s: %s exists" % (label, script), False)
        return
    try:
        r = subprocess.run(["sh", script] + args[1:], capture_output=True, text=True, env=env,
                           timeout=900)
    except subprocess.TimeoutExpired:
        case("nix %s: finishes within 900 s" % label, False)
        return
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for line in r.stdout.splitlines():
        m = re.match(r"(PASS|FAIL|SKIP) (.*)", line)
        if m:
            counts[m.group(1)] += 1
            if m.group(1) == "FAIL":
                failures += 1
            print("%s nix %s: %s" % (m.group(1), label, m.group(2)))
        elif line.startswith("  "):
            print(line)
    sys.stdout.flush()
    if r.returncode != 0 and counts["FAIL"] == 0:
        case("nix %s: exits 0" % label, False,
             "(status %d: %s)" % (r.returncode, first_lines(r.stdout + r.stderr)))
    if sum(counts.values()) == 0:
        case("nix %s: reports its cases" % label, False, "(%s)" % first_lines(r.stdout + r.stderr))


def check_module(env):
    lib = os.environ.get("NIXPKGS_LIB", "")
    if not lib:
        skip("nix full module evaluation (eval-module.sh, options-doc.sh --check)",
             "needs NIXPKGS_LIB=/path/to/nixpkgs/lib (a nixpkgs or nixpkgs.lib checkout); "
             "not set")
        return
    if not os.path.isfile(os.path.join(lib, "default.nix")):
        case("nix NIXPKGS_LIB is a nixpkgs lib directory", False, "(%s/default.nix not found)" % lib)
        return
    env = dict(env, ALLEARS_TOP=TOP)
    relay(env, "eval-module.sh", ["eval-module.sh"])
    relay(env, "options-doc.sh", ["options-doc.sh", "--check"])


def main():
    if shutil.which(NIXI) is None:
        why = "nix-instantiate not found (CI installs Debian's nix-bin: apt-get install nix-bin)"
        skip("nix parse: every .nix file", why)
        skip("nix drift: roles.nix against units/", why)
        skip("nix full module evaluation (eval-module.sh, options-doc.sh --check)", why)
        return 0
    with tempfile.TemporaryDirectory(prefix="allears-nix-") as scratch:
        env = nix_env(scratch)
        check_parse(env)
        check_drift(env)
        check_module(env)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
