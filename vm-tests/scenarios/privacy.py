"""privacy.py: after every other scenario, no address, subject, body,
invitation or key the scenarios used appears in the roles' state
(/var/lib/allears*, /var/lib/private), the sockets' directory, the journal
files, or the journal as journalctl prints it with every field. The needles
travel to the guest in a root-only file and are never printed."""

import json

from vmlib import case

SCAN = r"""
import json, os, subprocess, sys
needles = [n.encode() for n in json.load(open(sys.argv[1]))]
needles += [n.lower() for n in needles]
hits = set()
def scan(label, blob):
    for i, n in enumerate(needles):
        if n in blob:
            hits.add("%s (needle %d)" % (label, i % (len(needles) // 2)))
files = 0
for top in ("/var/lib/allears", "/var/lib/private", "/run/allears", "/var/log/journal",
            "/run/log/journal", "/var/tmp", "/tmp"):
    for d, _, names in os.walk(top):
        for name in names:
            p = os.path.join(d, name)
            if os.path.islink(p) or not os.path.isfile(p) or p == sys.argv[1]:
                continue
            files += 1
            with open(p, "rb") as f:
                scan(p, f.read())
log = subprocess.run(["journalctl", "-b", "--no-pager", "-o", "export"], capture_output=True).stdout
scan("journalctl -o export", log)
print(json.dumps({"files": files, "journal_bytes": len(log), "hits": sorted(hits)}))
"""


def run(env):
    g = env.guest
    # The scan must be able to fail: one needle planted where it looks.
    planted = env.canary("planted")
    g.ok("umask 077; printf 'x%s\\n' > /var/lib/private/vmtest-planted" % planted)
    needles = sorted(n for n in env.needles | env.secrets if n and len(n) >= 8)
    # Base64 text through the command channel, so no needle is on a command line.
    blob = json.dumps(needles)
    g.ok("umask 077\ncat > /run/vmtest-needles.json <<'EOF_N'\n%s\nEOF_N\n"
         "cat > /run/vmtest-scan.py <<'EOF_S'\n%s\nEOF_S" % (blob, SCAN))
    rc, out = g.run("python3 /run/vmtest-scan.py /run/vmtest-needles.json; "
                    "rm -f /run/vmtest-needles.json", timeout=120)
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = None
    case("privacy_scan_ran", rc == 0 and res is not None and res["files"] > 0
         and res["journal_bytes"] > 0, out[-500:])
    g.run("rm -f /var/lib/private/vmtest-planted")
    if res is not None:
        planted_hits = [h for h in res["hits"] if h.startswith("/var/lib/private/vmtest-planted ")]
        res["hits"] = [h for h in res["hits"] if h not in planted_hits]
        case("privacy_scan_finds_planted_canary", len(planted_hits) == 1, res["hits"])
        case("privacy_no_address_subject_body_or_key_in_state_or_journal (%d needles, %d files)"
             % (len(needles), res["files"]), not res["hits"], res["hits"])
