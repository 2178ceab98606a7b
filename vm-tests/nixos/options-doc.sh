#!/bin/sh
# Writes docs/NIXOS.md, the options page of the NixOS module, from the module's
# option declarations (options-doc.nix: lib.evalModules and
# lib.optionAttrSetToDocList from nixpkgs' own lib; no Nix store is used).
# With --check, writes nothing and fails (FAIL line) when the committed page
# differs from what the module gives.
#
# Usage: NIXPKGS_LIB=/path/to/nixpkgs/lib vm-tests/nixos/options-doc.sh [--check]
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=${ALLEARS_TOP:-$(cd "$here/../.." && pwd)}
page="$top/docs/NIXOS.md"

if ! command -v nix-instantiate >/dev/null 2>&1; then
	echo "SKIP options page: nix-instantiate not found (apt-get install nix-bin)"
	exit 0
fi
lib=${NIXPKGS_LIB:-}
if [ -z "$lib" ]; then
	lib=$(nix-instantiate --find-file nixpkgs/lib 2>/dev/null) || lib=
fi
if [ -z "$lib" ] || [ ! -f "$lib/default.nix" ]; then
	echo "SKIP options page: no nixpkgs lib; set NIXPKGS_LIB=/path/to/nixpkgs/lib"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! nix-instantiate --store dummy:// --option substituters '' --eval --strict --json \
	"$here/options-doc.nix" --argstr top "$top" --argstr libPath "$lib" >"$tmp/json" 2>"$tmp/err"; then
	echo "FAIL options page: evaluation failed"
	sed 's/^/  /' "$tmp/err"
	exit 1
fi
python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1])))' "$tmp/json" >"$tmp/page"

if [ "${1:-}" = "--check" ]; then
	if cmp -s "$tmp/page" "$page"; then
		echo "PASS docs/NIXOS.md is up to date with nixos-module/"
	else
		echo "FAIL docs/NIXOS.md is up to date with nixos-module/ (run vm-tests/nixos/options-doc.sh)"
		diff -u "$page" "$tmp/page" 2>&1 | head -n 40 | sed 's/^/  /'
		exit 1
	fi
else
	cp "$tmp/page" "$page"
	echo "wrote $page"
fi
