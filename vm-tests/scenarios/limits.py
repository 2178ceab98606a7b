"""limits.py: the units' resource limits really apply (cgroup v2, so the qemu
lane is where it counts; nspawn runs on the host's hybrid cgroups).
1. For every role: the kernel's memory.max and pids.max of the service's
   cgroup are the unit's MemoryMax= and TasksMax=.
2. pids.max is enforced: a probe moved into allears-api.service's cgroup
   cannot start more processes than TasksMax= leaves room for, while the same
   probe outside it can."""

import re

from vmlib import case, skip

UNITS = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}

PROBE = r"""
import os, sys, time
cg = sys.argv[1]
if cg != "-":
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
kids, err = [], "none"
for _ in range(int(sys.argv[2])):
    try:
        pid = os.fork()
    except OSError as e:
        err = "errno=%d" % e.errno
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print("forked %d %s" % (len(kids), err))
"""


def unit_value(text, key):
    m = re.findall(r"(?m)^%s=(\S+)" % key, text)
    return m[-1] if m else None


def to_bytes(v):
    if v[-1] in UNITS:
        return int(v[:-1]) * UNITS[v[-1]]
    return int(v)


def run(env):
    g = env.guest
    g.ok("systemctl start allears.target", timeout=120)
    fs = g.ok("stat -fc %T /sys/fs/cgroup").strip()
    if fs != "cgroup2fs":
        for name in ("limits_cgroup_files_match_units", "limits_tasksmax_enforced"):
            skip(name, "hybrid cgroup v1 under nspawn: the memory and pids controllers are "
                       "not delegated to the service cgroups here; the qemu lane checks it")
        return
    wrong = []
    for role in env.roles:
        unit = "allears-%s.service" % role
        text = env.unit_text(unit)
        cg = "/sys/fs/cgroup" + g.show(unit, "ControlGroup")["ControlGroup"]
        mem = g.ok("cat %s/memory.max" % cg).strip()
        pids = g.ok("cat %s/pids.max" % cg).strip()
        want_mem, want_pids = unit_value(text, "MemoryMax"), unit_value(text, "TasksMax")
        if want_mem is None or want_pids is None or mem != str(to_bytes(want_mem)) or \
                pids != want_pids:
            wrong.append((role, want_mem, mem, want_pids, pids))
    case("limits_cgroup_files_match_units", not wrong, wrong)

    tasks_max = int(unit_value(env.unit_text("allears-api.service"), "TasksMax"))
    cg = "/sys/fs/cgroup" + g.show("allears-api.service", "ControlGroup")["ControlGroup"]
    g.ok("cat > /run/vmtest-forks.py <<'EOF_P'\n%s\nEOF_P" % PROBE)
    _, outside = g.run("python3 /run/vmtest-forks.py - %d" % (tasks_max * 2))
    _, inside = g.run("python3 /run/vmtest-forks.py %s %d" % (cg, tasks_max * 2))
    m = re.match(r"forked (\d+) (\S+)", inside.strip())
    case("limits_tasksmax_enforced",
         outside.strip() == "forked %d none" % (tasks_max * 2) and m is not None and
         int(m.group(1)) < tasks_max and m.group(2) == "errno=11",
         "outside: %r, inside: %r" % (outside, inside))
    case("limits_api_serves_after_probe", g.run("systemctl is-active allears-api.service")[1]
         .strip() == "active")
