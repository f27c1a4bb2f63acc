"""What the bundle builds: each component's source, build and version check."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubesmith.bundle import gobuild
from kubesmith.bundle.gobuild import GoBuild
from kubesmith.bundle.versions import bare
from kubesmith.proc import run

K8S_COMMANDS = (
    "kubeadm",
    "kubelet",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)


@dataclass(frozen=True)
class VersionCheck:
    """Run ``binary args``; its output must contain ``expect`` (``{v}``/``{bare}`` filled in)."""

    binary: str
    args: tuple[str, ...]
    expect: str


Versions = dict[str, str]


@dataclass(frozen=True)
class Component:
    """One cacheable build step. ``recipe`` is text that changes whenever the
    output would; with the version it forms the cache key."""

    name: str
    version_var: str
    recipe: Callable[[Versions], str]
    build: Callable[[Versions, Path, Path], None]
    checks: tuple[VersionCheck, ...]


def go_component(
    name: str, version_var: str, spec: Callable[[str], GoBuild], checks: tuple[VersionCheck, ...]
) -> Component:
    def recipe(versions: Versions) -> str:
        s = spec(versions[version_var])
        return (
            f"{s.go_mod(name)}|{s.binaries}|{s.ldflags}|{s.tags}|{s.cgo}|{s.env}|{s.buildmode}"
            f"|{s.binary_tags}"
        )

    def build(versions: Versions, workdir: Path, outdir: Path) -> None:
        gobuild.build(name, spec(versions[version_var]), workdir, outdir)

    return Component(name, version_var, recipe, build, checks)


def _xflags(package: str, values: dict[str, str]) -> str:
    return " ".join(f"-X {package}.{k}={v}" for k, v in values.items())


# -- Kubernetes -------------------------------------------------------------
def staging_replaces(version: str) -> dict[str, str]:
    """k8s.io/kubernetes replaces its staging modules with ./staging/...; a wrapper
    module must point each one at its published v0.X.Y instead."""
    go_mod = (gobuild.module_dir("k8s.io/kubernetes", version) / "go.mod").read_text()
    staging = re.findall(r"^\s*(k8s\.io/\S+)\s+=>\s+\./staging/", go_mod, flags=re.MULTILINE)
    published = "v0." + bare(version).split(".", 1)[1]
    return {module: f"{module} {published}" for module in staging}


def kubernetes_spec(version: str) -> GoBuild:
    major, minor = bare(version).split(".")[:2]
    values = {"gitVersion": version, "gitMajor": major, "gitMinor": minor, "gitTreeState": "clean"}
    ldflags = " ".join(
        [
            "-s -w",
            _xflags("k8s.io/component-base/version", values),
            _xflags("k8s.io/client-go/pkg/version", values),
        ]
    )
    return GoBuild(
        requires={"k8s.io/kubernetes": version},
        replaces=staging_replaces(version),
        binaries={c: f"k8s.io/kubernetes/cmd/{c}" for c in K8S_COMMANDS},
        ldflags=ldflags,
        tags="selinux,notest",
    )


PAUSE_RECIPE = "gcc -Os -Wall -Werror -static -DVERSION=v{pause} build/pause/linux/pause.c"


def build_pause(versions: Versions, workdir: Path, outdir: Path) -> None:
    """pause is C: build/pause/linux/pause.c from the Kubernetes module, static."""
    del workdir
    module = gobuild.module_dir("k8s.io/kubernetes", versions["kube_version"])
    outdir.mkdir(parents=True, exist_ok=True)
    run(
        [
            "gcc",
            "-Os",
            "-Wall",
            "-Werror",
            "-static",
            f"-DVERSION=v{versions['kube_pause_version']}",
            "-o",
            outdir / "pause",
            module / "build/pause/linux/pause.c",
        ],
        what="build pause with gcc",
    )
    run(["strip", outdir / "pause"], what="strip pause")


def pause_recipe(versions: Versions) -> str:
    return f"{versions['kube_version']}|" + PAUSE_RECIPE.format(
        pause=versions["kube_pause_version"]
    )


# -- runtime ------------------------------------------------------------------
def etcd_spec(version: str) -> GoBuild:
    mods = {f"go.etcd.io/etcd/{m}/v3": version for m in ("server", "etcdctl", "etcdutl")}
    return GoBuild(
        requires=mods,
        binaries={
            "etcd": "go.etcd.io/etcd/server/v3",
            "etcdctl": "go.etcd.io/etcd/etcdctl/v3",
            "etcdutl": "go.etcd.io/etcd/etcdutl/v3",
        },
        ldflags=f"-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA={version}",
    )


def containerd_spec(version: str) -> GoBuild:
    pkg = "github.com/containerd/containerd/v2"
    x = _xflags(f"{pkg}/version", {"Version": version, "Package": pkg, "Revision": version})
    return GoBuild(
        requires={pkg: version},
        binaries={b: f"{pkg}/cmd/{b}" for b in ("containerd", "ctr", "containerd-shim-runc-v2")},
        ldflags=f"-s -w {x}",
        tags="urfave_cli_no_docs",
        binary_tags={"containerd-shim-runc-v2": "no_grpc"},
    )


def runc_spec(version: str) -> GoBuild:
    return GoBuild(
        requires={"github.com/opencontainers/runc": version},
        binaries={"runc": "github.com/opencontainers/runc"},
        ldflags=f"-s -w -X main.gitCommit={version} -linkmode external -extldflags -static-pie",
        tags="seccomp urfave_cli_no_docs netgo osusergo",
        cgo=True,
        buildmode="pie",
    )


def cni_spec(version: str) -> GoBuild:
    mod = "github.com/containernetworking/plugins"
    return GoBuild(
        requires={mod: version},
        binaries={
            "bridge": f"{mod}/plugins/main/bridge",
            "host-local": f"{mod}/plugins/ipam/host-local",
            "loopback": f"{mod}/plugins/main/loopback",
            "portmap": f"{mod}/plugins/meta/portmap",
        },
        ldflags=f"-s -w -X {mod}/pkg/utils/buildversion.BuildVersion={version}",
    )


def crictl_spec(version: str) -> GoBuild:
    return GoBuild(
        requires={"sigs.k8s.io/cri-tools": version},
        binaries={"crictl": "sigs.k8s.io/cri-tools/cmd/crictl"},
        ldflags=f"-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version={bare(version)}",
    )


def coredns_spec(version: str) -> GoBuild:
    return GoBuild(
        requires={"github.com/coredns/coredns": version},
        binaries={"coredns": "github.com/coredns/coredns"},
        ldflags=f"-s -w -X github.com/coredns/coredns/coremain.GitCommit={version}",
    )


# flannel imports the Tencent Cloud backend unconditionally; the SDK versions its
# go.mod names are not on the module proxy, these (API-compatible) ones are.
TENCENT = "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud"


def flannel_spec(version: str) -> GoBuild:
    return GoBuild(
        requires={"github.com/flannel-io/flannel": version},
        replaces={
            f"{TENCENT}/common": f"{TENCENT}/common v1.3.209",
            f"{TENCENT}/vpc": f"{TENCENT}/vpc v1.1.0",
        },
        binaries={"flanneld": "github.com/flannel-io/flannel"},
        ldflags=f"-s -w -X github.com/flannel-io/flannel/pkg/version.Version={version} "
        '-extldflags "-static"',
        cgo=True,
        env={"GONOSUMDB": "github.com/tencentcloud/tencentcloud-sdk-go"},
    )


def kube_router_spec(version: str) -> GoBuild:
    """kube-router, used only as the NetworkPolicy controller. The module proxy
    serves it, but the checksum database has no record of it: it is verified
    by go.sum alone."""
    mod = "github.com/cloudnativelabs/kube-router/v2"
    return GoBuild(
        requires={mod: version},
        binaries={"kube-router": f"{mod}/cmd/kube-router"},
        ldflags=f"-s -w -X {mod}/pkg/version.Version={version}",
        env={"GONOSUMDB": "github.com/cloudnativelabs/kube-router"},
    )


def _k8s_checks() -> tuple[VersionCheck, ...]:
    checks = [
        VersionCheck("kubeadm", ("version", "-o", "short"), "{v}"),
        VersionCheck("kubectl", ("version", "--client"), "Client Version: {v}"),
    ]
    checks += [
        VersionCheck(c, ("--version",), "Kubernetes {v}")
        for c in K8S_COMMANDS
        if c not in ("kubeadm", "kubectl")
    ]
    return tuple(checks)


COMPONENTS: tuple[Component, ...] = (
    go_component("kubernetes", "kube_version", kubernetes_spec, _k8s_checks()),
    Component(
        "pause",
        "kube_pause_version",
        pause_recipe,
        build_pause,
        (VersionCheck("pause", ("-v",), "v{bare}"),),
    ),
    go_component(
        "etcd",
        "kube_etcd_version",
        etcd_spec,
        (
            VersionCheck("etcd", ("--version",), "etcd Version: {bare}"),
            VersionCheck("etcdctl", ("version",), "etcdctl version: {bare}"),
        ),
    ),
    go_component(
        "containerd",
        "kube_containerd_version",
        containerd_spec,
        (
            VersionCheck("containerd", ("--version",), "containerd/v2 {v}"),
            VersionCheck("ctr", ("--version",), "{v}"),
            VersionCheck("containerd-shim-runc-v2", ("-v",), "Version:  {v}"),
        ),
    ),
    go_component(
        "runc",
        "kube_runc_version",
        runc_spec,
        (VersionCheck("runc", ("--version",), "runc version {bare}"),),
    ),
    go_component(
        "cni-plugins",
        "kube_cni_plugins_version",
        cni_spec,
        (
            VersionCheck("bridge", (), "CNI bridge plugin {v}"),
            VersionCheck("portmap", (), "CNI portmap plugin {v}"),
        ),
    ),
    go_component(
        "crictl",
        "kube_crictl_version",
        crictl_spec,
        (VersionCheck("crictl", ("--version",), "crictl version {bare}"),),
    ),
    go_component(
        "coredns",
        "kube_coredns_version",
        coredns_spec,
        (VersionCheck("coredns", ("-version",), "CoreDNS-{bare}"),),
    ),
    go_component(
        "flannel",
        "kube_flannel_version",
        flannel_spec,
        (VersionCheck("flanneld", ("--version",), "{v}"),),
    ),
    go_component(
        "kube-router",
        "kube_kube_router_version",
        kube_router_spec,
        (VersionCheck("kube-router", ("--version",), "{v}"),),
    ),
)
