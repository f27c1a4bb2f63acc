"""Copying images between registries and the bundle's OCI layout with skopeo
(Debian's ``skopeo`` package), in both directions."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kubesmith.errors import KubesmithError
from kubesmith.proc import run

COPY_TIMEOUT = 3600
INSPECT_TIMEOUT = 120


@dataclass(frozen=True)
class Registry:
    """A registry endpoint: ``host[:port]`` and whether it speaks TLS."""

    host: str
    tls: bool = True

    @classmethod
    def parse(cls, endpoint: str) -> "Registry":
        """``registry.k8s.io``, ``https://quay.io`` or ``http://127.0.0.1:5000``."""
        if endpoint.startswith("http://"):
            return cls(endpoint.removeprefix("http://").rstrip("/"), tls=False)
        return cls(endpoint.removeprefix("https://").rstrip("/"))

    def transport(self, repository: str, tag_or_digest: str) -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"docker://{self.host}/{repository}{sep}{tag_or_digest}"


def oci(layout: Path, ref: str) -> str:
    return f"oci:{layout}:{ref}"


def _tls(flag: str, registry: Registry | None) -> list[str]:
    return [f"--{flag}-tls-verify=false"] if registry and not registry.tls else []


def copy(
    src: str,
    dest: str,
    *,
    what: str,
    src_registry: Registry | None = None,
    dest_registry: Registry | None = None,
) -> None:
    """``skopeo copy`` for the linux/amd64 image (the one the bundle's nodes run)."""
    run(
        [
            "skopeo",
            "--override-os",
            "linux",
            "--override-arch",
            "amd64",
            "copy",
            "--quiet",
            "--retry-times",
            "2",
            *_tls("src", src_registry),
            *_tls("dest", dest_registry),
            src,
            dest,
        ],
        what=what,
        timeout=COPY_TIMEOUT,
    )


def digest(registry: Registry, repository: str, tag: str, missing_ok: bool = False) -> str:
    """The digest the registry's tag points at (a manifest list's, for multi-arch
    images); with ``missing_ok``, '' when the registry does not have it."""
    result = run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--retry-times",
            "2",
            *(["--tls-verify=false"] if not registry.tls else []),
            registry.transport(repository, tag),
        ],
        what=f"look up {registry.host}/{repository}:{tag}",
        timeout=INSPECT_TIMEOUT,
        check=not missing_ok,
    )
    if result.returncode != 0:
        return ""
    return "sha256:" + hashlib.sha256(result.stdout.encode()).hexdigest()


def split_ref(ref: str) -> tuple[str, str]:
    """``registry.k8s.io/pause:3.10.2`` -> (``registry.k8s.io/pause``, ``3.10.2``)."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        raise KubesmithError(f"image reference {ref!r} has no tag")
    return name, tag


def push(layout: Path, ref: str, manifest_digest: str, registry: Registry) -> bool:
    """Copy one image from the layout into the registry under its full upstream
    name (``HOST/registry.k8s.io/pause:3.10.2``, what containerd's mirror
    configuration asks for); return False when the registry already had it."""
    repository, tag = split_ref(ref)
    if manifest_digest == digest(registry, repository, tag, missing_ok=True):
        return False
    copy(
        oci(layout, ref),
        registry.transport(repository, tag),
        what=f"push {ref} to {registry.host}",
        dest_registry=registry,
    )
    return True
