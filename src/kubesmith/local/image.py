"""The cached Debian root filesystem every local node boots from.

debootstrap runs once per release and package set; nodes mount the result
read-only as the lower layer of an overlay, so creating a node copies nothing.
"""

from pathlib import Path

from kubesmith.rootfs import ensure_rootfs

IMAGE_FORMAT = 3
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "iputils-ping",
    "python3",
    "python3-apt",
    "iptables",
    "ca-certificates",
    "curl",
    "procps",
    "sudo",
    "kmod",
)

CGROUP_RW_SCRIPT = """#!/bin/sh
# systemd-nspawn mounts the cgroup v1 hierarchies read-only; nested container
# runtimes need to create cgroups below the node's own, so make them writable.
set -e
awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' \\
    /proc/self/mounts | while read -r m; do mount -o remount,bind,rw "$m"; done
"""

CGROUP_RW_UNIT = """[Unit]
Description=Make cgroup hierarchies writable for nested containers
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/kubesmith-cgroup-rw

[Install]
WantedBy=sysinit.target
"""


def _customise(root: Path) -> None:
    """Node-independent settings baked into the image."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    script = root / "usr/local/sbin/kubesmith-cgroup-rw"
    script.write_text(CGROUP_RW_SCRIPT)
    script.chmod(0o755)
    (root / "etc/systemd/system/kubesmith-cgroup-rw.service").write_text(CGROUP_RW_UNIT)
    wants = root / "etc/systemd/system/sysinit.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "kubesmith-cgroup-rw.service").symlink_to(
        "/etc/systemd/system/kubesmith-cgroup-rw.service"
    )
    (root / "etc/systemd/system/multi-user.target.wants/systemd-networkd.service").symlink_to(
        "/lib/systemd/system/systemd-networkd.service"
    )


def ensure_image(release: str) -> Path:
    """Return the cached node rootfs for ``release``, building it on first use."""
    recipe = f"{IMAGE_FORMAT}:{CGROUP_RW_SCRIPT}:{CGROUP_RW_UNIT}"
    return ensure_rootfs("node", release, PACKAGES, recipe, _customise)
