"""boot.py: the qemu lane's first step. Waits for the guest's boot to finish
(`systemctl is-system-running --wait`), checks that it runs its own kernel on
pure cgroup v2, and gives the user-mode NIC the address qemu's forwarding
expects (10.0.2.15/24; no DHCP client in the image)."""

from vmlib import case, note, GuestError


def run(env):
    g = env.guest
    rc, out = g.run("systemctl is-system-running --wait", timeout=300)
    state = out.strip()
    if state == "degraded":
        note("failed units: %s" % g.run("systemctl --failed --no-legend --plain")[1].strip())
    case("qemu_boot_to_running", state == "running", state)
    out = g.ok("systemd-analyze time 2>/dev/null | head -n 1; uname -r; stat -fc %T /sys/fs/cgroup")
    note("guest: %s" % " | ".join(out.strip().splitlines()))
    case("qemu_pure_cgroup_v2", out.strip().endswith("cgroup2fs"), out)
    rc, out = g.run("set -e\nnic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)\n"
                    "ip addr add 10.0.2.15/24 dev $nic\nip link set $nic up\n"
                    "ip route add default via 10.0.2.2\necho $nic")
    if not case("qemu_nic_configured", rc == 0, out):
        raise GuestError("no network in the guest")
