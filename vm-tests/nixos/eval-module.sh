#!/bin/sh
# Evaluation tests of the NixOS module and the flake, without a Nix store:
#  - every .nix file of the repository parses (nix-instantiate --parse);
#  - eval.nix: the module under lib.evalModules from nixpkgs' own lib with
#    stub declarations of the NixOS options it sets (stubs.nix), the drift
#    test against units/, and the flake's outputs over a stub nixpkgs;
#  - the first-boot script the module writes passes bash -n;
#  - the VM test script (mail.py) and smtp_send.py pass pyflakes, and mypy
#    with stand-ins for the NixOS test driver's machines, when installed.
# Nothing is built (--store dummy://). Prints one PASS/FAIL/SKIP line per case.
#
# Usage: NIXPKGS_LIB=/path/to/nixpkgs/lib vm-tests/nixos/eval-module.sh
# (a nixpkgs or nix-community/nixpkgs.lib checkout; without NIXPKGS_LIB,
# <nixpkgs/lib> from NIX_PATH is tried.) ALLEARS_TOP overrides the source tree
# (the flake's check passes its own).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=${ALLEARS_TOP:-$(cd "$here/../.." && pwd)}

if ! command -v nix-instantiate >/dev/null 2>&1; then
	echo "SKIP nix: nix-instantiate not found (apt-get install nix-bin)"
	exit 0
fi
lib=${NIXPKGS_LIB:-}
if [ -z "$lib" ]; then
	lib=$(nix-instantiate --find-file nixpkgs/lib 2>/dev/null) || lib=
fi
if [ -z "$lib" ] || [ ! -f "$lib/default.nix" ]; then
	echo "SKIP nix: no nixpkgs lib; set NIXPKGS_LIB=/path/to/nixpkgs/lib"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nixi() { nix-instantiate --store dummy:// --option substituters '' "$@"; }
failed=0

# Every .nix file parses.
bad=
for f in $(cd "$top" && find . -name '*.nix' -not -path './build*' -not -path './.git/*' | sort); do
	nixi --parse "$top/$f" >/dev/null 2>"$tmp/parse" || bad="$bad $f"
done
if [ -z "$bad" ]; then
	echo "PASS every .nix file parses"
else
	echo "FAIL every .nix file parses:$bad"
	failed=1
fi

if nixi --eval --strict --json "$here/eval.nix" --argstr top "$top" --argstr libPath "$lib" \
	>"$tmp/out" 2>"$tmp/err"; then
	# A JSON list of "PASS name"/"FAIL name" strings (names hold no ").
	sed -e 's/^\["//' -e 's/"\]$//' -e 's/","/\n/g' "$tmp/out" >"$tmp/lines"
	echo >>"$tmp/lines"
	cat "$tmp/lines"
	grep -q '^FAIL' "$tmp/lines" && failed=1
else
	echo "FAIL evaluation: nix-instantiate exited with an error"
	sed 's/^/  /' "$tmp/err"
	failed=1
fi

# The first-boot script: bash syntax.
if nixi --eval --strict --json "$here/eval.nix" --argstr top "$top" --argstr libPath "$lib" \
	--argstr attr initScript >"$tmp/init.json" 2>"$tmp/err" &&
	python3 -c 'import json,sys; sys.stdout.write(json.load(open(sys.argv[1])))' "$tmp/init.json" \
		>"$tmp/init.sh" && bash -n "$tmp/init.sh" 2>"$tmp/err"; then
	echo "PASS the first-boot script passes bash -n"
else
	echo "FAIL the first-boot script passes bash -n"
	sed 's/^/  /' "$tmp/err"
	failed=1
fi

# The VM test's Python: the driver puts these names in scope; mail.nix sets
# CA and SMTP_SEND before the text of mail.py.
cat >"$tmp/driver.py" <<'EOF'
from typing import Optional


class Machine:
    def succeed(self, *commands: str, timeout: Optional[int] = None) -> str:
        return ""

    def fail(self, *commands: str, timeout: Optional[int] = None) -> str:
        return ""

    def wait_until_succeeds(self, command: str, timeout: int = 900) -> str:
        return ""

    def wait_for_unit(self, unit: str, user: Optional[str] = None, timeout: int = 900) -> None: ...
    def shutdown(self) -> None: ...
    def start(self, allow_reboot: bool = False) -> None: ...


class _Subtest:
    def __enter__(self) -> None: ...
    def __exit__(self, *args: object) -> None: ...


def subtest(name: str) -> _Subtest:
    return _Subtest()


def start_all() -> None: ...


server = Machine()
client = Machine()
CA = "/nix/store/ca.pem"
SMTP_SEND = "/nix/store/smtp_send.py"
EOF
cat "$tmp/driver.py" "$here/mail.py" >"$tmp/testscript.py"
if command -v pyflakes3 >/dev/null 2>&1; then
	if pyflakes3 "$tmp/testscript.py" "$here/smtp_send.py" >"$tmp/err" 2>&1; then
		echo "PASS the VM test's Python passes pyflakes"
	else
		echo "FAIL the VM test's Python passes pyflakes"
		sed 's/^/  /' "$tmp/err"
		failed=1
	fi
else
	echo "SKIP pyflakes: not installed (apt-get install pyflakes3)"
fi
if command -v mypy >/dev/null 2>&1; then
	if mypy --no-error-summary --ignore-missing-imports --cache-dir "$tmp/mypy" \
		"$tmp/testscript.py" >"$tmp/err" 2>&1; then
		echo "PASS the VM test script type-checks with mypy against the driver's API"
	else
		echo "FAIL the VM test script type-checks with mypy against the driver's API"
		sed 's/^/  /' "$tmp/err"
		failed=1
	fi
else
	echo "SKIP mypy: not installed (apt-get install mypy)"
fi

exit "$failed"
