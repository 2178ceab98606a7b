#!/bin/sh
# `make run`: starts every built allears daemon on loopback with a throw-away
# state directory (tests/launcher.py does what systemd does on a server), then
# prints where everything is. Ctrl-C stops it all and removes the state.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
py=${ALLEARS_PYTHON:-/usr/bin/python3}
daemons=0
for p in "$build"/allears-*; do
	case "$(basename "$p")" in allears-admin) continue ;; esac
	[ -x "$p" ] && daemons=$((daemons + 1))
done
if [ "$daemons" -eq 0 ]; then
	echo "No allears daemons are built yet in $build."
	exit 1
fi
cat <<MSG
Next steps, in another terminal, while this runs:
  make check        run every test tier (ends with 'N passed, N failed')
  docs/PROTOCOL.md  every wire and disk format; docs/ARCHITECTURE.md the roles
The state directory printed below holds the keys (keys/), sockets (run/),
each role's state (lib/) and logs (log/).

MSG
exec "$py" "$top/tests/launcher.py" --build "$build"
