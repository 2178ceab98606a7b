# `nix run .#vm`: boots the appliance's qcow2 image (packages.x86_64-linux.vm-image)
# in QEMU on a copy-on-write disk in the current directory
# ($ALLEARS_VM_DISK, default allears-appliance.qcow2, kept between runs),
# with the console on the terminal (Ctrl-a x quits) and the server's ports on
# localhost: 2525 -> 25 (SMTP), 3302 -> 302 (API), 8443 -> 443 (web).
# Extra arguments go to qemu-system-x86_64.
{
  writeShellApplication,
  qemu_kvm,
  image,
}:
writeShellApplication {
  name = "allears-appliance-vm";
  runtimeInputs = [ qemu_kvm ];
  text = ''
    disk=''${ALLEARS_VM_DISK:-allears-appliance.qcow2}
    if [ ! -e "$disk" ]; then
      qemu-img create -q -f qcow2 -F qcow2 -b ${image}/${image.passthru.filePath} "$disk" 8G
      echo "allears-appliance-vm: made $disk (a layer over the image; delete it to start afresh)"
    fi
    accel=tcg
    if [ -w /dev/kvm ]; then accel=kvm; fi
    exec qemu-system-x86_64 -machine "q35,accel=$accel" -m 2048 -smp 2 -nographic \
      -drive "file=$disk,if=virtio,format=qcow2" \
      -nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2525-:25,hostfwd=tcp:127.0.0.1:3302-:302,hostfwd=tcp:127.0.0.1:8443-:443" \
      "$@"
  '';
}
