# Small stand-ins for the NixOS options the allears module sets, with the same
# names and the same merging behaviour where it matters (lists concatenate,
# units are attribute sets of submodules), so that lib.evalModules can run the
# module without nixpkgs' NixOS tree. Used by eval.nix and options-doc.nix.
{ lib }:
let
  inherit (lib) mkOption types;
  strList = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  # A unit setting as NixOS has it: a scalar, or a list that concatenates.
  unitOption = types.either (types.listOf (types.oneOf [
    types.str
    types.int
    types.bool
  ])) (types.oneOf [
    types.str
    types.int
    types.bool
  ]);
  unit = types.submodule {
    options = {
      enable = mkOption {
        type = types.bool;
        default = true;
      };
      description = mkOption {
        type = types.str;
        default = "";
      };
      wants = strList;
      after = strList;
      before = strList;
      requires = strList;
      wantedBy = strList;
      requiredBy = strList;
      restartTriggers = mkOption {
        type = types.listOf types.unspecified;
        default = [ ];
      };
      # As nixos/lib/systemd-unit-options.nix declares it.
      overrideStrategy = mkOption {
        type = types.enum [
          "asDropinIfExists"
          "asDropin"
        ];
        default = "asDropinIfExists";
      };
      path = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      unitConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      serviceConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
    };
  };
  units = mkOption {
    type = types.attrsOf unit;
    default = { };
  };
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = strList;
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    environment.etc = mkOption {
      type = types.attrsOf (types.submodule { options.source = mkOption { type = types.path; }; });
      default = { };
    };
    systemd.packages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    systemd.tmpfiles.packages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    systemd.tmpfiles.settings = mkOption {
      type = types.attrsOf (types.attrsOf (types.attrsOf (types.attrsOf types.str)));
      default = { };
    };
    systemd.services = units;
    systemd.sockets = units;
    systemd.targets = units;
    users.groups = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.gid = mkOption {
            type = types.nullOr types.int;
            default = null;
          };
        }
      );
      default = { };
    };
    networking.firewall.allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
    security.acme.certs = mkOption {
      default = { };
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              directory = mkOption {
                type = types.str;
                readOnly = true;
                default = "/var/lib/acme/${name}";
              };
              reloadServices = strList;
              extraDomainNames = strList;
              listenHTTP = mkOption {
                type = types.nullOr types.str;
                default = null;
              };
              dnsProvider = mkOption {
                type = types.nullOr types.str;
                default = null;
              };
            };
          }
        )
      );
    };
  };
}
