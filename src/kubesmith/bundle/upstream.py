"""Where upstream publishes every artifact the bundle holds.

The paths are those of roles/kube/defaults/main/downloads.yml with the base
left out: ``https://`` + path is the upstream URL, and the same path under the
bundle's ``files/`` is what ``mirror serve`` answers for it. Images keep the
names the roles pull them by.
"""

from dataclasses import dataclass

from kubesmith.bundle.components import K8S_COMMANDS, Versions
from kubesmith.bundle.versions import bare
from kubesmith.errors import KubesmithError

DEFAULT_FILES_BASE = "https://"
ARCH = "amd64"


@dataclass(frozen=True)
class ReleaseFile:
    """A release file and the checksum file its upstream publishes beside it."""

    path: str
    checksum_path: str

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Image:
    """An image under its upstream name; ``local`` ones upstream does not publish."""

    ref: str
    local: bool = False

    @property
    def registry(self) -> str:
        return self.ref.split("/", 1)[0]

    @property
    def repository(self) -> str:
        return self.ref.split("/", 1)[1].rpartition(":")[0]

    @property
    def tag(self) -> str:
        return self.ref.rpartition(":")[2]


def _github(project: str, version: str) -> str:
    return f"github.com/{project}/releases/download/{version}"


def release_files(v: Versions) -> list[ReleaseFile]:
    """Every release file the roles download, in the order ``bundle build`` publishes them."""
    k8s = f"dl.k8s.io/release/{v['kube_version']}/bin/linux/{ARCH}"
    files = [ReleaseFile(f"{k8s}/{c}", f"{k8s}/{c}.sha256") for c in K8S_COMMANDS]
    etcd_version = v["kube_etcd_version"]
    etcd = _github("etcd-io/etcd", etcd_version)
    etcd_name = f"etcd-{etcd_version}-linux-{ARCH}.tar.gz"
    files.append(ReleaseFile(f"{etcd}/{etcd_name}", f"{etcd}/SHA256SUMS"))
    containerd = _github("containerd/containerd", v["kube_containerd_version"])
    name = f"containerd-{bare(v['kube_containerd_version'])}-linux-{ARCH}.tar.gz"
    files.append(ReleaseFile(f"{containerd}/{name}", f"{containerd}/{name}.sha256sum"))
    runc = _github("opencontainers/runc", v["kube_runc_version"])
    files.append(ReleaseFile(f"{runc}/runc.{ARCH}", f"{runc}/runc.sha256sum"))
    cni_version = v["kube_cni_plugins_version"]
    cni_name = f"cni-plugins-linux-{ARCH}-{cni_version}.tgz"
    cni = f"{_github('containernetworking/plugins', cni_version)}/{cni_name}"
    files.append(ReleaseFile(cni, f"{cni}.sha256"))
    crictl_version = v["kube_crictl_version"]
    crictl = (
        f"{_github('kubernetes-sigs/cri-tools', crictl_version)}"
        f"/crictl-{crictl_version}-linux-{ARCH}.tar.gz"
    )
    files.append(ReleaseFile(crictl, f"{crictl}.sha256"))
    return files


def images(v: Versions) -> list[Image]:
    """Every image the bundle holds, under the names ``bundle build`` gives them."""
    from kubesmith.bundle.images import programs, testbox_ref

    return [Image(ref, local=ref == testbox_ref(v)) for ref in programs(v)]


def expected_sha256(checksum_text: str, file_name: str, source: str) -> str:
    """The digest a checksum file gives for ``file_name``.

    Upstream uses three shapes: a bare digest (dl.k8s.io, crictl), one
    ``DIGEST  NAME`` line, or a list of them (etcd's SHA256SUMS, runc's).
    """
    lines = [line.split() for line in checksum_text.splitlines() if line.strip()]
    for fields in lines:
        if len(fields) == 2 and fields[1].lstrip("*").removeprefix("./") == file_name:
            return _hex(fields[0], source)
    if len(lines) == 1 and len(lines[0]) == 1:
        return _hex(lines[0][0], source)
    raise KubesmithError(f"checksum file {source} has no SHA-256 entry for {file_name}")


def _hex(value: str, source: str) -> str:
    digest = value.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise KubesmithError(f"checksum file {source} holds {value[:80]!r}, not a SHA-256 digest")
    return digest
