# The appliance: a small NixOS system that runs every allears role with the
# module's defaults. At its first boot allears-init.service makes the Server
# Master Key, every role's credential (encrypted for this machine), Account's
# state with the master admin and a self-signed certificate, and says on the
# console where the keys are. The flake builds it as
# nixosConfigurations.appliance and as a qcow2 disk image
# (packages.x86_64-linux.vm-image, from system.build.images.qemu); the NixOS VM
# test vm-tests/nixos/mail.nix boots it as its server.
#
# Used together with the module (the flake's nixosModules.default). For a
# real deployment set at least services.allears.domain and TLS
# (services.allears.tls.enableACME), and replace the console autologin.
{
  lib,
  modulesPath,
  ...
}:
{
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];

  services.allears = {
    enable = true;
    domain = lib.mkDefault "allears.test";
    openFirewall = lib.mkDefault true;
    initialize.enable = lib.mkDefault true;
  };

  # Enquiry asks the resolver in /etc/resolv.conf, and its unit allows egress
  # to localhost only: systemd-resolved on 127.0.0.53 forwards for it.
  services.resolved.enable = lib.mkDefault true;

  networking.hostName = lib.mkDefault "allears";
  networking.firewall.enable = true;

  # The console is the admin's way in on a fresh appliance (whoever has the
  # VM's console has the machine anyway); no password exists, and no SSH.
  services.getty.autologinUser = lib.mkDefault "root";
  services.getty.helpLine = ''

    allears appliance. The first boot wrote the Server Master Key and the
    master admin's User Master Key to /root/allears-initial-secrets.txt:
    copy them offline, then delete the file. Status: systemctl status allears.target
  '';

  # A disk image booted by GRUB from /dev/vda; the image builder
  # (system.build.images.qemu) sets the same file system with a higher
  # priority, and the partition grows to the disk at boot.
  boot.loader.grub.device = lib.mkDefault "/dev/vda";
  fileSystems."/" = lib.mkDefault {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
    autoResize = true;
  };
  boot.growPartition = true;
  # Messages (and the first boot's) on the serial console too: the last
  # console= is /dev/console.
  boot.kernelParams = [
    "console=tty0"
    "console=ttyS0,115200"
  ];

  documentation.nixos.enable = false;
  system.stateVersion = "25.11";
}
