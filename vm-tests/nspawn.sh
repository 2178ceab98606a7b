#!/bin/sh
# nspawn.sh: lane 1. Boots the cached rootfs under systemd-nspawn (systemd as
# PID 1, a tmpfs overlay so every run starts pristine) inside a network
# namespace made here, joined by a veth pair to a second namespace from which
# the host's `allears` client drives the guest's API; runs the nspawn
# scenarios (scenarios/main.py), then powers the guest off and removes both
# namespaces. Usage: nspawn.sh ROOTFS PAYLOAD WORK CLIENT CA [SCENARIOS]
# Prints PASS/FAIL/SKIP lines; exits non-zero if a case failed.
set -u
rootfs=$1 payload=$2 work=$3 client=$4 ca=$5 only=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
# The /30 the lane uses; VM_NSPAWN_NET moves it if it collides.
net=${VM_NSPAWN_NET:-10.231.7}
server=$net.1 clientip=$net.2
ns_s=vts$$ ns_c=vtc$$
mkdir -p "$work"
pid=

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# SIGTERM makes nspawn shut the container down in order.
		kill -TERM "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$pid" 2>/dev/null
	fi
	ip netns del "$ns_s" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
}
trap cleanup EXIT INT TERM

ip netns add "$ns_s" && ip netns add "$ns_c" &&
	ip link add vs$$ netns "$ns_s" type veth peer name vc$$ netns "$ns_c" &&
	ip -n "$ns_s" addr add "$server/30" dev vs$$ &&
	ip -n "$ns_c" addr add "$clientip/30" dev vc$$ &&
	ip -n "$ns_s" link set lo up && ip -n "$ns_c" link set lo up &&
	ip -n "$ns_s" link set vs$$ up && ip -n "$ns_c" link set vc$$ up || {
	echo "FAIL nspawn_network_namespaces (ip netns/veth set-up failed)"
	exit 1
}

# No host systemd or D-Bus here: --register=no --keep-unit. --console=read-only
# keeps services' console output (pipe mode loses it).
systemd-nspawn -q -b -D "$rootfs" --volatile=overlay \
	--bind-ro="$payload:/vmtest" --register=no --keep-unit \
	--network-namespace-path="/run/netns/$ns_s" -M "vmtest$$" \
	--console=read-only >"$work/console.log" 2>&1 </dev/null &
pid=$!

# The container's PID 1 is the child of nspawn that owns /run/systemd/private
# (nspawn forks a short-lived helper first, so look again until it is there);
# then boot is done when `systemctl is-system-running --wait` returns.
t0=$(date +%s.%N)
leader=
i=0
while [ $i -lt 1200 ] && kill -0 "$pid" 2>/dev/null; do
	for c in $(pgrep -P "$pid"); do
		[ "$(readlink "/proc/$c/ns/pid")" != "$(readlink "/proc/$pid/ns/pid")" ] &&
			[ -S "/proc/$c/root/run/systemd/private" ] && leader=$c
	done
	[ -n "$leader" ] && break
	sleep 0.05
	i=$((i + 1))
done
state=
[ -n "$leader" ] && state=$(timeout 120 nsenter -t "$leader" -a systemctl is-system-running --wait 2>&1)
case $state in
running) echo "PASS nspawn_boot_to_running" ;;
degraded)
	echo "FAIL nspawn_boot_to_running (degraded: $(nsenter -t "$leader" -a systemctl --failed --no-legend --plain | tr '\n' ' '))"
	;;
*)
	echo "FAIL nspawn_boot_to_running (state '$state'; console follows)"
	tail -n 30 "$work/console.log" | sed 's/^/  /'
	exit 1
	;;
esac
echo "  nspawn: booted in $(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $t0 }") s"

/usr/bin/python3 -B "$here/scenarios/main.py" --lane nspawn --leader "$leader" --work "$work" \
	--payload "$payload" --client "$client" --server "$server" --ca "$ca" --netns "$ns_c" \
	${only:+--only "$only"}
rc=$?
nsenter -t "$leader" -a systemctl --no-block poweroff >/dev/null 2>&1
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 "$pid" 2>/dev/null; then
	echo "FAIL nspawn_poweroff (still running 30 s after poweroff)"
	rc=1
fi
exit $rc
