"""ipdeny.py: IPAddressDeny= really applies (it needs cgroup v2 BPF, so the
qemu lane is where it counts; nspawn runs on the host's hybrid cgroups).
1. The service's own IPAddressDeny=any: a process moved into
   allears-api.service's cgroup cannot open a TCP connection even to the
   guest's loopback, while the same program outside that cgroup can.
2. The socket ACL docs/OPERATIONS.md recommends: a drop-in with
   IPAddressDeny=any and IPAddressAllow=localhost on allears-api.socket makes
   the API unreachable from outside the guest and still reachable from inside;
   removing it opens it again."""

import os

from vmlib import case, note, skip
from roundtrip import wait_working

PROBE = r"""
import os, socket, sys
cg = sys.argv[1]
if cg != "-":
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect(("127.0.0.1", 302))
    print("connected")
except OSError as e:
    print("blocked errno=%s" % e.errno)
"""

DROPIN = "/run/systemd/system/allears-api.socket.d/vmtest-acl.conf"


def service_cgroup(env):
    g = env.guest
    cg = g.show("allears-api.service", "ControlGroup")["ControlGroup"]
    fs = g.ok("stat -fc %T /sys/fs/cgroup").strip()
    base = "/sys/fs/cgroup" if fs == "cgroup2fs" else "/sys/fs/cgroup/unified"
    return fs, base + cg


def run(env):
    g = env.guest
    # The probe's target is the API's own port; it must be up for the control case.
    g.ok("systemctl start allears.target", timeout=120)
    fs, cg = service_cgroup(env)
    note("guest cgroup file system: %s" % fs)
    g.ok("cat > /run/vmtest-probe.py <<'EOF_P'\n%s\nEOF_P" % PROBE)
    _, outside = g.run("python3 /run/vmtest-probe.py -")
    _, inside = g.run("python3 /run/vmtest-probe.py %s" % cg)
    if fs != "cgroup2fs" and "connected" in inside:
        skip("ipdeny_service_cgroup_blocks_ip",
             "hybrid cgroup v1 under nspawn: systemd attaches no BPF IP filter here; "
             "the qemu lane checks it")
    else:
        case("ipdeny_probe_connects_outside_service_cgroup", outside.strip() == "connected", outside)
        case("ipdeny_service_cgroup_blocks_ip", inside.strip().startswith("blocked"), inside)

    g.ok("mkdir -p %s && printf '[Socket]\\nIPAddressDeny=any\\nIPAddressAllow=localhost\\n' > %s"
         " && systemctl daemon-reload && systemctl restart allears-api.socket allears-api.service"
         % (os.path.dirname(DROPIN), DROPIN), timeout=120)
    # Dropped SYNs: the client gives up after its timeout (4 s here, not 20).
    p = env.user.run("whoami", timeout=30, env={"ALLEARS_TIMEOUT": "4"})
    _, local = g.run("python3 /run/vmtest-probe.py -")
    blocked_outside = p.returncode != 0
    if fs != "cgroup2fs" and not blocked_outside:
        skip("ipdeny_socket_acl_blocks_outside",
             "hybrid cgroup v1 under nspawn: no BPF IP filter; the qemu lane checks it")
    else:
        case("ipdeny_socket_acl_blocks_outside", blocked_outside,
             "exit %d %s" % (p.returncode, p.stderr[-300:]))
        note("from outside with the ACL: exit %d, %s" % (
            p.returncode, p.stderr.decode(errors="replace").strip()[-120:]))
        case("ipdeny_socket_acl_allows_localhost", local.strip() == "connected", local)
    g.ok("rm -f %s && systemctl daemon-reload && systemctl restart allears-api.socket "
         "allears-api.service && systemctl reset-failed 'allears-*'" % DROPIN, timeout=120)
    case("ipdeny_acl_removed_outside_works_again", wait_working(env, 60))
