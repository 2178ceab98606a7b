#!/bin/sh
# rootfs.sh: the Debian 12 (bookworm) root file system the VM tests boot, built
# with debootstrap and cached as a tarball keyed by a hash of this script,
# guest-shell.sh, the package list and the debootstrap version. The image never holds allears: the
# harness installs that at every run. See vm-tests/README.md.
#
# Usage: vm-tests/rootfs.sh CACHE_DIR [--qemu]
# Prints the path of the extracted rootfs directory (CACHE_DIR/rootfs-<hash>) on
# stdout; with --qemu also makes CACHE_DIR/qemu-<hash>/{vmlinuz,initrd.img,root.img}.
# Progress goes to stderr. Needs root, debootstrap, zstd, and for --qemu
# mkfs.ext4 (e2fsprogs). Only the Debian archive apt already uses is contacted.
set -eu

cache=${1:?usage: rootfs.sh CACHE_DIR [--qemu]}
qemu=${2:-}
here=$(cd "$(dirname "$0")" && pwd)

# Run-time libraries of the daemons and the client (ldd build/allears-*), the
# tools the scenarios use inside the guest, and a kernel for the qemu lane.
PACKAGES="systemd systemd-sysv udev dbus iproute2 procps psmisc kmod
libsodium23 libwolfssl35 libjansson4 libsystemd0
python3 openssl curl ca-certificates socat
linux-image-amd64 initramfs-tools zstd"
SUITE=bookworm

log() { printf 'rootfs: %s\n' "$*" >&2; }

mirror() {
	# The mirror apt already uses: only that host is reachable.
	m=$(sed -n 's/^URIs:[[:space:]]*\(http[^ ]*\/debian\)[[:space:]]*$/\1/p' \
		/etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
	[ -n "$m" ] || m=$(sed -n 's/^deb[[:space:]]\+\(http[^ ]*\/debian\)[[:space:]]\+bookworm.*/\1/p' \
		/etc/apt/sources.list 2>/dev/null | head -n 1)
	echo "${m:-http://deb.debian.org/debian}"
}

key=$( { cat "$0" "$here/guest-shell.sh"; echo "$PACKAGES"; dpkg-query -W -f='${Version}' debootstrap; } |
	sha256sum | cut -c1-16)
tarball=$cache/rootfs-$SUITE-$key.tar.zst
root=$cache/rootfs-$key
mkdir -p "$cache"
# One builder at a time; a second run waits and then finds the cache filled.
exec 9>"$cache/.lock"
flock 9

configure() { # $1 = rootfs
	r=$1
	echo allears-vm >"$r/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 allears-vm\n::1 localhost\n' >"$r/etc/hosts"
	# Root logs in without a password on the test consoles only (no sshd, no getty).
	chroot "$r" passwd -d root >/dev/null
	chroot "$r" systemctl set-default multi-user.target >/dev/null 2>&1
	# Nothing may reach a network or start late surprises.
	for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
		systemd-timesyncd.service getty.target console-getty.service \
		serial-getty@ttyS0.service serial-getty@hvc0.service getty@tty1.service \
		systemd-networkd-wait-online.service; do
		ln -sf /dev/null "$r/etc/systemd/system/$u"
	done
	# The payload share for qemu (9p); nspawn binds it to /vmtest instead.
	cat >"$r/etc/systemd/system/vmtest.mount" <<-'EOF'
	[Unit]
	Description=VM test payload (9p)
	ConditionVirtualization=vm
	DefaultDependencies=no
	Before=local-fs.target
	[Mount]
	What=vmtest
	Where=/vmtest
	Type=9p
	Options=trans=virtio,version=9p2000.L,msize=262144
	[Install]
	WantedBy=local-fs.target
	EOF
	# A root command channel on the virtconsole (qemu only): one base64 line in,
	# the output and status out. Started by the device, so a boot without the
	# console never waits for it; SIGKILL because bash ignores SIGTERM.
	install -m 0755 "$here/guest-shell.sh" "$r/usr/local/sbin/vmtest-shell"
	cat >"$r/etc/systemd/system/vmtest-shell.service" <<-'EOF'
	[Unit]
	Description=VM test command channel on hvc0
	BindsTo=dev-hvc0.device
	After=dev-hvc0.device
	[Service]
	ExecStart=/usr/local/sbin/vmtest-shell /dev/hvc0
	Restart=always
	RestartSec=200ms
	KillSignal=SIGKILL
	[Install]
	WantedBy=dev-hvc0.device
	EOF
	mkdir -p "$r/vmtest" "$r/etc/systemd/system/local-fs.target.wants" \
		"$r/etc/systemd/system/dev-hvc0.device.wants"
	ln -sf ../vmtest.mount "$r/etc/systemd/system/local-fs.target.wants/vmtest.mount"
	ln -sf ../vmtest-shell.service \
		"$r/etc/systemd/system/dev-hvc0.device.wants/vmtest-shell.service"
	printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$r/etc/fstab"
	# A small initrd: the virtio disk, ext4, 9p and the consoles (6 MB, not 36).
	cat >"$r/etc/initramfs-tools/modules" <<-'EOF'
	virtio_pci
	virtio_blk
	virtio_console
	virtio_net
	ext4
	9p
	9pnet_virtio
	EOF
	sed -i 's/^MODULES=.*/MODULES=list/' "$r/etc/initramfs-tools/initramfs.conf"
	chroot "$r" update-initramfs -u -k all >/dev/null 2>&1
	rm -rf "$r/var/cache/apt/archives"/*.deb "$r/var/lib/apt/lists"/*_Packages
}

if [ ! -s "$tarball" ]; then
	t0=$(date +%s)
	tmp=$cache/build-$key.$$
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "building $tarball (debootstrap $SUITE, about 90 s)"
	debootstrap --variant=minbase --include="$(echo $PACKAGES | tr ' ' ',')" \
		"$SUITE" "$tmp/root" "$(mirror)" >"$tmp/debootstrap.log" 2>&1 || {
		tail -n 30 "$tmp/debootstrap.log" >&2
		exit 1
	}
	configure "$tmp/root"
	tar -C "$tmp/root" --xattrs --acls --numeric-owner -cf - . | zstd -q -T0 -3 -o "$tmp/rootfs.tar.zst"
	mv "$tmp/rootfs.tar.zst" "$tarball"
	rm -rf "$tmp"
	# Older keys are of no further use.
	for old in "$cache"/rootfs-$SUITE-*.tar.zst; do
		[ "$old" = "$tarball" ] || rm -f "$old"
	done
	log "built in $(($(date +%s) - t0)) s"
fi

if [ ! -f "$root/.complete" ]; then
	for old in "$cache"/rootfs-*; do
		case $old in *.tar.zst) ;; *) [ "$old" = "$root" ] || rm -rf "$old" ;; esac
	done
	rm -rf "$root"
	mkdir -p "$root"
	zstd -q -d -c "$tarball" | tar -C "$root" --xattrs --acls --numeric-owner -xf -
	touch "$root/.complete"
fi

if [ "$qemu" = "--qemu" ]; then
	q=$cache/qemu-$key
	if [ ! -f "$q/.complete" ]; then
		for old in "$cache"/qemu-*; do [ "$old" = "$q" ] || rm -rf "$old"; done
		rm -rf "$q"
		mkdir -p "$q"
		cp "$(ls "$root"/boot/vmlinuz-* | tail -n 1)" "$q/vmlinuz"
		cp "$(ls "$root"/boot/initrd.img-* | tail -n 1)" "$q/initrd.img"
		truncate -s 3G "$q/root.img"
		mkfs.ext4 -q -F -L root -E root_owner=0:0 -d "$root" "$q/root.img"
		touch "$q/.complete"
	fi
fi
echo "$root"
