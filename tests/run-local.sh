#!/bin/sh
# `make run`: starts every allears daemon on loopback with a throw-away state
# directory. The daemons arrive with their issues; until then this prints what
# exists and how to use it.
set -u
build=${1:-build}
echo "allears local run"
echo
found=0
for p in "$build"/allears-*; do
	[ -x "$p" ] || continue
	echo "  built: $(basename "$p")"
	found=1
done
if [ "$found" -eq 0 ]; then
	echo "  No daemons exist yet: this checkout holds the codec and crypto core"
	echo "  (src/common, src/ipc) and its tests."
fi
echo
echo "Next steps:"
echo "  make check        run every test tier (ends with 'N passed, N failed')"
echo "  make fuzz         run each libFuzzer target briefly under ASan/UBSan"
echo "  docs/PROTOCOL.md  every wire and disk format, byte by byte"
