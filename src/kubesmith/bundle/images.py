"""The container images the cluster runs, assembled from built binaries and
Debian root filesystems, under the names upstream publishes them with."""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubesmith import log
from kubesmith.bundle.components import K8S_COMMANDS, Versions
from kubesmith.bundle.oci import ImageConfig, LayerBlob, Layout
from kubesmith.bundle.tarball import Entry, tree_entries
from kubesmith.bundle.versions import bare
from kubesmith.rootfs import ensure_rootfs

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Runtime tools for images that program the node's network from a pod, and
# the network client and server tools of the test image (which is this layer).
NETBASE_PACKAGES = (
    "iptables",
    "ipset",
    "conntrack",
    "iproute2",
    "kmod",
    "procps",
    "busybox",
    "curl",
    "dnsutils",
    "netcat-openbsd",
)
NETBASE_RELEASE = "bookworm"


@dataclass(frozen=True)
class Check:
    """A command that proves the image's program runs: args and expected output."""

    args: tuple[str, ...]
    expect: str


@dataclass(frozen=True)
class LayerSpec:
    """A layer: a cache key and a function that lists its entries when needed."""

    key: str
    entries: Callable[[], list[Entry]]


@dataclass(frozen=True)
class ImageSpec:
    ref: str
    layers: tuple[LayerSpec, ...]
    config: ImageConfig
    check: Check


def _files_layer(key: str, files: dict[str, Path], dirs: tuple[str, ...] = ()) -> LayerSpec:
    def entries() -> list[Entry]:
        made = {Entry(d) for d in dirs}
        for name in files:
            parts = name.split("/")[:-1]
            made |= {Entry("/".join(parts[: i + 1])) for i in range(len(parts))}
        return sorted(made, key=lambda e: e.name) + [
            Entry(name, src, mode=0o755) for name, src in sorted(files.items())
        ]

    return LayerSpec(key, entries)


def _digest_of(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(str(path.stat().st_size).encode())
        digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def base_layer(workdir: Path) -> LayerSpec:
    """Minimal files a static binary's image wants: users, groups, /tmp."""
    etc = workdir / "base-etc"
    etc.mkdir(parents=True, exist_ok=True)
    accounts = (
        ("root", 0, "/root"),
        ("nginx", 101, "/nonexistent"),
        ("nobody", 65534, "/nonexistent"),
    )
    users = "".join(f"{n}:x:{i}:{i}:{n}:{home}:/sbin/nologin\n" for n, i, home in accounts)
    group = "root:x:0:\nnginx:x:101:\nnogroup:x:65534:\n"
    (etc / "passwd").write_text(users)
    (etc / "group").write_text(group)
    (etc / "nsswitch.conf").write_text("hosts: files dns\n")
    key = "base-" + hashlib.sha256((users + group).encode()).hexdigest()[:12]

    def entries() -> list[Entry]:
        return [
            Entry("etc"),
            Entry("etc/group", etc / "group", 0o644),
            Entry("etc/nsswitch.conf", etc / "nsswitch.conf", 0o644),
            Entry("etc/passwd", etc / "passwd", 0o644),
            Entry("tmp", mode=0o1777),
        ]

    return LayerSpec(key, entries)


def debian_layer(kind: str, release: str, packages: tuple[str, ...]) -> LayerSpec:
    root = ensure_rootfs(kind, release, packages)
    return LayerSpec(f"{root.parent.name}", lambda: tree_entries(root))


@dataclass(frozen=True)
class Program:
    """What an image runs and how to prove it runs: the same for the images
    ``bundle build`` assembles and the ones upstream publishes."""

    entrypoint: tuple[str, ...]
    check: Check


def programs(versions: Versions) -> dict[str, Program]:
    """Image reference -> its program, for every image in the bundle."""
    v = versions
    found = {
        f"registry.k8s.io/{c}:{v['kube_version']}": Program(
            (f"/usr/local/bin/{c}",), Check(("--version",), f"Kubernetes {v['kube_version']}")
        )
        for c in K8S_COMMANDS[3:]
    }
    found[f"registry.k8s.io/pause:{v['kube_pause_version']}"] = Program(
        ("/pause",), Check(("-v",), f"v{v['kube_pause_version']}")
    )
    found[f"registry.k8s.io/coredns/coredns:{v['kube_coredns_version']}"] = Program(
        ("/coredns",), Check(("-version",), f"CoreDNS-{bare(v['kube_coredns_version'])}")
    )
    found[f"docker.io/flannel/flannel:{v['kube_flannel_version']}"] = Program(
        ("/opt/bin/flanneld",), Check(("--version",), v["kube_flannel_version"])
    )
    router = f"docker.io/cloudnativelabs/kube-router:{v['kube_kube_router_version']}"
    found[router] = Program(
        ("/usr/local/bin/kube-router",), Check(("--version",), v["kube_kube_router_version"])
    )
    busybox = f"BusyBox v{v['kube_busybox_version']}"
    found[testbox_ref(v)] = Program((), Check(("busybox",), busybox))
    return found


def testbox_ref(versions: Versions) -> str:
    return f"docker.io/kubesmith/testbox:{versions['kube_busybox_version']}"


def _spec(
    ref: str,
    program: Program,
    layers: tuple[LayerSpec, ...],
    env: tuple[str, ...] = (),
    user: str = "",
) -> ImageSpec:
    config = ImageConfig(entrypoint=list(program.entrypoint), env=list(env), user=user)
    return ImageSpec(ref, layers, config, program.check)


def image_specs(versions: Versions, outputs: dict[str, Path], workdir: Path) -> list[ImageSpec]:
    v = versions
    known = programs(v)
    base = base_layer(workdir)
    net = netbase_layer()
    k8s = outputs["kubernetes"]
    specs = []
    for command in K8S_COMMANDS[3:]:
        ref = f"registry.k8s.io/{command}:{v['kube_version']}"
        binary_layer = _files_layer(
            f"{command}-{_digest_of([k8s / command])}", {f"usr/local/bin/{command}": k8s / command}
        )
        layers = (net, binary_layer) if command == "kube-proxy" else (base, binary_layer)
        specs.append(_spec(ref, known[ref], layers, env=(PATH_ENV,)))
    pause = outputs["pause"] / "pause"
    ref = f"registry.k8s.io/pause:{v['kube_pause_version']}"
    pause_layer = _files_layer(f"pause-{_digest_of([pause])}", {"pause": pause})
    specs.append(_spec(ref, known[ref], (pause_layer,), user="65535:65535"))
    coredns = outputs["coredns"] / "coredns"
    ref = f"registry.k8s.io/coredns/coredns:{v['kube_coredns_version']}"
    coredns_layer = _files_layer(f"coredns-{_digest_of([coredns])}", {"coredns": coredns})
    specs.append(_spec(ref, known[ref], (base, coredns_layer)))
    flanneld = outputs["flannel"] / "flanneld"
    ref = f"docker.io/flannel/flannel:{v['kube_flannel_version']}"
    flannel_layer = _files_layer(
        f"flannel-{_digest_of([flanneld])}", {"opt/bin/flanneld": flanneld}
    )
    specs.append(_spec(ref, known[ref], (net, flannel_layer), env=(PATH_ENV,)))
    router = outputs["kube-router"] / "kube-router"
    ref = f"docker.io/cloudnativelabs/kube-router:{v['kube_kube_router_version']}"
    router_layer = _files_layer(
        f"kube-router-{_digest_of([router])}", {"usr/local/bin/kube-router": router}
    )
    specs.append(_spec(ref, known[ref], (net, router_layer), env=(PATH_ENV,)))
    specs.append(testbox_spec(v, net))
    return specs


def netbase_layer() -> LayerSpec:
    return debian_layer("netbase", NETBASE_RELEASE, NETBASE_PACKAGES)


def testbox_spec(versions: Versions, net: LayerSpec) -> ImageSpec:
    """The project's own test image: the network tools layer and a shell. Upstream
    publishes no such image, so a fetched bundle builds it here too."""
    ref = testbox_ref(versions)
    return ImageSpec(
        ref, (net,), ImageConfig(cmd=["sh"], env=[PATH_ENV]), programs(versions)[ref].check
    )


def build_images(layout: Layout, specs: list[ImageSpec]) -> dict[str, str]:
    """Assemble every image into the layout; return ref -> manifest digest."""
    built = {}
    for spec in specs:
        layers: list[LayerBlob] = []
        for layer in spec.layers:
            layers.append(layout.layer(layer.key, layer.entries()))
        built[spec.ref] = layout.image(spec.ref, layers, spec.config).digest
        log.info(f"image {spec.ref}: {built[spec.ref][:19]}")
    return built


def write_checks(path: Path, found: dict[str, Program]) -> None:
    """Record how to prove each image's program runs: the entrypoint plus the
    check's arguments (``ctr run IMAGE ID ARGS`` replaces the whole command)."""
    checks = {
        ref: {"args": [*p.entrypoint, *p.check.args], "expect": p.check.expect}
        for ref, p in sorted(found.items())
    }
    path.write_text(json.dumps(checks, indent=2) + "\n")
