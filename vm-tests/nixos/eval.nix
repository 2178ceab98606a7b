# The evaluation tests of the NixOS module and the flake, run by
# eval-module.sh with nixpkgs' own lib (no Nix store, nothing built):
#  - the module (nixos-module/) under lib.evalModules with stub declarations
#    of the NixOS options it sets (stubs.nix), asserting on the unit settings
#    it produces;
#  - the drift test: the module's role table and unit wiring against the unit
#    files in units/ and the groups in units/sysusers.d/allears.conf;
#  - the flake's outputs over a stub nixpkgs.
# Evaluates to a list of "PASS name" / "FAIL name" strings; with
# `attr = "initScript"`, to the first-boot script instead (for bash -n).
{
  top,
  libPath,
  attr ? "cases",
}:
let
  lib = import libPath;
  inherit (builtins)
    attrNames
    all
    any
    elem
    filter
    head
    map
    readDir
    readFile
    ;

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
      openssl = stubPkg "openssl";
      # The out path says whether the script builds a web page from the
      # package's default page with allears-admin web.
      runCommand =
        name: _: script:
        stubPkg name
        // {
          testScript = script;
          outPath =
            (stubPkg name).outPath
            + lib.optionalString (lib.hasInfix "-allears-from-pkgs/bin/allears-admin web --out \"$out\" /nix/store/00000000000000000000000000000000-allears-from-pkgs/share/allears/web/index.html" script) "-from-default-html";
        };
    }
    // extra;
  pkgs = pkgsWith { allears = stubPkg "allears-from-pkgs"; };

  nixosStub = import ./stubs.nix { inherit lib; };
  module = import (top + "/nixos-module");
  roles = import (top + "/nixos-module/roles.nix");

  evalWith =
    p: modules:
    lib.evalModules {
      modules = [
        nixosStub
        { _module.args.pkgs = p; }
      ]
      ++ modules;
    };
  eval = evalWith pkgs;
  withAllears =
    extra:
    (eval [
      module
      {
        services.allears = {
          enable = true;
          domain = "example.org";
        };
      }
      extra
    ]).config;

  # --- units/ as data -------------------------------------------------------
  unitDir = top + "/units";
  unitFiles = attrNames (lib.filterAttrs (_: t: t == "regular") (readDir unitDir));
  # Key=Value lines (sections do not matter: no key here appears in two).
  parseUnit =
    file:
    map
      (
        l:
        let
          m = builtins.match "([A-Za-z]+)=(.*)" l;
        in
        {
          key = builtins.elemAt m 0;
          value = builtins.elemAt m 1;
        }
      )
      (
        filter (l: builtins.match "[A-Za-z]+=.*" l != null) (
          lib.splitString "\n" (readFile (unitDir + "/${file}"))
        )
      );
  values = file: key: map (e: e.value) (filter (e: e.key == key) (parseUnit file));
  words = file: key: lib.concatMap (v: filter (w: w != "") (lib.splitString " " v)) (values file key);
  roleOfService = f: builtins.match "allears-(.*)\\.service" f;
  unitRoles = lib.sort lib.lessThan (
    map head (filter (m: m != null) (map roleOfService unitFiles))
  );
  hasUnits = role: elem "allears-${role}.service" unitFiles && elem "allears-${role}.socket" unitFiles;
  rolesWithUnits = filter hasUnits (attrNames roles);
  sysusersGroups = map (l: builtins.elemAt (builtins.match "g[[:space:]]+([^[:space:]]+).*" l) 0) (
    filter (l: builtins.match "g[[:space:]]+.*" l != null) (
      lib.splitString "\n" (readFile (unitDir + "/sysusers.d/allears.conf"))
    )
  );
  sorted = lib.sort lib.lessThan;

  # --- evaluations ----------------------------------------------------------
  disabled = (eval [ module ]).config;
  defaults = withAllears { };
  svc = c: role: c.systemd.services."allears-${role}";
  cred = c: role: key: (svc c role).serviceConfig.${key} or [ ];
  etcJSON = c: builtins.fromJSON c.environment.etc."allears/config.json".source.testJSON;
  failsAssertion = c: any (a: !a.assertion) c.assertions;
  holds = c: all (a: a.assertion) c.assertions;
  throws = v: !(builtins.tryEval (builtins.deepSeq v true)).success;

  plain = withAllears { services.allears.encryptedCredentials = false; };
  otherDir = withAllears { services.allears.credentialsDirectory = "/var/lib/allears-creds"; };
  tlsFiles = withAllears {
    services.allears.tls.certificateFile = "/run/keys/fullchain.pem";
    services.allears.tls.keyFile = "/run/keys/key.pem";
  };
  acme = withAllears {
    services.allears.hostName = "mail.example.org";
    services.allears.tls.enableACME = true;
    services.allears.openFirewall = true;
  };
  acmeHost = withAllears {
    services.allears.tls.useACMEHost = "example.org";
    security.acme.certs."example.org".listenHTTP = ":80";
  };
  firewall = withAllears { services.allears.openFirewall = true; };
  noWeb = withAllears {
    services.allears.openFirewall = true;
    services.allears.web.enable = false;
    services.allears.tls.useACMEHost = "example.org";
  };
  init = withAllears { services.allears.initialize.enable = true; };
  initPlain = withAllears {
    services.allears.initialize.enable = true;
    services.allears.encryptedCredentials = false;
  };
  initService = c: c.systemd.services.allears-init;

  # The credential lines the unit file has for a role, by directive.
  unitCred = role: key: values "allears-${role}.service" key;
  isPage = line: lib.hasPrefix "web:" line;

  # --- the flake over a stub nixpkgs ------------------------------------------
  flake = import (top + "/flake.nix");
  applianceStub = {
    config.system.build.images.qemu = stubPkg "appliance-image" // {
      passthru.filePath = "nixos.qcow2";
    };
  };
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
        modules = names (
          f (
            lib.genAttrs [
              "cryptography"
              "argon2-cffi"
              "dkimpy"
              "pynacl"
              "dnspython"
              "websocket-client"
            ] stubPkg
          )
        );
      };
    runCommand = name: _: script: stubPkg name // { testScript = script; };
    testers.runNixOSTest = t: stubPkg "vm-test-${(t { pkgs = stubNixpkgs system; }).name}";
    callPackage = f: args: stubPkg "called" // { inherit args; } // { meta.mainProgram = "called"; };
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
    "nix"
    "dnsmasq"
    "swaks"
    "brotli"
    "publicsuffix-list"
  ] stubPkg;
  stubFlakeNixpkgs = {
    lib = lib // {
      nixosSystem = args: applianceStub // { inherit args; };
    };
    legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] stubNixpkgs;
    outPath = "/nix/store/00000000000000000000000000000000-nixpkgs";
  };
  flakeOut = flake.outputs {
    self = flakeOut // {
      packages.x86_64-linux.default = stubPkg "allears-from-flake";
      outPath = top;
    };
    nixpkgs = stubFlakeNixpkgs;
  };
  fullOut = flake.outputs {
    self = fullOut // {
      outPath = top;
    };
    nixpkgs = stubFlakeNixpkgs;
  };
  # pkgs without allears: the package must come from the flake.
  viaFlake =
    extra:
    (evalWith (pkgsWith { }) [
      flakeOut.nixosModules.default
      {
        services.allears.enable = true;
        services.allears.domain = "example.org";
      }
      extra
    ]).config;
  pkg = fullOut.packages.x86_64-linux.default;
  shell = fullOut.devShells.x86_64-linux.default;
  names = map (p: p.name);

  cases = [
    {
      name = "options are declared";
      test = all (
        p: lib.hasAttrByPath (lib.splitString "." p) (eval [ module ]).options.services.allears
      ) [
        "enable"
        "package"
        "domain"
        "hostName"
        "settings"
        "openFirewall"
        "credentialsDirectory"
        "encryptedCredentials"
        "keyFiles.account"
        "keyFiles.api"
        "tls.certificateFile"
        "tls.keyFile"
        "tls.enableACME"
        "tls.useACMEHost"
        "web.enable"
        "web.html"
        "initialize.enable"
        "initialize.secretsFile"
      ];
    }
    {
      name = "disabled by default: nothing is configured";
      test =
        !disabled.services.allears.enable
        && disabled.environment.etc == { }
        && disabled.environment.systemPackages == [ ]
        && disabled.systemd.packages == [ ]
        && disabled.systemd.services == { }
        && disabled.users.groups == { }
        && disabled.assertions == [ ];
    }
    {
      name = "enabled with a domain: all assertions hold";
      test = holds defaults;
    }
    {
      name = "enabled without a domain: an assertion fails";
      test = failsAssertion (eval [
        module
        { services.allears.enable = true; }
      ]).config;
    }
    {
      name = "package defaults to pkgs.allears, installed and its units and tmpfiles taken";
      test =
        names defaults.environment.systemPackages == [ "allears-from-pkgs" ]
        && names defaults.systemd.packages == [ "allears-from-pkgs" ]
        && names defaults.systemd.tmpfiles.packages == [ "allears-from-pkgs" ];
    }
    {
      name = "config.json: the domain, typed keys and freeform keys; nulls and empty sections left out";
      test =
        etcJSON (withAllears {
          services.allears.settings = {
            account.argon2_threads = 4;
            storage.max_users = 100;
            top_level_extra = true;
          };
        }) == {
          domain = "example.org";
          account.argon2_threads = 4;
          storage.max_users = 100;
          top_level_extra = true;
          web.mx = [ "example.org" ];
        };
    }
    {
      name = "config.json: settings.domain is read-only (set services.allears.domain)";
      test = throws (etcJSON (withAllears { services.allears.settings.domain = "other.example"; }));
    }
    {
      name = "settings: typed options check their range, freeform values must be JSON";
      test =
        throws (etcJSON (withAllears { services.allears.settings.account.argon2_threads = 0; }))
        && throws (etcJSON (withAllears { services.allears.settings.storage.seal_threads = 17; }))
        && throws (etcJSON (withAllears { services.allears.settings.f = x: x; }))
        &&
          etcJSON (withAllears { services.allears.settings.enquiry.resolvers = [ "127.0.0.1:53" ]; }) ? enquiry;
    }
    {
      name = "every role's service restarts when config.json changes";
      test = all (
        r:
        map (t: t.name) (svc defaults r).restartTriggers == [ "allears-config.json" ]
      ) (attrNames roles);
    }
    {
      name = "allears.target is wanted by multi-user.target";
      test = defaults.systemd.targets.allears.wantedBy == [ "multi-user.target" ];
    }
    {
      name = "plain credentials: <role>.keys with LoadCredential=, nothing encrypted";
      test =
        cred plain "account" "LoadCredential" == [ "keys:/etc/allears/credentials/account.keys" ]
        && cred plain "account" "LoadCredentialEncrypted" == [ ]
        && elem "tls.key:/etc/allears/credentials/api.tls.key" (cred plain "api" "LoadCredential")
        && plain.services.allears.keyFiles.storage == "/etc/allears/credentials/storage.keys";
    }
    {
      name = "credentialsDirectory moves every credential and gets a 0700 tmpfiles entry";
      test =
        cred otherDir "storage" "LoadCredentialEncrypted" == [ "keys:/var/lib/allears-creds/storage.keys.cred" ]
        && elem "tls.crt:/var/lib/allears-creds/mta.tls.crt" (cred otherDir "mta" "LoadCredential")
        && otherDir.systemd.tmpfiles.settings."10-allears"."/var/lib/allears-creds".d.mode == "0700"
        && !(defaults.systemd.tmpfiles.settings ? "10-allears");
    }
    {
      name = "tls files: every TLS role loads them in plain, keys stay encrypted";
      test =
        all (
          r:
          elem "tls.key:/run/keys/key.pem" (cred tlsFiles r "LoadCredential")
          && elem "tls.crt:/run/keys/fullchain.pem" (cred tlsFiles r "LoadCredential")
          && !(any (lib.hasPrefix "tls.") (cred tlsFiles r "LoadCredentialEncrypted"))
        ) [ "mta" "api" "web" ]
        && cred tlsFiles "api" "LoadCredentialEncrypted" == [ "keys:/etc/allears/credentials/api.keys.cred" ]
        && failsAssertion (withAllears { services.allears.tls.certificateFile = "/run/keys/fullchain.pem"; });
    }
    {
      name = "enableACME: a certificate for hostName and mta-sts, HTTP-01 on port 80, roles restarted on renewal";
      test =
        let
          c = acme.security.acme.certs."mail.example.org";
        in
        holds acme
        && c.listenHTTP == ":80"
        && c.extraDomainNames == [ "mta-sts.example.org" ]
        && sorted c.reloadServices == [
          "allears-api.service"
          "allears-mta.service"
          "allears-web.service"
        ]
        && elem "tls.key:/var/lib/acme/mail.example.org/key.pem" (cred acme "mta" "LoadCredential")
        && elem "tls.crt:/var/lib/acme/mail.example.org/fullchain.pem" (cred acme "web" "LoadCredential")
        && sorted acme.networking.firewall.allowedTCPPorts == [
          25
          80
          302
          443
        ];
    }
    {
      name = "ACME: TLS roles want and start after acme-<host>.service, the others do not";
      test =
        all (r: (svc acme r).after == [ "acme-mail.example.org.service" ] && (svc acme r).wants == (svc acme r).after) [
          "mta"
          "api"
          "web"
        ]
        && all (r: (svc acme r).after == [ ]) [
          "account"
          "storage"
          "deliver"
          "enquiry"
        ];
    }
    {
      name = "useACMEHost: that certificate's files, reloadServices added to it";
      test =
        holds acmeHost
        && acmeHost.security.acme.certs."example.org".reloadServices != [ ]
        && elem "tls.key:/var/lib/acme/example.org/key.pem" (cred acmeHost "api" "LoadCredential")
        && failsAssertion (withAllears {
          services.allears.tls.useACMEHost = "example.org";
          services.allears.tls.enableACME = true;
        })
        && defaults.security.acme.certs == { };
    }
    {
      name = "openFirewall: 25, 302, 443; closed by default";
      test =
        sorted firewall.networking.firewall.allowedTCPPorts == [
          25
          302
          443
        ]
        && defaults.networking.firewall.allowedTCPPorts == [ ];
    }
    {
      name = "web.enable = false: its units masked, port 443 closed, not reloaded on renewal";
      test =
        !(svc noWeb "web").enable
        && !noWeb.systemd.sockets.allears-web.enable
        && (svc noWeb "api").enable
        && sorted noWeb.networking.firewall.allowedTCPPorts == [
          25
          302
        ]
        && !(elem "allears-web.service" noWeb.security.acme.certs."example.org".reloadServices)
        && !(defaults.systemd.sockets ? allears-web);
    }
    {
      name = "web page: built from web.html by allears-admin web and loaded as credential web";
      test =
        elem "web:/nix/store/00000000000000000000000000000000-allears-web.page-from-default-html" (
          cred defaults "web" "LoadCredential"
        )
        && elem "web:/srv/page" (cred (withAllears { services.allears.web.pageFile = "/srv/page"; }) "web" "LoadCredential");
    }
    {
      name = "initialize: a oneshot before every role, only while the account keys are missing";
      test =
        let
          s = initService init;
        in
        s.serviceConfig.Type == "oneshot"
        && s.unitConfig.ConditionPathExists == "!/etc/allears/credentials/account.keys.cred"
        && sorted s.requiredBy == sorted (map (r: "allears-${r}.service") (attrNames roles))
        && elem "allears.target" s.before
        && s.wantedBy == [ "allears.target" ]
        && s.serviceConfig.StandardOutput == "journal+console"
        && !(defaults.systemd.services ? allears-init);
    }
    {
      name = "initialize: every key credential encrypted to its keyFiles path, secrets to a root-only file";
      test =
        let
          script = (initService init).script;
        in
        all (
          r:
          lib.hasInfix "put_secret keys \"$work/keys/${r}.keys\" /etc/allears/credentials/${r}.keys.cred" script
        ) (attrNames init.services.allears.keyFiles)
        && lib.hasInfix "systemd-creds encrypt --name=\"$1\"" script
        && lib.hasInfix "allears-admin init --encrypt no --credentials \"$work/keys\" --account-state \"$work/account\"" script
        && lib.hasInfix "install -D -m 0600 \"$work/secrets\" /root/allears-initial-secrets.txt" script
        && lib.hasInfix "are in /root/allears-initial-secrets.txt" script
        && lib.hasInfix "openssl req -x509" script
        && !(lib.hasInfix "openssl" (initService (withAllears {
          services.allears.initialize.enable = true;
          services.allears.tls.useACMEHost = "example.org";
        })).script);
    }
    {
      name = "initialize with plain credentials: installs files, no systemd-creds";
      test =
        let
          script = (initService initPlain).script;
        in
        lib.hasInfix "install -m 0600 \"$2\" \"$3\"" script
        && !(lib.hasInfix "systemd-creds" script)
        && (initService initPlain).unitConfig.ConditionPathExists == "!/etc/allears/credentials/account.keys";
    }

    # --- drift: the module against units/ -----------------------------------
    {
      name = "drift: the roles of the module are the roles with units in units/";
      test = unitRoles == sorted (attrNames roles);
    }
    {
      name = "drift: every role in units/ has a socket unit and runs /usr/bin/allears-<role>";
      test = all (
        r:
        elem "allears-${r}.socket" unitFiles && values "allears-${r}.service" "ExecStart" == [ "/usr/bin/allears-${r}" ]
      ) unitRoles;
    }
    {
      name = "drift: the Makefile installs every unit file of units/ (and the module takes the package's)";
      test =
        lib.hasInfix "UNIT_FILES  := $(sort $(wildcard units/*.service units/*.socket units/*.target))" (
          readFile (top + "/Makefile")
        )
        && all (f: builtins.match ".*\\.(service|socket|target)" f != null || f == "README") unitFiles
        && elem "allears.target" unitFiles;
    }
    {
      name = "drift: channel and TCP sockets of the role table match the socket units";
      test = all (
        r:
        let
          sock = "allears-${r}.socket";
        in
        (
          if roles.${r}.channel then
            values sock "ListenSequentialPacket" == [ "/run/allears/${r}.sock" ]
            && values sock "SocketGroup" == [ "allears-${r}" ]
          else
            values sock "ListenSequentialPacket" == [ ]
        )
        && (
          if roles.${r}.tcp != null then
            values sock "ListenStream" == [ (toString roles.${r}.tcp) ]
          else
            values sock "ListenStream" == [ ]
        )
      ) rolesWithUnits;
    }
    {
      name = "drift: users.groups are the groups of sysusers.d/allears.conf";
      test = sorted (attrNames defaults.users.groups) == sorted sysusersGroups;
    }
    {
      name = "drift: every SocketGroup= and SupplementaryGroups= of units/ is in users.groups";
      test = all (g: defaults.users.groups ? ${g}) (
        lib.concatMap (f: words f "SocketGroup" ++ words f "SupplementaryGroups") unitFiles
      );
    }
    {
      name = "drift: with default options the module's credential lines are the unit files' own";
      test = all (
        r:
        sorted (cred defaults r "LoadCredentialEncrypted") == sorted (unitCred r "LoadCredentialEncrypted")
        && sorted (filter (l: !isPage l) (cred defaults r "LoadCredential"))
          == sorted (filter (l: !isPage l) (unitCred r "LoadCredential"))
        # The page: the module gives the built page, the unit the credentials directory's.
        && map isPage (filter isPage (cred defaults r "LoadCredential"))
          == map isPage (filter isPage (unitCred r "LoadCredential"))
        && all (l: l == "web:/etc/allears/credentials/web.page") (filter isPage (unitCred r "LoadCredential"))
      ) rolesWithUnits;
    }
    {
      name = "drift: allears.target wants every role's socket and service, WantedBy=multi-user.target";
      test =
        all (r: elem "allears-${r}.socket" (words "allears.target" "Wants") && elem "allears-${r}.service" (words "allears.target" "Wants")) unitRoles
        && values "allears.target" "WantedBy" == defaults.systemd.targets.allears.wantedBy;
    }
    {
      name = "drift: openFirewall opens exactly the ListenStream= ports of units/";
      test =
        sorted firewall.networking.firewall.allowedTCPPorts
        == sorted (map lib.toInt (lib.concatMap (f: values f "ListenStream") unitFiles))
        || !(all hasUnits (attrNames roles));
    }

    # --- the flake ----------------------------------------------------------------
    {
      name = "flake module: package defaults to the flake package";
      test = names (viaFlake { }).environment.systemPackages == [ "allears-from-flake" ];
    }
    {
      name = "flake module: package can still be overridden";
      test =
        names (viaFlake { services.allears.package = stubPkg "allears-custom"; }).environment.systemPackages
        == [ "allears-custom" ];
    }
    {
      name = "flake outputs: packages, apps, devShells, checks, formatter for both systems";
      test = all (o: attrNames flakeOut.${o} == [ "aarch64-linux" "x86_64-linux" ]) [
        "packages"
        "apps"
        "devShells"
        "checks"
        "formatter"
      ];
    }
    {
      name = "flake package: name, inputs, outputs, install dirs";
      test =
        pkg.name == "allears-0.1.0"
        && names pkg.nativeBuildInputs == [ "pkg-config" ]
        && names pkg.buildInputs == [
          "libsodium"
          "wolfssl"
          "systemd"
          "jansson"
        ]
        && pkg.outputs == [
          "out"
          "man"
        ]
        && pkg.makeFlags == [
          "PREFIX=${builtins.placeholder "out"}"
          "UNITDIR=${builtins.placeholder "out"}/lib/systemd/system"
          "SYSUSERSDIR=${builtins.placeholder "out"}/lib/sysusers.d"
          "TMPFILESDIR=${builtins.placeholder "out"}/lib/tmpfiles.d"
        ]
        && lib.hasInfix "data/web/index.html $out/share/allears/web/index.html" pkg.postInstall
        && builtins.pathExists (top + "/data/web/index.html");
    }
    {
      name = "flake package: make check runs with the nix python as ALLEARS_PYTHON";
      test =
        pkg.doCheck
        && pkg.passthru.python.modules == [
          "cryptography"
          "argon2-cffi"
          "dkimpy"
          "pynacl"
          "dnspython"
          "websocket-client"
        ]
        && names pkg.nativeCheckInputs == [
          "python3-env"
          "openssl"
          "curl"
          "systemd"
          "dnsmasq"
          "swaks"
          "brotli"
        ]
        && lib.hasInfix "rm tests/integration/test_units.py" pkg.preCheck
        && lib.hasInfix "public_suffix_list.dat" pkg.postPatch
        && lib.hasInfix "ALLEARS_PYTHON=${pkg.passthru.python.interpreter} make check" pkg.checkPhase;
    }
    {
      name = "flake package: meta is AGPL-3.0-or-later on linux";
      test = pkg.meta.license.spdxId == "AGPL-3.0-or-later" && pkg.meta.platforms == lib.platforms.linux;
    }
    {
      name = "flake: appliance configuration, vm-image, apps";
      test =
        fullOut.packages.x86_64-linux.vm-image.name == "appliance-image"
        && !(fullOut.packages.aarch64-linux ? vm-image)
        && fullOut.nixosConfigurations.appliance.args.modules != [ ]
        && fullOut.apps.x86_64-linux.allears-admin.program == "${pkg}/bin/allears-admin"
        && fullOut.apps.x86_64-linux.allears-admin.type == "app"
        && fullOut.apps.x86_64-linux.vm.type == "app"
        && !(fullOut.apps.aarch64-linux ? vm);
    }
    {
      name = "flake devShell, formatter and checks (package, evaluation, options page, VM test)";
      test =
        pkg.name == (head shell.inputsFrom).name
        && names shell.packages == [
          "clang"
          "gdb"
          "valgrind"
          "python3-env"
        ]
        && shell.ALLEARS_PYTHON == pkg.passthru.python.interpreter
        && fullOut.formatter.aarch64-linux.name == "nixfmt"
        && fullOut.checks.x86_64-linux.build.name == "allears-0.1.0"
        && fullOut.checks.x86_64-linux.vm-mail.name == "vm-test-allears-mail"
        && lib.hasInfix "eval-module.sh" fullOut.checks.x86_64-linux.module-eval.testScript
        && lib.hasInfix "options-doc.sh --check" fullOut.checks.x86_64-linux.options-doc.testScript;
    }
  ];

  run =
    c:
    let
      r = builtins.tryEval (builtins.deepSeq c.test c.test);
    in
    (if r.success && r.value == true then "PASS " else "FAIL ") + c.name;
in
if attr == "initScript" then (initService init).script else if attr == "initPlain" then (initService initPlain).script else map run cases
