#!/bin/sh
# Runs every test tier that exists and prints "N passed, N failed" last.
# Tiers: C unit tests (build/tests/test_*), cross-implementation tests
# (tests/cross/*.py, run with Debian's /usr/bin/python3), integration tests
# (tests/integration/*.sh|*.py, when they exist). Each prints PASS/FAIL lines.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
py=${ALLEARS_PYTHON:-/usr/bin/python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0
failed=0
skipped=0

run_one() { # name, command...
	name=$1; shift
	log="$out/log"
	"$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	grep -E '^(FAIL|SKIP|  )' "$log" | sed "s|^|[$name] |"
	k=$(grep -c '^SKIP ' "$log")
	skipped=$((skipped + k))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "[$name] FAIL: exited with status $rc and reported no failing case"
		tail -n 20 "$log" | sed "s|^|[$name]   |"
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$k" -eq 0 ]; then
		echo "[$name] FAIL: ran no test case"
		f=1
	fi
	echo "$name: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
}

for t in "$build"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "$(basename "$t")" "$t"
done
for t in "$top"/tests/cross/*.py; do
	[ -f "$t" ] || continue
	run_one "$(basename "$t")" "$py" "$t" "$build"
done
for t in "$top"/tests/integration/*.sh "$top"/tests/integration/*.py; do
	[ -f "$t" ] || continue
	case "$t" in
	*.py) run_one "$(basename "$t")" "$py" "$t" "$build" ;;
	*) run_one "$(basename "$t")" sh "$t" "$build" ;;
	esac
done
if [ "$skipped" -gt 0 ]; then echo "$skipped skipped (not counted as passed; see SKIP lines above)"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
