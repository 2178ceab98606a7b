#!/bin/sh
# Evaluates nixos-module/ and the flake's nixosModules.default with
# lib.evalModules, a stub `pkgs` (formats.json and stub packages) and a stub of
# the few NixOS options the module sets (assertions, environment.*). Needs
# only nix-instantiate and a nixpkgs lib/ directory; no Nix store is written
# (--store dummy://) and nothing is built. Prints one PASS/FAIL line per case.
#
# Usage: NIXPKGS_LIB=/path/to/nixpkgs/lib vm-tests/nixos/eval-module.sh
# (a nixpkgs or nix-community/nixpkgs.lib checkout; without NIXPKGS_LIB,
# <nixpkgs/lib> from NIX_PATH is tried.)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v nix-instantiate >/dev/null 2>&1; then
	echo "SKIP: nix-instantiate not found"
	exit 0
fi
lib=${NIXPKGS_LIB:-}
if [ -z "$lib" ]; then
	lib=$(nix-instantiate --find-file nixpkgs/lib 2>/dev/null) || lib=
fi
if [ -z "$lib" ] || [ ! -f "$lib/default.nix" ]; then
	echo "SKIP: no nixpkgs lib; set NIXPKGS_LIB=/path/to/nixpkgs/lib"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/eval.nix" <<'EOF'
{ top, libPath }:
let
  lib = import libPath;

  stubPkg = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };

  # Same type as nixpkgs' pkgs/pkgs-lib/formats.nix json; generate returns a
  # stub derivation that keeps the JSON text for the checks below.
  jsonFormat =
    { }:
    {
      type =
        let
          valueType =
            lib.types.nullOr (
              lib.types.oneOf [
                lib.types.bool
                lib.types.int
                lib.types.float
                lib.types.str
                lib.types.path
                (lib.types.attrsOf valueType)
                (lib.types.listOf valueType)
              ]
            )
            // {
              description = "JSON value";
            };
        in
        valueType;
      generate = name: value: stubPkg name // { testJSON = builtins.toJSON value; };
    };

  pkgsWith =
    extra:
    {
      formats.json = jsonFormat;
      stdenv.hostPlatform.system = "x86_64-linux";
    }
    // extra;
  pkgs = pkgsWith { allears = stubPkg "allears-from-pkgs"; };

  # The NixOS options the module defines values for.
  nixosStub = {
    options = {
      assertions = lib.mkOption {
        type = lib.types.listOf lib.types.unspecified;
        default = [ ];
      };
      environment.systemPackages = lib.mkOption {
        type = lib.types.listOf lib.types.package;
        default = [ ];
      };
      environment.etc = lib.mkOption {
        type = lib.types.attrsOf (
          lib.types.submodule { options.source = lib.mkOption { type = lib.types.path; }; }
        );
        default = { };
      };
    };
  };

  module = import (top + "/nixos-module");
  evalWith =
    p: modules:
    (lib.evalModules {
      modules = [
        nixosStub
        { _module.args.pkgs = p; }
      ]
      ++ modules;
    });
  eval = evalWith pkgs;

  enabled = eval [
    module
    {
      services.allears = {
        enable = true;
        domain = "mail.example.org";
        settings = {
          domain = "ignored.example";
          storage.max_users = 100;
        };
      };
    }
  ];
  disabled = eval [ module ];
  noDomain = eval [
    module
    { services.allears.enable = true; }
  ];
  badSettings = eval [
    module
    {
      services.allears.enable = true;
      services.allears.domain = "mail.example.org";
      services.allears.settings.f = x: x;
    }
  ];

  flake = import (top + "/flake.nix");
  flakeOut = flake.outputs {
    self = flakeOut // {
      packages.x86_64-linux.default = stubPkg "allears-from-flake";
    };
    nixpkgs = {
      inherit lib;
      legacyPackages = { };
    };
  };
  # pkgs without allears: the package must come from the flake.
  viaFlake =
    extra:
    evalWith (pkgsWith { }) [
      flakeOut.nixosModules.default
      {
        services.allears.enable = true;
        services.allears.domain = "mail.example.org";
      }
      extra
    ];

  # The flake's own outputs over a stub nixpkgs: checks the attributes the
  # package, shell, formatter and checks are made of (not that they build).
  stubNixpkgs = system: {
    stdenv.hostPlatform.system = system;
    stdenv.mkDerivation =
      f:
      let
        a = f a;
      in
      a // stubPkg "${a.pname}-${a.version}";
    mkShell = a: a // stubPkg "shell";
    python3.withPackages =
      f:
      stubPkg "python3-env"
      // {
        interpreter = "/nix/store/00000000000000000000000000000000-python3-env/bin/python3";
        modules = names (f {
          cryptography = stubPkg "cryptography";
          argon2-cffi = stubPkg "argon2-cffi";
        });
      };
  }
  // lib.genAttrs [
    "pkg-config"
    "libsodium"
    "wolfssl"
    "systemd"
    "jansson"
    "clang"
    "gdb"
    "valgrind"
    "nixfmt"
    "openssl"
    "curl"
  ] stubPkg;
  fullOut = flake.outputs {
    self = fullOut;
    nixpkgs = {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] stubNixpkgs;
    };
  };
  pkg = fullOut.packages.x86_64-linux.default;
  shell = fullOut.devShells.x86_64-linux.default;

  names = map (p: p.name);
  etcFile = e: e.config.environment.etc."allears/config.json".source;

  cases = [
    {
      name = "options enable package domain settings are declared";
      test = builtins.all (n: disabled.options.services.allears ? ${n}) [
        "enable"
        "package"
        "domain"
        "settings"
      ];
    }
    {
      name = "disabled by default: no config file or package or assertion";
      test =
        disabled.config.services.allears.enable == false
        && !(disabled.config.environment.etc ? "allears/config.json")
        && disabled.config.environment.systemPackages == [ ]
        && disabled.config.assertions == [ ];
    }
    {
      name = "enabled with a domain: etc allears/config.json is defined";
      test = (etcFile enabled).name == "allears-config.json";
    }
    {
      name = "config.json holds settings and the domain option wins";
      test =
        builtins.fromJSON (etcFile enabled).testJSON == {
          domain = "mail.example.org";
          storage.max_users = 100;
        };
    }
    {
      name = "enabled with a domain: all assertions hold";
      test = builtins.all (a: a.assertion) enabled.config.assertions;
    }
    {
      name = "package defaults to pkgs.allears and is installed";
      test = names enabled.config.environment.systemPackages == [ "allears-from-pkgs" ];
    }
    {
      name = "enabled without a domain: an assertion fails";
      test = builtins.any (a: !a.assertion) noDomain.config.assertions;
    }
    {
      name = "settings rejects a value that is not JSON";
      test = !(builtins.tryEval (builtins.deepSeq badSettings.config.services.allears.settings true)).success;
    }
    {
      name = "flake module: package defaults to the flake package";
      test = names (viaFlake { }).config.environment.systemPackages == [ "allears-from-flake" ];
    }
    {
      name = "flake module: package can still be overridden";
      test =
        names (viaFlake { services.allears.package = stubPkg "allears-custom"; }).config.environment.systemPackages
        == [ "allears-custom" ];
    }
    {
      name = "flake outputs: packages devShells checks formatter for both systems";
      test =
        builtins.all
          (o: builtins.attrNames flakeOut.${o} == [
            "aarch64-linux"
            "x86_64-linux"
          ])
          [
            "packages"
            "devShells"
            "checks"
            "formatter"
          ];
    }
    {
      name = "flake package: name and inputs";
      test =
        pkg.name == "allears-0.1.0"
        && names pkg.nativeBuildInputs == [ "pkg-config" ]
        && names pkg.buildInputs == [
          "libsodium"
          "wolfssl"
          "systemd"
          "jansson"
        ];
    }
    {
      name = "flake package: make check runs with the nix python as ALLEARS_PYTHON";
      test =
        pkg.doCheck
        && pkg.passthru.python.modules == [
          "cryptography"
          "argon2-cffi"
        ]
        && names pkg.nativeCheckInputs == [
          "python3-env"
          "openssl"
          "curl"
          "systemd"
        ]
        && lib.hasInfix "ALLEARS_PYTHON=${pkg.passthru.python.interpreter} make check" pkg.checkPhase;
    }
    {
      name = "flake package: PREFIX is the out path and meta is AGPL-3.0-or-later on linux";
      test =
        pkg.makeFlags == [ "PREFIX=${builtins.placeholder "out"}" ]
        && pkg.meta.license.spdxId == "AGPL-3.0-or-later"
        && pkg.meta.platforms == lib.platforms.linux;
    }
    {
      name = "flake devShell, formatter and checks";
      test =
        pkg.name == (builtins.head shell.inputsFrom).name
        && names shell.packages == [
          "clang"
          "gdb"
          "valgrind"
          "python3-env"
        ]
        && shell.ALLEARS_PYTHON == pkg.passthru.python.interpreter
        && fullOut.formatter.aarch64-linux.name == "nixfmt"
        && fullOut.checks.x86_64-linux.build.name == "allears-0.1.0";
    }
  ];

  run =
    c:
    let
      r = builtins.tryEval (builtins.deepSeq c.test c.test);
    in
    (if r.success && r.value == true then "PASS " else "FAIL ") + c.name;
in
map run cases
EOF

if nix-instantiate --store dummy:// --eval --strict --json "$tmp/eval.nix" \
	--argstr top "$top" --argstr libPath "$lib" >"$tmp/out" 2>"$tmp/err"; then
	# A JSON list of "PASS name"/"FAIL name" strings (names hold no ").
	sed -e 's/^\["//' -e 's/"\]$//' -e 's/","/\n/g' "$tmp/out" >"$tmp/lines"
	echo >>"$tmp/lines"
	cat "$tmp/lines"
	! grep -q '^FAIL' "$tmp/lines"
else
	echo "FAIL evaluation: nix-instantiate exited with an error"
	sed 's/^/  /' "$tmp/err"
	exit 1
fi
