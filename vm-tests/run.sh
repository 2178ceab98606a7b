#!/bin/sh
# run.sh: the VM tests of allears under a real systemd (entry point; `make
# vm-test` calls it). Installs the current build with `make install
# DESTDIR=<payload> PREFIX=/usr`, makes a throw-away TLS certificate, gets the
# cached Debian 12 rootfs (rootfs.sh), then runs lane 1 (systemd-nspawn, every
# scenario) and lane 2 (qemu TCG, a smaller set). Prints PASS/FAIL/SKIP lines
# per lane and a final summary; exits 1 if any case failed.
#
# Usage: vm-tests/run.sh [--lane nspawn|qemu|all] [--only S1,S2] [--roles R1,R2]
#                        [--no-build] [BUILD]
# --roles installs only those roles' units (default: every role with a unit in
# units/); the scenarios then cover exactly the installed roles.
# --no-build installs what BUILD holds without running `make all` first (the
# Makefile's vm-test target has built it already).
# Environment: ALLEARS_VM_CACHE (default /var/cache/allears-vm), ALLEARS_VM_KEEP=1
# keeps the work directory. Needs root, debootstrap, systemd-nspawn
# (systemd-container), zstd, iproute2, and for qemu qemu-system-x86 and e2fsprogs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
lane=all
only=
nobuild=
roles=
while [ $# -gt 0 ]; do
	case $1 in
	--lane) lane=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--no-build) nobuild="-o all"; shift ;;
	--roles) roles=$(echo "$2" | tr , ' '); shift 2 ;;
	-*) echo "usage: vm-tests/run.sh [--lane nspawn|qemu|all] [--only S1,S2] [--roles R1,R2] [--no-build] [BUILD]" >&2; exit 2 ;;
	*) break ;;
	esac
done
build=$(cd "$top" && mkdir -p "${1:-build}" && cd "${1:-build}" && pwd)
cache=${ALLEARS_VM_CACHE:-/var/cache/allears-vm}
case $lane in nspawn) lanes=nspawn ;; qemu) lanes=qemu ;; all) lanes="nspawn qemu" ;;
*) echo "unknown lane $lane" >&2; exit 2 ;; esac

now() { date +%s.%N; }
since() { awk "BEGIN { printf \"%.1f\", $(now) - $1 }"; }
t_all=$(now)
passed=0 failed=0 skipped=0
summary=

missing_tools() { # lane
	need="debootstrap systemd-nspawn zstd ip nsenter"
	[ "$1" = qemu ] && need="$need qemu-system-x86_64 mkfs.ext4"
	for t in $need; do command -v "$t" >/dev/null 2>&1 || printf '%s ' "$t"; done
}

if [ "$(id -u)" -ne 0 ]; then
	for l in $lanes; do echo "SKIP vm_lane_$l (needs root: debootstrap, nspawn, network namespaces)"; done
	echo "vm-tests: 0 passed, 0 failed, $(echo $lanes | wc -w) skipped"
	exit 0
fi

work=$(mktemp -d /tmp/allears-vm.XXXXXX)
[ "${ALLEARS_VM_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
payload=$work/payload
mkdir -p "$payload"
chmod 0755 "$work" "$payload"

# 1. The build, installed as a package would be.
t=$(now)
if ! make -s -C "$top" BUILD="$build" $nobuild install DESTDIR="$payload/root" PREFIX=/usr \
	>"$work/install.log" 2>&1; then
	echo "FAIL vm_make_install"
	tail -n 30 "$work/install.log" | sed 's/^/  /'
	echo "vm-tests: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
echo "PASS vm_make_install ($(since "$t") s)"
passed=$((passed + 1))
if [ -n "$roles" ]; then
	for u in "$payload"/root/usr/lib/systemd/system/allears-*.service \
		"$payload"/root/usr/lib/systemd/system/allears-*.socket; do
		r=${u##*/allears-}
		r=${r%.*}
		case " $roles " in *" $r "*) ;; *) rm -f "$u" ;; esac
	done
	echo "  roles installed: $roles (--roles)"
fi
client=$build/allears
/usr/bin/python3 "$here/scenarios/mkcert.py" "$payload/tls" "${VM_NSPAWN_NET:-10.231.7}.1" || exit 1
printf '{\n  "domain": "allears.vm"\n}\n' >"$payload/config.json"

for l in $lanes; do
	miss=$(missing_tools "$l")
	if [ -n "$miss" ]; then
		echo "SKIP vm_lane_$l (missing on the host: $miss)"
		skipped=$((skipped + 1))
		summary="$summary
  $l: skipped (missing $miss)"
		continue
	fi
	t=$(now)
	opt=
	[ "$l" = qemu ] && opt=--qemu
	if ! root=$("$here/rootfs.sh" "$cache" $opt); then
		echo "FAIL vm_rootfs_$l"
		failed=$((failed + 1))
		continue
	fi
	echo "PASS vm_rootfs_$l ($(since "$t") s)"
	passed=$((passed + 1))
	t=$(now)
	log=$work/$l.log
	{
		if [ "$l" = nspawn ]; then
			"$here/nspawn.sh" "$root" "$payload" "$work/$l" "$client" "$payload/tls/ca.pem" "$only"
		else
			"$here/qemu.sh" "$cache/qemu-$(basename "$root" | sed 's/^rootfs-//')" "$payload" \
				"$work/$l" "$client" "$payload/tls/ca.pem" "$only"
		fi
		echo $? >"$work/$l.rc"
	} 2>&1 | tee "$log"
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	k=$(grep -c '^SKIP ' "$log")
	rc=$(cat "$work/$l.rc" 2>/dev/null || echo 125)
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL vm_lane_$l (exited with status $rc and reported no failing case)"
		f=1
	elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL vm_lane_$l (ran no test case)"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
	summary="$summary
  $l: $p passed, $f failed, $k skipped in $(since "$t") s"
done
echo "vm-tests summary:$summary"
echo "  total time $(since "$t_all") s"
[ "$skipped" -gt 0 ] && echo "$skipped skipped (not counted as passed; see SKIP lines above)"
echo "vm-tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
