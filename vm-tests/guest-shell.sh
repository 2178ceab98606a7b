#!/bin/bash
# vmtest-shell: the qemu lane's root command channel on a virtconsole, installed
# into the test image by rootfs.sh (never into a real system). The host sends
# one line per command, "ID BASE64-OF-SCRIPT"; the guest runs the script with
# bash (stdin /dev/null) and answers "VMTEST-BEGIN ID", the base64 of its
# combined output on one line, then "VMTEST-END ID STATUS". Raw mode and no echo,
# so nothing the host sends comes back.
tty=${1:?usage: vmtest-shell TTY}
exec <"$tty" >"$tty" 2>&1
stty raw -echo
printf 'VMTEST-SHELL-READY\n'
while IFS= read -r line; do
	line=${line%$'\r'}
	id=${line%% *}
	b64=${line#* }
	case $id in '' | *[!0-9a-z]*) continue ;; esac
	if printf '%s' "$b64" | base64 -d >/run/vmtest-cmd 2>/dev/null; then
		bash /run/vmtest-cmd </dev/null >/run/vmtest-out 2>&1
		rc=$?
	else
		printf 'bad base64\n' >/run/vmtest-out
		rc=254
	fi
	printf 'VMTEST-BEGIN %s\n' "$id"
	base64 -w0 /run/vmtest-out
	printf '\nVMTEST-END %s %d\n' "$id" "$rc"
done
