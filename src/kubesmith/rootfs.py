"""Cached Debian root filesystems built with debootstrap.

Node images and the bases of the bundle's container images are all built the
same way: debootstrap once per (release, package set, recipe), into a temporary
directory that is renamed into place only when complete. A lock file beside
the cache entry makes a second process that needs the same root filesystem
(make test runs the unit tests beside the molecule scenarios) wait for the
first one's build instead of building it again.
"""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from kubesmith import log
from kubesmith.errors import KubesmithError
from kubesmith.locks import exclusive
from kubesmith.paths import cache_dir
from kubesmith.proc import run

DEFAULT_MIRROR = "http://deb.debian.org/debian"


def mirror() -> str:
    """The Debian archive root filesystems come from (and nodes install from)."""
    return os.environ.get("KUBESMITH_DEBIAN_MIRROR", DEFAULT_MIRROR)


def rootfs_key(kind: str, release: str, packages: Sequence[str], recipe: str) -> str:
    """Cache key: what the root filesystem is for, release, packages and recipe text."""
    digest = hashlib.sha256(f"{release}:{','.join(packages)}:{recipe}".encode())
    return f"{kind}-{release}-{digest.hexdigest()[:12]}"


def ensure_rootfs(
    kind: str,
    release: str,
    packages: Sequence[str],
    recipe: str = "",
    customise: Callable[[Path], None] | None = None,
) -> Path:
    """Return a cached rootfs, building it with debootstrap on first use.

    ``recipe`` is text that changes whenever ``customise`` changes what it does,
    so a changed recipe gets a new cache entry instead of a stale one.
    """
    target = cache_dir() / "rootfs" / rootfs_key(kind, release, packages, recipe)
    if (target / "rootfs/etc/os-release").exists():
        return target / "rootfs"
    if os.geteuid() != 0:
        raise KubesmithError(f"building the {kind} root filesystem needs root (debootstrap)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(target.parent / f".{target.name}.lock", f"building {target.name}"):
        if (target / "rootfs/etc/os-release").exists():
            return target / "rootfs"
        return _build(target, kind, release, packages, customise)


def _build(
    target: Path,
    kind: str,
    release: str,
    packages: Sequence[str],
    customise: Callable[[Path], None] | None,
) -> Path:
    """debootstrap into a temporary directory, then rename it to ``target``."""
    log.info(f"building {target.name} with debootstrap from {mirror()} (about 1 min)")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(packages)}",
                release,
                rootfs,
                mirror(),
            ],
            what=f"debootstrap Debian {release} for {kind}",
        )
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True)
        if customise is not None:
            customise(rootfs)
        Path(tmp).rename(target)
        Path(tmp).mkdir()
    log.info(f"{target.name} ready")
    return target / "rootfs"
