"""A libvirt Vagrant box of Debian 12, built here from Debian's archive.

Vagrant Cloud is out of reach, so the real-VM test boots a box made the way
published boxes are: a qcow2 disk, metadata.json, and a Vagrantfile of the
box's own. The disk holds one ext4 filesystem (no partition table, no boot
loader); the box's Vagrantfile boots its kernel and initrd directly and picks
qemu's software emulation when the host has no usable KVM. The vagrant user
takes Vagrant's well-known insecure key, which `vagrant up` replaces.
"""

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from kubesmith.paths import cache_dir
from kubesmith.rootfs import ensure_rootfs

RELEASE = "bookworm"
PACKAGES = [
    "systemd-sysv",
    "udev",
    "kmod",
    "linux-image-amd64",
    "initramfs-tools",
    "openssh-server",
    "sudo",
    "ifupdown",
    "isc-dhcp-client",
    "iproute2",
    "python3",
    "netbase",
    "ca-certificates",
]
RECIPE = "vagrant user, insecure key, eth0 dhcp, fstab /dev/vda; v1"
DISK_GIB = 4
BOX_VAGRANTFILE = """\
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |lv|
    lv.kernel = File.expand_path("vmlinuz", __dir__)
    lv.initrd = File.expand_path("initrd.img", __dir__)
    lv.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0"
    hardware = File.readlines("/proc/cpuinfo").grep(/\\b(vmx|svm)\\b/).any?
    lv.driver = File.exist?("/dev/kvm") && hardware ? "kvm" : "qemu"
  end
end
"""


def insecure_public_key() -> str:
    gems = Path("/usr/share/rubygems-integration/all/gems")
    for key in sorted(gems.glob("vagrant-*/keys/vagrant.pub")):
        return key.read_text()
    raise FileNotFoundError("Vagrant's insecure public key (keys/vagrant.pub of the vagrant gem)")


def _customise(root: Path) -> None:
    subprocess.run(
        ["chroot", root, "useradd", "-m", "-s", "/bin/bash", "-U", "vagrant"], check=True
    )
    ssh = root / "home/vagrant/.ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "authorized_keys").write_text(insecure_public_key())
    subprocess.run(
        ["chroot", root, "chown", "-R", "vagrant:vagrant", "/home/vagrant/.ssh"], check=True
    )
    (root / "etc/sudoers.d/vagrant").write_text("vagrant ALL=(ALL) NOPASSWD: ALL\n")
    (root / "etc/sudoers.d/vagrant").chmod(0o440)
    (root / "etc/ssh/sshd_config.d/vagrant.conf").write_text("UseDNS no\n")
    (root / "etc/network/interfaces").write_text(
        "source /etc/network/interfaces.d/*\nauto lo\niface lo inet loopback\n"
        "allow-hotplug eth0\niface eth0 inet dhcp\n"
    )
    (root / "etc/fstab").write_text("/dev/vda / ext4 defaults 0 1\n")
    (root / "etc/hostname").write_text("debian\n")


def build_box() -> Path:
    """The box file (cached by recipe); builds the root filesystem on first use."""
    rootfs = ensure_rootfs("vagrantbox", RELEASE, PACKAGES, RECIPE, _customise)
    digest = hashlib.sha256(BOX_VAGRANTFILE.encode()).hexdigest()[:8]
    box = cache_dir() / "vagrant" / f"{rootfs.parent.name}-{digest}.box"
    if box.exists():
        return box
    box.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=box.parent, prefix=".box-") as tmp:
        work = Path(tmp)
        raw = work / "disk.raw"
        subprocess.run(
            ["mkfs.ext4", "-q", "-L", "root", "-d", rootfs, raw, f"{DISK_GIB}G"], check=True
        )
        subprocess.run(["qemu-img", "convert", "-O", "qcow2", raw, work / "box.img"], check=True)
        raw.unlink()
        boot = rootfs / "boot"
        shutil.copy(next(boot.glob("vmlinuz-*")), work / "vmlinuz")
        shutil.copy(next(boot.glob("initrd.img-*")), work / "initrd.img")
        meta = {"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_GIB}
        (work / "metadata.json").write_text(json.dumps(meta))
        (work / "Vagrantfile").write_text(BOX_VAGRANTFILE)
        partial = work / "out.box"
        with tarfile.open(partial, "w") as tar:
            for name in ("metadata.json", "Vagrantfile", "vmlinuz", "initrd.img", "box.img"):
                tar.add(work / name, arcname=name)
        partial.replace(box)
    return box
