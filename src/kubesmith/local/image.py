"""The cached Debian root filesystem every local node boots from.

debootstrap runs once per release and package set; nodes mount the result
read-only as the lower layer of an overlay, so creating a node copies nothing.
"""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from kubesmith import log
from kubesmith.errors import KubesmithError
from kubesmith.paths import cache_dir
from kubesmith.proc import run

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
DEFAULT_MIRROR = "http://deb.debian.org/debian"

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


def mirror() -> str:
    """The Debian archive nodes are built from and install packages from."""
    return os.environ.get("KUBESMITH_DEBIAN_MIRROR", DEFAULT_MIRROR)


def image_key(release: str) -> str:
    """Cache key: the release, the package set and everything baked into the image."""
    recipe = f"{IMAGE_FORMAT}:{release}:{','.join(PACKAGES)}:{CGROUP_RW_SCRIPT}:{CGROUP_RW_UNIT}"
    digest = hashlib.sha256(recipe.encode())
    return f"debian-{release}-{digest.hexdigest()[:12]}"


def image_path(release: str) -> Path:
    return cache_dir() / "images" / image_key(release)


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
    link = wants / "kubesmith-cgroup-rw.service"
    if not link.is_symlink():
        link.symlink_to("/etc/systemd/system/kubesmith-cgroup-rw.service")
    networkd = root / "etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
    if not networkd.is_symlink():
        networkd.symlink_to("/lib/systemd/system/systemd-networkd.service")
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True)


def ensure_image(release: str) -> Path:
    """Return the cached rootfs for ``release``, building it on first use."""
    target = image_path(release)
    if (target / "rootfs/etc/os-release").exists():
        return target / "rootfs"
    if os.geteuid() != 0:
        raise KubesmithError("building the node image needs root (debootstrap)")
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info(f"building node image {target.name} with debootstrap from {mirror()} (about 1 min)")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                release,
                rootfs,
                mirror(),
            ],
            what=f"debootstrap Debian {release}",
        )
        _customise(rootfs)
        Path(tmp).rename(target)
        Path(tmp).mkdir()
    log.info(f"node image ready: {target}")
    return target / "rootfs"
