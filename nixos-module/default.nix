# NixOS module for allears (first version: options and the settings file).
#
# The systemd units, groups, credentials and firewall rules arrive with the
# units issue; see docs/ and /work/shared/design.md section 8.
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
  cfg = config.services.allears;
  settingsFormat = pkgs.formats.json { };

  # The domain option is authoritative: it overrides a `domain` in settings.
  configFile = settingsFormat.generate "allears-config.json" (
    cfg.settings // { inherit (cfg) domain; }
  );
in
{
  options.services.allears = {
    enable = lib.mkEnableOption "the allears privacy-first email server";

    package = lib.mkPackageOption pkgs "allears" { };

    domain = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "mail.example.org";
      description = ''
        The mail domain this server handles. Required when
        {option}`services.allears.enable` is set. It is written to the
        configuration file as `domain`, over any `domain` in
        {option}`services.allears.settings`.
      '';
    };

    settings = lib.mkOption {
      type = settingsFormat.type;
      default = { };
      description = ''
        Configuration for allears, written as JSON to
        {file}`/etc/allears/config.json` (the daemons' default `--config`).
        The top level holds shared keys such as `domain`; each role reads
        its own object (`mta`, `storage`, ...), and a daemon refuses keys in
        its object that it does not know.
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.domain != null && cfg.domain != "";
        message = "services.allears.domain must be set when services.allears.enable is true.";
      }
    ];

    environment.systemPackages = [ cfg.package ];

    environment.etc."allears/config.json".source = configFile;

    # systemd units (allears.target, the role services and sockets), the
    # allears-<role> groups, credentials and firewall: added by the units issue.
  };
}
