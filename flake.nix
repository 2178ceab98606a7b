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
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.stdenv.mkDerivation (finalAttrs: {
          pname = "allears";
          version = "0.1.0";

          src = ./.;

          strictDeps = true;

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

          makeFlags = [ "PREFIX=${placeholder "out"}" ];

          # tests/run-tests.sh runs the Python tests with the interpreter named
          # by ALLEARS_PYTHON (default /usr/bin/python3). The integration tests
          # also call openssl, curl and systemd-analyze (loopback only).
          doCheck = true;
          nativeCheckInputs = [
            finalAttrs.passthru.python
            pkgs.openssl
            pkgs.curl
            pkgs.systemd
          ];
          checkPhase = ''
            runHook preCheck
            ALLEARS_PYTHON=${finalAttrs.passthru.python.interpreter} make check
            runHook postCheck
          '';

          passthru.python = pkgs.python3.withPackages (ps: [
            ps.cryptography
            ps.argon2-cffi
          ]);

          meta = {
            description = "Privacy-first email server: end-to-end encrypted storage, hashed addresses";
            license = lib.licenses.agpl3Plus;
            platforms = lib.platforms.linux;
          };
        });
      });

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

      checks = forAllSystems (pkgs: {
        build = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      });
    };
}
