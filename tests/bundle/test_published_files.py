"""The bundle's file tree matches the upstream layouts, checksums and versions.

Each archive is unpacked the way the roles unpack it and its binaries are run:
what a node downloads from the mirror must report the pinned version.
"""

import hashlib
import subprocess
import tarfile

import pytest

from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.versions import bare

FILES = bundle_dir() / "files"


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _version_output(path, *args):
    result = subprocess.run([path, *args], capture_output=True, text=True, timeout=60, check=False)
    return result.stdout + result.stderr


def test_every_file_has_a_matching_sha256(bundle):
    for rel in bundle["files"]:
        path = FILES / rel
        recorded = (FILES / f"{rel}.sha256").read_text().split()[0]
        assert recorded == _sha(path), rel


def test_a_corrupted_checksum_is_detected(bundle, tmp_path):
    """Negative control for the check above: flip one byte and the hashes differ."""
    rel = bundle["files"][0]
    copy = tmp_path / "copy"
    data = bytearray((FILES / rel).read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    assert _sha(copy) != (FILES / f"{rel}.sha256").read_text().split()[0]


@pytest.mark.parametrize(
    ("command", "args", "expect"),
    [
        ("kubeadm", ("version", "-o", "short"), "{v}"),
        ("kubelet", ("--version",), "Kubernetes {v}"),
        ("kubectl", ("version", "--client"), "Client Version: {v}"),
        ("kube-apiserver", ("--version",), "Kubernetes {v}"),
        ("kube-controller-manager", ("--version",), "Kubernetes {v}"),
        ("kube-scheduler", ("--version",), "Kubernetes {v}"),
        ("kube-proxy", ("--version",), "Kubernetes {v}"),
    ],
)
def test_kubernetes_binaries_at_dl_k8s_io_paths(bundle, command, args, expect):
    v = bundle["versions"]["kube_version"]
    path = FILES / f"dl.k8s.io/release/{v}/bin/linux/amd64/{command}"
    assert expect.format(v=v) in _version_output(path, *args)


def _unpack(archive, into):
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def _release(project, version):
    return FILES / f"github.com/{project}/releases/download/{version}"


def test_etcd_release_tarball(bundle, tmp_path):
    v = bundle["versions"]["kube_etcd_version"]
    archive = _release("etcd-io/etcd", v) / f"etcd-{v}-linux-amd64.tar.gz"
    assert archive.name in (archive.parent / "SHA256SUMS").read_text()
    top = _unpack(archive, tmp_path) / f"etcd-{v}-linux-amd64"
    assert f"etcd Version: {bare(v)}" in _version_output(top / "etcd", "--version")
    assert f"etcdctl version: {bare(v)}" in _version_output(top / "etcdctl", "version")


def test_containerd_release_tarball(bundle, tmp_path):
    v = bundle["versions"]["kube_containerd_version"]
    name = f"containerd-{bare(v)}-linux-amd64.tar.gz"
    archive = _release("containerd/containerd", v) / name
    sums = (archive.parent / f"{name}.sha256sum").read_text().split()
    assert sums == [_sha(archive), name]
    top = _unpack(archive, tmp_path)
    assert v in _version_output(top / "bin/containerd", "--version")
    assert v in _version_output(top / "bin/ctr", "--version")


def test_runc_release_file(bundle):
    v = bundle["versions"]["kube_runc_version"]
    path = _release("opencontainers/runc", v) / "runc.amd64"
    assert f"{_sha(path)}  runc.amd64" in (path.parent / "runc.sha256sum").read_text()
    assert f"runc version {bare(v)}" in _version_output(path, "--version")


def test_cni_plugins_release_tarball(bundle, tmp_path):
    v = bundle["versions"]["kube_cni_plugins_version"]
    archive = _release("containernetworking/plugins", v) / f"cni-plugins-linux-amd64-{v}.tgz"
    top = _unpack(archive, tmp_path)
    for plugin in ("bridge", "host-local", "loopback", "portmap"):
        assert f"plugin {v}" in _version_output(top / plugin)


def test_crictl_release_tarball(bundle, tmp_path):
    v = bundle["versions"]["kube_crictl_version"]
    archive = _release("kubernetes-sigs/cri-tools", v) / f"crictl-{v}-linux-amd64.tar.gz"
    assert (archive.parent / f"{archive.name}.sha256").read_text().strip() == _sha(archive)
    top = _unpack(archive, tmp_path)
    assert f"crictl version {bare(v)}" in _version_output(top / "crictl", "--version")
