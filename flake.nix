{
  description = "allears, a privacy-first email server";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # The appliance and its disk image are built for this platform.
      applianceSystem = "x86_64-linux";
      onAppliance = pkgs: attrs: lib.optionalAttrs (pkgs.stdenv.hostPlatform.system == applianceSystem) attrs;
    in
    {
      packages = forAllSystems (
        pkgs:
        {
          default = pkgs.stdenv.mkDerivation (finalAttrs: {
            pname = "allears";
            version = "0.1.0";

            src = ./.;

            strictDeps = true;

            # The man pages (allears(1), allears-<role>(8), allears-admin(8))
            # go to their own output.
            outputs = [
              "out"
              "man"
            ];

            nativeBuildInputs = [ pkgs.pkg-config ];
            buildInputs = [
              pkgs.libsodium
              pkgs.wolfssl
              pkgs.systemd
              pkgs.jansson
            ];

            # The Makefile adds its own hardening flags, including
            # -D_FORTIFY_SOURCE=2; with nixpkgs' fortify(3) also on the command
            # line the macro is redefined and -Werror stops the build.
            hardeningDisable = [ "fortify" ];

            # `make install` rewrites ExecStart= of the units in units/ to
            # BINDIR, so $out/lib/systemd/system holds the same units with the
            # store path of each daemon (the NixOS module takes them from there
            # through systemd.packages).
            makeFlags = [
              "PREFIX=${placeholder "out"}"
              "UNITDIR=${placeholder "out"}/lib/systemd/system"
              "SYSUSERSDIR=${placeholder "out"}/lib/sysusers.d"
              "TMPFILESDIR=${placeholder "out"}/lib/tmpfiles.d"
            ];

            # The default page of the web role, which the NixOS module builds
            # into the page file with `allears-admin web`.
            postInstall = ''
              install -D -m 0644 data/web/index.html $out/share/allears/web/index.html
            '';

            # tests/run-tests.sh runs the Python tests with the interpreter named
            # by ALLEARS_PYTHON (default /usr/bin/python3). The integration tests
            # also call openssl, curl and systemd-analyze (loopback only).
            # Deliver (and its cross test) read Debian's Public Suffix List path.
            postPatch = ''
              substituteInPlace src/deliver/main.c tests/cross/test_auth_cross.py \
                --replace-fail /usr/share/publicsuffix/public_suffix_list.dat \
                  ${pkgs.publicsuffix-list}/share/publicsuffix/public_suffix_list.dat
            '';

            doCheck = true;
            nativeCheckInputs = [
              finalAttrs.passthru.python
              pkgs.openssl
              pkgs.curl
              pkgs.systemd
              pkgs.dnsmasq
              pkgs.swaks
              pkgs.brotli
            ];
            # test_units.py verifies the units against a host's systemd unit
            # directory and as root; the NixOS VM test covers them instead.
            preCheck = ''
              rm tests/integration/test_units.py
            '';
            checkPhase = ''
              runHook preCheck
              ALLEARS_PYTHON=${finalAttrs.passthru.python.interpreter} make check
              runHook postCheck
            '';

            passthru.python = pkgs.python3.withPackages (ps: [
              ps.cryptography
              ps.argon2-cffi
              ps.dkimpy
              ps.pynacl
              ps.dnspython
              ps.websocket-client
            ]);

            meta = {
              description = "Privacy-first email server: end-to-end encrypted storage, hashed addresses";
              license = lib.licenses.agpl3Plus;
              platforms = lib.platforms.linux;
              mainProgram = "allears";
            };
          });
        }
        // onAppliance pkgs {
          # A qcow2 disk image of the appliance (legacy boot with GRUB), made
          # by nixpkgs' own image builder.
          vm-image = self.nixosConfigurations.appliance.config.system.build.images.qemu;
        }
      );

      # The module in ./nixos-module declares services.allears.package with
      # lib.mkPackageOption, whose default is pkgs.allears. allears is not in
      # nixpkgs, so the flake's module also sets that option (with mkDefault,
      # so a user can still override it) to this flake's package for the
      # host platform. Without the flake, import ./nixos-module and set
      # services.allears.package yourself (or add pkgs.allears by an overlay).
      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nixos-module ];
          services.allears.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      # The appliance's configuration, to import into another system or to
      # test in the NixOS VM tests (it needs nixosModules.default as well).
      nixosModules.appliance = ./nixos-module/appliance.nix;

      nixosConfigurations.appliance = nixpkgs.lib.nixosSystem {
        modules = [
          { nixpkgs.hostPlatform = applianceSystem; }
          self.nixosModules.default
          self.nixosModules.appliance
        ];
      };

      apps = forAllSystems (
        pkgs:
        let
          allears = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        in
        {
          allears-admin = {
            type = "app";
            program = "${allears}/bin/allears-admin";
            meta.description = "The allears admin utility (init, credentials, web)";
          };
          default = {
            type = "app";
            program = "${allears}/bin/allears";
            meta.description = "The allears client";
          };
        }
        // onAppliance pkgs {
          vm = {
            type = "app";
            program = lib.getExe (
              pkgs.callPackage ./vm-tests/nixos/run-appliance.nix {
                image = self.packages.${applianceSystem}.vm-image;
              }
            );
            meta.description = "Boot the allears appliance image in QEMU (ports 2525, 3302, 8443 on localhost)";
          };
        }
      );

      devShells = forAllSystems (
        pkgs:
        let
          allears = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        in
        {
          default = pkgs.mkShell {
            inputsFrom = [ allears ];
            packages = [
              pkgs.clang
              pkgs.gdb
              pkgs.valgrind
              allears.passthru.python
            ];
            ALLEARS_PYTHON = allears.passthru.python.interpreter;
          };
        }
      );

      formatter = forAllSystems (pkgs: pkgs.nixfmt);

      checks = forAllSystems (
        pkgs:
        let
          allears = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
          # The evaluation tests of vm-tests/nixos (the module over stub
          # NixOS options, the drift test against units/, the options page
          # being up to date), run with nixpkgs' own lib and no store.
          evalCheck =
            name: script:
            pkgs.runCommand "allears-${name}"
              {
                nativeBuildInputs = [
                  pkgs.nix
                  pkgs.python3
                ];
              }
              ''
              set -o pipefail
              export HOME=$TMPDIR NIX_STATE_DIR=$TMPDIR/nix NIX_CONF_DIR=$TMPDIR
              ALLEARS_TOP=${self} NIXPKGS_LIB=${nixpkgs}/lib sh ${self}/vm-tests/nixos/${script} | tee $out
            '';
        in
        {
          build = allears;
          module-eval = evalCheck "module-eval" "eval-module.sh";
          options-doc = evalCheck "options-doc" "options-doc.sh --check";
          # NixOS VM tests: a server (the appliance) and a client.
          vm-mail = pkgs.testers.runNixOSTest (import ./vm-tests/nixos/mail.nix { inherit self; });
        }
      );
    };
}
