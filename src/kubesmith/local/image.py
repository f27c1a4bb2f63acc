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


def early_boot_unit(description: str, command: str) -> str:
    """A oneshot unit that runs ``command`` before sysinit.target."""
    return (
        f"[Unit]\nDescription={description}\nDefaultDependencies=no\n"
        "After=local-fs.target\nBefore=sysinit.target\n\n"
        f"[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart={command}\n\n"
        "[Install]\nWantedBy=sysinit.target\n"
    )


CGROUP_RW_UNIT = early_boot_unit(
    "Make cgroup hierarchies writable for nested containers", "/usr/local/sbin/kubesmith-cgroup-rw"
)


# The kubelet insists on these host-wide kernel settings and writes them when
# they differ. In a node /proc/sys is read-only (and writing would change the
# host), so the node shows the kubelet the values it expects through bind
# mounts inside its own mount namespace; the host's settings stay untouched.
KUBELET_SYSCTL_SCRIPT = """#!/bin/sh
set -e
mkdir -p /run/kubesmith/sysctl
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \\
          kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
    key=${kv%=*}; value=${kv#*=}; path=/proc/sys/$key
    [ "$(cat "$path")" = "$value" ] && continue
    shadow=/run/kubesmith/sysctl/$(echo "$key" | tr / .)
    echo "$value" > "$shadow"
    mount --bind "$shadow" "$path"
done
"""

KUBELET_SYSCTL_UNIT = early_boot_unit(
    "Show the kubelet its expected kernel settings (node-local view)",
    "/usr/local/sbin/kubesmith-kubelet-sysctls",
)

# kubelet reads kernel messages for OOM events; nodes have no /dev/kmsg.
KMSG_TMPFILES = "L /dev/kmsg - - - - /dev/console\n"

BAKED = {
    "usr/local/sbin/kubesmith-cgroup-rw": (CGROUP_RW_SCRIPT, 0o755),
    "etc/systemd/system/kubesmith-cgroup-rw.service": (CGROUP_RW_UNIT, 0o644),
    "usr/local/sbin/kubesmith-kubelet-sysctls": (KUBELET_SYSCTL_SCRIPT, 0o755),
    "etc/systemd/system/kubesmith-kubelet-sysctls.service": (KUBELET_SYSCTL_UNIT, 0o644),
    "etc/tmpfiles.d/kubesmith-kmsg.conf": (KMSG_TMPFILES, 0o644),
}


def _customise(root: Path) -> None:
    """Node-independent settings baked into the image."""
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    for relative, (text, mode) in BAKED.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    wants = root / "etc/systemd/system/sysinit.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for unit in ("kubesmith-cgroup-rw.service", "kubesmith-kubelet-sysctls.service"):
        (wants / unit).symlink_to(f"/etc/systemd/system/{unit}")
    (root / "etc/systemd/system/multi-user.target.wants/systemd-networkd.service").symlink_to(
        "/lib/systemd/system/systemd-networkd.service"
    )


def ensure_image(release: str) -> Path:
    """Return the cached node rootfs for ``release``, building it on first use."""
    recipe = f"{IMAGE_FORMAT}:{sorted(BAKED.items())}"
    return ensure_rootfs("node", release, PACKAGES, recipe, _customise)
