"""The bundle's file tree, shaped like the upstream download sites.

``files/dl.k8s.io/release/v1.37.1/bin/linux/amd64/kubeadm`` is served as
``<mirror>/dl.k8s.io/release/...``, so roles switch between online and offline
by changing only the base URL (``https://`` or the mirror's). Every file gets
the checksum file its upstream publishes, plus ``<file>.sha256``.
"""

from collections.abc import Callable
from pathlib import Path

from kubesmith.bundle.components import K8S_COMMANDS, Versions
from kubesmith.bundle.tarball import Entry, sha256_file, write_tar
from kubesmith.bundle.versions import bare

GITHUB = "github.com"


def _checksums(path: Path, upstream: str = "", named: bool = True) -> None:
    """Write ``<file>.sha256`` and, if given, the upstream checksum file beside it."""
    digest = sha256_file(path)
    line = f"{digest}  {path.name}\n" if named else f"{digest}\n"
    path.with_name(path.name + ".sha256").write_text(line)
    if upstream:
        path.with_name(upstream).write_text(f"{digest}  {path.name}\n")


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(src.read_bytes())
    tmp.chmod(0o755)
    tmp.rename(dst)


def _release(project: str, version: str) -> str:
    return f"{GITHUB}/{project}/releases/download/{version}"


def kubernetes_files(out: Path, root: Path, v: Versions) -> list[Path]:
    base = root / f"dl.k8s.io/release/{v['kube_version']}/bin/linux/amd64"
    for command in K8S_COMMANDS:
        _copy(out / command, base / command)
        _checksums(base / command, named=False)
    return [base / c for c in K8S_COMMANDS]


def etcd_files(out: Path, root: Path, v: Versions) -> list[Path]:
    version = v["kube_etcd_version"]
    top = f"etcd-{version}-linux-amd64"
    tarball = root / _release("etcd-io/etcd", version) / f"{top}.tar.gz"
    entries = [Entry(top)] + [Entry(f"{top}/{b}", out / b) for b in ("etcd", "etcdctl", "etcdutl")]
    write_tar(tarball, entries)
    _checksums(tarball, "SHA256SUMS")
    return [tarball]


def containerd_files(out: Path, root: Path, v: Versions) -> list[Path]:
    version = v["kube_containerd_version"]
    name = f"containerd-{bare(version)}-linux-amd64.tar.gz"
    tarball = root / _release("containerd/containerd", version) / name
    binaries = ("containerd", "containerd-shim-runc-v2", "ctr")
    write_tar(tarball, [Entry("bin")] + [Entry(f"bin/{b}", out / b) for b in binaries])
    _checksums(tarball, f"{name}.sha256sum")
    return [tarball]


def runc_files(out: Path, root: Path, v: Versions) -> list[Path]:
    target = root / _release("opencontainers/runc", v["kube_runc_version"]) / "runc.amd64"
    _copy(out / "runc", target)
    _checksums(target, "runc.sha256sum")
    return [target]


def cni_files(out: Path, root: Path, v: Versions) -> list[Path]:
    version = v["kube_cni_plugins_version"]
    name = f"cni-plugins-linux-amd64-{version}.tgz"
    tarball = root / _release("containernetworking/plugins", version) / name
    plugins = ("bridge", "host-local", "loopback", "portmap")
    write_tar(tarball, [Entry("./")] + [Entry(f"./{p}", out / p) for p in plugins])
    _checksums(tarball)
    return [tarball]


def crictl_files(out: Path, root: Path, v: Versions) -> list[Path]:
    version = v["kube_crictl_version"]
    name = f"crictl-{version}-linux-amd64.tar.gz"
    tarball = root / _release("kubernetes-sigs/cri-tools", version) / name
    write_tar(tarball, [Entry("crictl", out / "crictl")])
    _checksums(tarball, named=False)
    return [tarball]


PUBLISHERS: dict[str, Callable[[Path, Path, Versions], list[Path]]] = {
    "kubernetes": kubernetes_files,
    "etcd": etcd_files,
    "containerd": containerd_files,
    "runc": runc_files,
    "cni-plugins": cni_files,
    "crictl": crictl_files,
}


def publish(outputs: dict[str, Path], root: Path, versions: Versions) -> list[Path]:
    """Write the upstream-shaped files for every built component that has some."""
    written = []
    for name, publisher in PUBLISHERS.items():
        if name in outputs:
            written += publisher(outputs[name], root, versions)
    return written
