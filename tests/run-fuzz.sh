#!/bin/sh
# Runs every libFuzzer target (build/fuzz/fuzz_*) for a few seconds each, under
# ASan and UBSan, starting from its seed corpus in tests/fuzz/corpus/<target>/.
# A crash, leak, sanitizer report or timeout fails the run.
set -u
build=${1:-build}
seconds=${2:-20}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
for f in "$build"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f")
	corpus="$work/$name"
	mkdir -p "$corpus"
	seeds="$top/tests/fuzz/corpus/$name"
	[ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
	if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/$name-" "$corpus" >"$work/$name.log" 2>&1; then
		echo "PASS $name ($(grep -o 'cov: [0-9]*' "$work/$name.log" | tail -n 1))"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		tail -n 40 "$work/$name.log"
		for a in "$work/$name"-*; do
			[ -f "$a" ] && echo "  crashing input (base64): $(base64 -w0 "$a")"
		done
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
