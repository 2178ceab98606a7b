#!/bin/sh
# qemu.sh: lane 2. Boots the cached rootfs as a full VM under qemu with
# software emulation (TCG; KVM does not work on these machines), with the
# guest's own Debian kernel and pure cgroup v2, the payload shared over 9p
# (read-only), a user-mode NIC that reaches nothing but a forwarded port
# (127.0.0.1:PORT on the host -> 302 in the guest), and a root command channel
# on a virtconsole (guest-shell.sh). Runs the qemu scenarios, then powers off.
# Usage: qemu.sh QEMU_DIR PAYLOAD WORK CLIENT CA [SCENARIOS]
# QEMU_DIR holds vmlinuz, initrd.img and root.img (rootfs.sh --qemu); root.img
# is opened with snapshot=on and never written.
set -u
q=$1 payload=$2 work=$3 client=$4 ca=$5 only=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pid=

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$pid" 2>/dev/null
	fi
}
trap cleanup EXIT INT TERM

t0=$(date +%s.%N)
qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 1536 \
	-kernel "$q/vmlinuz" -initrd "$q/initrd.img" \
	-append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=1" \
	-drive "file=$q/root.img,format=raw,if=virtio,snapshot=on" \
	-virtfs "local,path=$payload,mount_tag=vmtest,security_model=none,id=vmtest,readonly=on" \
	-nic "user,model=virtio-net-pci,restrict=on,hostfwd=tcp:127.0.0.1:$port-:302" \
	-device virtio-serial-pci \
	-chardev "socket,id=shell,path=$work/shell.sock,server=on,wait=off" \
	-device virtconsole,chardev=shell \
	-serial "file:$work/console.log" -display none -monitor none -nodefaults -no-reboot \
	</dev/null >"$work/qemu.log" 2>&1 &
pid=$!

/usr/bin/python3 -B "$here/scenarios/main.py" --lane qemu --console "$work/shell.sock" \
	--work "$work" --payload "$payload" --client "$client" --server localhost --port "$port" \
	--ca "$ca" ${only:+--only "$only"}
rc=$?
echo "  qemu: guest up and tested in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }") s"
if kill -0 "$pid" 2>/dev/null; then
	# The command channel may be gone if the scenarios failed early: qemu's
	# own exit on poweroff is the signal, SIGTERM after 60 s.
	/usr/bin/python3 -c 'import base64, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"poweroff " + base64.b64encode(b"systemctl --no-block poweroff") + b"\n")' \
		"$work/shell.sock" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL qemu_poweroff (still running 60 s after poweroff)"
		rc=1
	else
		echo "PASS qemu_poweroff"
	fi
fi
if [ $rc -ne 0 ]; then
	echo "  qemu console (last lines):"
	tail -n 25 "$work/console.log" | sed 's/^/  /'
fi
exit $rc
