# NixOS VM test (pkgs.testers.runNixOSTest; the flake's checks.<system>.vm-mail):
# the appliance as the server, with a test CA's certificate and a local DNS
# server (unbound) for Enquiry; a client that sends mail over SMTP with
# STARTTLS and reads it with the allears client. The steps are in mail.py.
{ self }:
{ pkgs, ... }:
let
  certs = pkgs.callPackage ./certs.nix { };
  allears = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
in
{
  name = "allears-mail";

  nodes.server =
    { lib, nodes, ... }:
    {
      imports = [
        self.nixosModules.default
        self.nixosModules.appliance
      ];
      # The appliance's mkDefault hostName and the test framework's node
      # name (also mkDefault) would conflict.
      networking.hostName = lib.mkForce "server";
      services.allears = {
        domain = "example.test";
        hostName = "mail.example.test";
        tls.certificateFile = "${certs}/fullchain.pem";
        tls.keyFile = "${certs}/server.key";
        settings.enquiry.resolvers = [ "127.0.0.1:53" ];
      };

      # The sender's domain, answered by a local unbound (Enquiry's unit
      # allows egress to localhost only); everything else under test. is
      # NXDOMAIN at once.
      services.resolved.enable = false;
      services.unbound = {
        enable = true;
        enableRootTrustAnchor = false;
        settings.server = {
          interface = [ "127.0.0.1" ];
          access-control = [ "127.0.0.0/8 allow" ];
          local-zone = [ "\"test.\" static" ];
          local-data = [
            "'client.test. IN A ${nodes.client.networking.primaryIPAddress}'"
            "'client.test. IN TXT \"v=spf1 ip4:${nodes.client.networking.primaryIPAddress} -all\"'"
            "'mail.example.test. IN A ${nodes.server.networking.primaryIPAddress}'"
            "'example.test. IN MX 10 mail.example.test.'"
          ];
        };
      };

      # The test VM boots without a partition table or boot loader.
      boot.growPartition = lib.mkForce false;
      virtualisation.memorySize = 2048;
      virtualisation.cores = 2;
    };

  nodes.client =
    { nodes, ... }:
    {
      environment.systemPackages = [
        allears
        pkgs.curl
        pkgs.python3
      ];
      networking.hosts.${nodes.server.networking.primaryIPAddress} = [
        "mail.example.test"
        "mta-sts.example.test"
      ];
      # The allears client trusts the system store by default.
      security.pki.certificateFiles = [ "${certs}/ca.pem" ];
    };

  testScript = ''
    CA = "${certs}/ca.pem"
    SMTP_SEND = "${./smtp_send.py}"
  ''
  + builtins.readFile ./mail.py;
}
