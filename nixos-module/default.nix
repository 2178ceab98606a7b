# NixOS module for allears: services.allears.
#
# The units are the ones in units/, installed by the package (`make install`
# puts them in $out/lib/systemd/system with ExecStart= pointing into the
# store) and taken as they are through systemd.packages; the tmpfiles.d file
# comes the same way. What NixOS adds is drop-ins only: the credential paths
# the options choose, ordering after ACME certificates, restart triggers on
# the configuration file, and masking of the roles that are switched off. The
# static socket groups are users.groups. vm-tests/nixos/eval-module.sh checks
# this wiring against units/ (the drift test), so the two cannot drift apart.
#
# services.allears.package defaults to pkgs.allears, which nixpkgs does not
# have: the flake's nixosModules.default imports this file and sets the
# option (with lib.mkDefault) to the flake's own package. Used without the
# flake, set services.allears.package or provide pkgs.allears by an overlay.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkOption
    mkEnableOption
    mkPackageOption
    mkIf
    mkMerge
    mkDefault
    types
    literalExpression
    ;

  cfg = config.services.allears;
  settingsFormat = pkgs.formats.json { };

  roles = import ./roles.nix;
  roleNames = builtins.attrNames roles;
  enabled = role: !roles.${role}.optional || cfg.${role}.enable;
  enabledRoles = builtins.filter enabled roleNames;
  disabledRoles = builtins.filter (r: !enabled r) roleNames;
  channelRoles = builtins.filter (r: roles.${r}.channel) roleNames;
  keyRoles = builtins.filter (r: builtins.any (c: c.kind == "keys") roles.${r}.credentials) roleNames;
  tlsRoles = builtins.filter (r: builtins.any (c: c.kind == "tls.key") roles.${r}.credentials) roleNames;
  enabledTlsRoles = builtins.filter enabled tlsRoles;
  service = role: "allears-${role}.service";
  credentialOf = role: kind: builtins.head (builtins.filter (c: c.kind == kind) roles.${role}.credentials);

  # null values of the typed options mean "the daemon's default" and are left
  # out of the file, and so are sections left empty.
  configFile = settingsFormat.generate "allears-config.json" (
    lib.filterAttrs (_: v: v != { }) (lib.filterAttrsRecursive (_: v: v != null) cfg.settings)
  );

  # The file of a secret credential in the credentials directory.
  secretFile = file: "${cfg.credentialsDirectory}/${file}${lib.optionalString cfg.encryptedCredentials ".cred"}";

  acmeHost =
    if cfg.tls.useACMEHost != null then
      cfg.tls.useACMEHost
    else if cfg.tls.enableACME then
      cfg.hostName
    else
      null;
  acmeDir = if acmeHost != null then config.security.acme.certs.${acmeHost}.directory else null;

  # Where one credential of a role comes from: { path; encrypted; }.
  credentialSource =
    role: c:
    if c.kind == "keys" then
      {
        path = cfg.keyFiles.${role};
        encrypted = cfg.encryptedCredentials;
      }
    else if c.kind == "tls.key" && acmeDir != null then
      {
        path = "${acmeDir}/key.pem";
        encrypted = false;
      }
    else if c.kind == "tls.crt" && acmeDir != null then
      {
        path = "${acmeDir}/fullchain.pem";
        encrypted = false;
      }
    else if c.kind == "tls.key" && cfg.tls.keyFile != null then
      {
        path = toString cfg.tls.keyFile;
        encrypted = false;
      }
    else if c.kind == "tls.crt" && cfg.tls.certificateFile != null then
      {
        path = toString cfg.tls.certificateFile;
        encrypted = false;
      }
    else if c.kind == "page" then
      {
        path = if cfg.web.pageFile != null then toString cfg.web.pageFile else "${webPage}";
        encrypted = false;
      }
    else if c.secret then
      {
        path = secretFile c.file;
        encrypted = cfg.encryptedCredentials;
      }
    else
      {
        path = "${cfg.credentialsDirectory}/${c.file}";
        encrypted = false;
      };

  # The credential lines of a role's drop-in. systemd keeps one table of
  # credentials per unit, keyed by name: a later LoadCredential= or
  # LoadCredentialEncrypted= with the same name replaces the unit file's
  # entry (path and whether it is encrypted), so the drop-in names each
  # credential again instead of resetting the list. (An empty assignment of
  # either setting would clear both kinds, and NixOS writes LoadCredential=
  # before LoadCredentialEncrypted=.)
  credentialLines =
    role: encrypted:
    map (c: "${c.id}:${(credentialSource role c).path}") (
      builtins.filter (c: (credentialSource role c).encrypted == encrypted) roles.${role}.credentials
    );

  roleServiceConfig =
    role:
    lib.filterAttrs (_: v: v != [ ]) {
      LoadCredential = credentialLines role false;
      LoadCredentialEncrypted = credentialLines role true;
    };

  # The web role's page, built from web.html by `allears-admin web` (it checks
  # the page and precomputes its headers and compressed variants). Public.
  webPage = pkgs.runCommand "allears-web.page" { nativeBuildInputs = [ pkgs.brotli ]; } ''
    ${cfg.package}/bin/allears-admin web --out "$out" ${cfg.web.html}
  '';

  acmeUnits = lib.optional (acmeHost != null) "acme-${acmeHost}.service";

  initScript =
    let
      putSecret = ''
        # put_secret NAME SOURCE DEST: one secret credential, as the units load it.
        put_secret() {
          ${
            if cfg.encryptedCredentials then
              ''systemd-creds encrypt --name="$1" "$2" "$3"''
            else
              ''install -m 0600 "$2" "$3"''
          }
        }
      '';
      keyLines = lib.concatMapStrings (
        role: "put_secret keys \"$work/keys/${role}.keys\" ${lib.escapeShellArg cfg.keyFiles.${role}}\n"
      ) keyRoles;
      tlsPath = role: kind: (credentialSource role (credentialOf role kind)).path;
      certLines = lib.concatMapStrings (role: ''
        install -m 0644 "$work/tls.crt" ${lib.escapeShellArg (tlsPath role "tls.crt")}
        put_secret tls.key "$work/tls.key" ${lib.escapeShellArg (tlsPath role "tls.key")}
      '') tlsRoles;
      selfSigned =
        cfg.initialize.selfSignedCertificate
        && acmeHost == null
        && cfg.tls.certificateFile == null
        && cfg.tls.keyFile == null;
      names = [ cfg.hostName ] ++ lib.optional (cfg.domain != null) "mta-sts.${cfg.domain}";
    in
    ''
      set -euo pipefail
      umask 077
      state=/var/lib/private/allears/account
      if [ -d "$state" ] && [ -n "$(ls -A "$state")" ]; then
        echo "allears-init: Account's state exists but its credential does not: not making a new installation over it." >&2
        echo "allears-init: remake the credentials from the Server Master Key (allears-admin credentials, docs/OPERATIONS.md section 6)." >&2
        exit 1
      fi
      work=$(mktemp -d /run/allears-init.XXXXXX)
      trap 'rm -rf "$work"' EXIT
      ${putSecret}
      install -d -m 0700 ${lib.escapeShellArg cfg.credentialsDirectory}
      # Plain key bundles on the tmpfs: put_secret below encrypts each one.
      allears-admin init --encrypt no --credentials "$work/keys" --account-state "$work/account" >"$work/secrets"
      ${keyLines}
      ${lib.optionalString selfSigned ''
        # No certificate configured: a self-signed one, so that the TLS roles
        # start; replace it (services.allears.tls) before real use.
        if [ ! -e ${lib.escapeShellArg (tlsPath "api" "tls.key")} ]; then
          openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
            -subj ${lib.escapeShellArg "/CN=${cfg.hostName}"} \
            -addext ${lib.escapeShellArg "subjectAltName=${lib.concatMapStringsSep "," (n: "DNS:${n}") names}"} \
            -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
          ${certLines}
          echo "allears-init: made a self-signed TLS certificate for ${cfg.hostName}; clients need it as their --ca: ${cfg.credentialsDirectory}/api.tls.crt"
        fi
      ''}
      install -d -m 0700 /var/lib/private /var/lib/private/allears
      install -d -m 0700 "$state"
      cp -a "$work/account/." "$state/"
      install -D -m 0600 "$work/secrets" ${lib.escapeShellArg cfg.initialize.secretsFile}
      echo "allears-init: new installation made. The Server Master Key and the master admin's User Master Key are in ${cfg.initialize.secretsFile} (root only): copy both somewhere safe and offline, then delete that file."
    '';
in
{
  options.services.allears = {
    enable = mkEnableOption "the allears privacy-first email server";

    package = mkPackageOption pkgs "allears" { };

    domain = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "example.org";
      description = ''
        The mail domain this server handles (the part after the `@` of its
        users' addresses). Required when {option}`services.allears.enable`
        is set. It is written to the configuration file as the top-level key
        `domain` ({option}`services.allears.settings.domain`).
      '';
    };

    hostName = mkOption {
      type = types.str;
      default = if cfg.domain != null then cfg.domain else "localhost";
      defaultText = literalExpression "config.services.allears.domain";
      example = "mail.example.org";
      description = ''
        The host name clients and other mail servers reach this server by
        (its MX name). Used for the ACME certificate with
        {option}`services.allears.tls.enableACME` and for the self-signed
        certificate of {option}`services.allears.initialize.enable`.
      '';
    };

    settings = mkOption {
      default = { };
      description = ''
        Configuration for allears, written as JSON to
        {file}`/etc/allears/config.json` (the daemons' default `--config`).
        The top level holds shared keys such as `domain`; each role reads its
        own object (`account`, `storage`, `api`, `mta`, `deliver`, `enquiry`,
        `web`), and a daemon refuses keys in its object that it does not know
        (exit status 78). The keys are listed in each daemon's man page and in
        docs/PROTOCOL.md. Options set to `null` are left out, so the daemon's
        default applies. A change restarts the roles.
      '';
      example = literalExpression ''
        {
          api.max_connections = 512;
          enquiry.resolvers = [ "127.0.0.53" ];
          mta.max_message_bytes = 52428800;
        }
      '';
      type = types.submodule {
        freeformType = settingsFormat.type;
        options = {
          domain = mkOption {
            type = types.nullOr types.str;
            readOnly = true;
            default = cfg.domain;
            defaultText = literalExpression "config.services.allears.domain";
            description = "The mail domain; set {option}`services.allears.domain` instead.";
          };
          account = mkOption {
            default = { };
            description = "Account's section.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.argon2_threads = mkOption {
                type = types.nullOr (types.ints.between 1 64);
                default = null;
                example = 4;
                description = ''
                  Worker threads for Argon2id address hashes (the daemon's
                  default: 2). Each hash holds 32 MiB; raise the unit's
                  `MemoryMax=` with it.
                '';
              };
            };
          };
          storage = mkOption {
            default = { };
            description = "Storage's section.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.seal_threads = mkOption {
                type = types.nullOr (types.ints.between 1 16);
                default = null;
                example = 4;
                description = "Threads that seal Envelopes (the daemon's default: 2).";
              };
            };
          };
          api = mkOption {
            default = { };
            description = "The API's section.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.max_connections = mkOption {
                type = types.nullOr (types.ints.between 1 65536);
                default = null;
                example = 1024;
                description = ''
                  Most HTTPS connections at once (the daemon's default: 256).
                  Raise the unit's `LimitNOFILE=` and `MemoryMax=` with it.
                '';
              };
            };
          };
          mta = mkOption {
            default = { };
            description = "The MTA's section.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options = {
                max_message_bytes = mkOption {
                  type = types.nullOr types.ints.positive;
                  default = null;
                  example = 52428800;
                  description = "The largest message accepted, in bytes (the daemon's default: 25 MiB).";
                };
                max_sessions = mkOption {
                  type = types.nullOr types.ints.positive;
                  default = null;
                  example = 2000;
                  description = "Most SMTP sessions at once (the daemon's default: 1000).";
                };
              };
            };
          };
          web = mkOption {
            default = { };
            description = "The web role's section.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.mx = mkOption {
                type = types.nullOr (types.listOf types.str);
                default = [ cfg.hostName ];
                defaultText = literalExpression "[ config.services.allears.hostName ]";
                description = ''
                  The MX host names (patterns such as `*.example.org` allowed)
                  the MTA-STS policy at
                  `https://mta-sts.<domain>/.well-known/mta-sts.txt` lists.
                '';
              };
            };
          };
          enquiry = mkOption {
            default = { };
            description = "Enquiry's section.";
            type = types.submodule {
              freeformType = settingsFormat.type;
              options.resolvers = mkOption {
                type = types.nullOr (types.listOf types.str);
                default = null;
                example = [
                  "127.0.0.53"
                  "[::1]:53"
                ];
                description = ''
                  The DNS resolvers Enquiry asks, as `IPv4`, `IPv4:port` or
                  `[IPv6]:port` (the daemon's default: the `nameserver` lines
                  of {file}`/etc/resolv.conf`). Its unit allows egress to
                  localhost only: for a resolver elsewhere, add
                  `IPAddressAllow=` to
                  {option}`systemd.services.allears-enquiry.serviceConfig`.
                '';
              };
            };
          };
        };
      };
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Whether to open the TCP ports of the enabled roles in the firewall:
        25 (SMTP), 302 (the API), 443 (the web role), and 80 when
        {option}`services.allears.tls.enableACME` answers the ACME HTTP-01
        challenge itself.
      '';
    };

    credentialsDirectory = mkOption {
      type = types.str;
      default = "/etc/allears/credentials";
      description = ''
        Where the roles' credentials are (root only, mode 0700): each role's
        key bundle `<role>.keys`, and for the TLS roles (mta, api, web)
        `<role>.tls.key` and `<role>.tls.crt` unless
        {option}`services.allears.tls` names other files. Secret files carry
        `.cred` when {option}`services.allears.encryptedCredentials` is set.
      '';
    };

    encryptedCredentials = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Whether the secret credentials (key bundles, TLS private keys) are
        encrypted for this host with {command}`systemd-creds encrypt`
        (`<name>.cred`, loaded with `LoadCredentialEncrypted=`, as the units
        in units/ do) or plain files (loaded with `LoadCredential=`).
      '';
    };

    keyFiles = lib.genAttrs keyRoles (
      role:
      mkOption {
        type = types.str;
        default = secretFile (credentialOf role "keys").file;
        defaultText = literalExpression ''"''${config.services.allears.credentialsDirectory}/${role}.keys.cred"'';
        description = ''
          The ${role} role's key bundle (from {command}`allears-admin
          credentials`), loaded as its credential `keys`; encrypted with
          {command}`systemd-creds` when
          {option}`services.allears.encryptedCredentials` is set. Never a
          file in the Nix store.
        '';
      }
    );

    tls = {
      certificateFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = "/var/lib/certs/fullchain.pem";
        description = ''
          The certificate chain (PEM, leaf first) for SMTP STARTTLS, the API
          and the web role. With `null` (and no ACME) each TLS role loads
          `<role>.tls.crt` from {option}`services.allears.credentialsDirectory`.
        '';
      };
      keyFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = "/var/lib/certs/key.pem";
        description = ''
          The private key (PEM) of {option}`services.allears.tls.certificateFile`,
          loaded in plain with `LoadCredential=` (PID 1 reads it as root). Not
          a file in the Nix store. With `null` (and no ACME) each TLS role
          loads `<role>.tls.key` from the credentials directory.
        '';
      };
      enableACME = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Whether to get a certificate for {option}`services.allears.hostName`
          (and `mta-sts.<domain>` when the web role is on) from Let's Encrypt
          through {option}`security.acme`, answering the HTTP-01 challenge on
          port 80 with lego's own server (for DNS-01 instead, set
          `security.acme.certs.<hostName>.dnsProvider` and `listenHTTP = null`).
          The roles load it as credentials and are restarted when it is
          renewed.
        '';
      };
      useACMEHost = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "example.org";
        description = ''
          Use the certificate of an existing `security.acme.certs.<name>`
          instead of getting one. The roles load it as credentials, start
          after it, and are restarted when it is renewed.
        '';
      };
    };

    web = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Whether to run the web role (HTTPS on port 443: the server's page
          and the MTA-STS policy). Off, its units are masked.
        '';
      };
      html = mkOption {
        type = types.path;
        default = "${cfg.package}/share/allears/web/index.html";
        defaultText = literalExpression ''"''${config.services.allears.package}/share/allears/web/index.html"'';
        example = literalExpression "./my-page.html";
        description = ''
          The one HTML page the web role serves. It is checked and built into
          the page file by {command}`allears-admin web` when the system is
          built (external scripts and styles need Subresource Integrity; see
          allears-admin(8)). The default is the page that comes with allears:
          what this server is and how to get the client.
        '';
      };
      pageFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        description = ''
          A page file already built with {command}`allears-admin web`, loaded
          as the web role's credential `web` instead of the one built from
          {option}`services.allears.web.html`.
        '';
      };
    };

    initialize = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Whether to make a new installation at the first boot (unit
          `allears-init.service`, which runs only while the account role's key
          credential does not exist): {command}`allears-admin init` makes the
          Server Master Key, every role's key credential (encrypted for this
          host) and Account's state with the master admin, and, without a
          configured certificate, a self-signed one. The Server Master Key and
          the admin's User Master Key go to
          {option}`services.allears.initialize.secretsFile`; the journal and
          the console only say where.
        '';
      };
      secretsFile = mkOption {
        type = types.str;
        default = "/root/allears-initial-secrets.txt";
        description = ''
          Where the first boot writes the Server Master Key and the master
          admin's User Master Key (mode 0600, root). Copy them offline and
          delete the file.
        '';
      };
      selfSignedCertificate = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Whether the first boot makes a self-signed certificate for the TLS
          roles when no certificate is configured (no ACME and no
          {option}`services.allears.tls.certificateFile`).
        '';
      };
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = cfg.domain != null && cfg.domain != "";
          message = "services.allears.domain must be set when services.allears.enable is true.";
        }
        {
          assertion = (cfg.tls.certificateFile == null) == (cfg.tls.keyFile == null);
          message = "services.allears.tls.certificateFile and services.allears.tls.keyFile go together.";
        }
        {
          assertion = !(cfg.tls.enableACME && cfg.tls.useACMEHost != null);
          message = "services.allears.tls: set enableACME or useACMEHost, not both.";
        }
        {
          assertion = acmeHost == null || cfg.tls.certificateFile == null;
          message = "services.allears.tls: the certificate comes either from ACME or from certificateFile.";
        }
      ];

      environment.systemPackages = [ cfg.package ];
      environment.etc."allears/config.json".source = configFile;

      # The units, the tmpfiles.d file and the socket groups, as in units/.
      systemd.packages = [ cfg.package ];
      systemd.tmpfiles.packages = [ cfg.package ];
      systemd.tmpfiles.settings."10-allears" = mkIf (cfg.credentialsDirectory != "/etc/allears/credentials") {
        ${cfg.credentialsDirectory}.d = {
          mode = "0700";
          user = "root";
          group = "root";
        };
      };
      users.groups = lib.genAttrs (map (r: "allears-${r}") channelRoles) (_: { });

      # [Install] of the package's allears.target, which NixOS does not read.
      systemd.targets.allears.wantedBy = [ "multi-user.target" ];

      systemd.services = lib.genAttrs (map (r: "allears-${r}") enabledRoles) (
        name:
        let
          role = lib.removePrefix "allears-" name;
          usesTls = builtins.elem role tlsRoles;
        in
        {
          # The unit comes from the package: only ever write a drop-in.
          overrideStrategy = "asDropin";
          restartTriggers = [ configFile ];
          wants = lib.optionals usesTls acmeUnits;
          after = lib.optionals usesTls acmeUnits;
          serviceConfig = roleServiceConfig role;
        }
      )
      // lib.genAttrs (map (r: "allears-${r}") disabledRoles) (_: {
        enable = false;
      });
      systemd.sockets = lib.genAttrs (map (r: "allears-${r}") disabledRoles) (_: {
        enable = false;
      });

      networking.firewall.allowedTCPPorts = mkIf cfg.openFirewall (
        builtins.filter (p: p != null) (map (r: roles.${r}.tcp) enabledRoles)
        ++ lib.optional (cfg.tls.enableACME && config.security.acme.certs.${cfg.hostName}.listenHTTP != null) 80
      );
    }

    {
      # Restart the TLS roles when the certificate is renewed (they read it
      # only at start). optionalAttrs, not mkIf: the name must not be forced
      # when there is no ACME host.
      security.acme.certs = lib.optionalAttrs (acmeHost != null) {
        ${acmeHost}.reloadServices = map service enabledTlsRoles;
      };
    }

    (mkIf cfg.tls.enableACME {
      security.acme.certs.${cfg.hostName} = {
        listenHTTP = mkDefault ":80";
        extraDomainNames = lib.optional (cfg.web.enable && cfg.domain != null) "mta-sts.${cfg.domain}";
      };
    })

    (mkIf cfg.initialize.enable {
      systemd.services.allears-init = {
        description = "allears first-boot initialisation (keys, credentials, the master admin)";
        wantedBy = [ "allears.target" ];
        requiredBy = map service enabledRoles;
        before = [ "allears.target" ] ++ map service enabledRoles;
        after = [
          "systemd-tmpfiles-setup.service"
          "local-fs.target"
        ];
        unitConfig.ConditionPathExists = "!${cfg.keyFiles.account}";
        path = [
          cfg.package
          pkgs.openssl
        ];
        serviceConfig = {
          Type = "oneshot";
          RemainAfterExit = true;
          UMask = "0077";
          StandardOutput = "journal+console";
          PrivateTmp = true;
        };
        script = initScript;
      };
    })
  ]);
}
