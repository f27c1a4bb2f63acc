"""The local node provider: an inventory's hosts as system containers.

Nodes are ordinary SSH hosts to Ansible: the provider only makes them exist,
boot, and answer SSH with the key and host keys the inventory names.
"""

import dataclasses
import os
import socket
import time
from contextlib import AbstractContextManager
from pathlib import Path

from kubesmith import log, mirror
from kubesmith.errors import KubesmithError
from kubesmith.inventory import LocalNetwork, LocalSpec, NodeSpec
from kubesmith.local import image, network, services
from kubesmith.local.node import LocalNode, NodeConfig, nodes_dir
from kubesmith.locks import exclusive
from kubesmith.proc import run, tail

SSH_TIMEOUT = 120.0


def ssh_options(spec: LocalSpec) -> list[str]:
    return [
        "-i",
        str(spec.ssh_key),
        "-o",
        f"UserKnownHostsFile={known_hosts(spec)}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
    ]


def known_hosts(spec: LocalSpec) -> Path:
    return spec.ssh_key.parent / "known_hosts"


def _require_root() -> None:
    if os.geteuid() != 0:
        raise KubesmithError("local nodes need root (systemd-nspawn, bridges, iptables)")


def _ssh_files_lock(key: Path) -> AbstractContextManager[None]:
    """The SSH client key and known_hosts beside it, one kubesmith process at a time.
    The lock file lives in the key's folder, which is made private first."""
    key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return exclusive(key.parent / ".lock", "SSH key files")


def _ensure_client_key(key: Path) -> str:
    with _ssh_files_lock(key):
        if not key.exists():
            run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kubesmith", "-f", key],
                what=f"generate SSH key {key}",
            )
        return key.with_suffix(".pub").read_text()


def _record_host_keys(spec: LocalSpec, keys: dict[str, Path]) -> None:
    with _ssh_files_lock(spec.ssh_key):
        path = known_hosts(spec)
        ours = {str(n.address) for n in spec.nodes}
        kept = []
        if path.exists():
            kept = [
                line for line in path.read_text().splitlines() if line.split(" ")[0] not in ours
            ]
        for node in spec.nodes:
            kind, blob = keys[node.name].read_text().split()[:2]
            kept.append(f"{node.address} {kind} {blob}")
        path.write_text("\n".join(kept) + "\n")


def _answers_ssh(spec: LocalSpec, address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=1):
            pass
    except OSError:
        return False
    result = run(
        ["ssh", *ssh_options(spec), f"{spec.ssh_user}@{address}", "true"],
        what="probe SSH",
        check=False,
    )
    return result.returncode == 0


def _wait_for_ssh(spec: LocalSpec) -> None:
    pending = {n.name: str(n.address) for n in spec.nodes}
    deadline = time.monotonic() + SSH_TIMEOUT
    while pending:
        for name, address in list(pending.items()):
            if _answers_ssh(spec, address):
                log.info(f"{name} ({address}) answers SSH")
                del pending[name]
        if pending and time.monotonic() > deadline:
            name = next(iter(pending))
            console = LocalNode(name).console
            raise KubesmithError(
                f"{', '.join(pending)} did not answer SSH within {SSH_TIMEOUT:.0f}s; "
                f"console of {name}:\n{tail(console.read_text())}"
            )
        if pending:
            time.sleep(0.3)


def _check_network(spec: LocalSpec) -> None:
    clashes = network.clashing_networks(spec.network)
    if clashes:
        raise KubesmithError(
            f"local_nodes_gateway {spec.network.gateway} overlaps host interface "
            f"{', '.join(clashes)}: choose another private /24 in the inventory"
        )
    for node in spec.nodes:
        other = LocalNode(node.name)
        if other.exists() and other.meta.get("address") != str(node.address):
            raise KubesmithError(
                f"node {node.name} already exists with address {other.meta.get('address')}: "
                f"run `kubesmith nodes delete` for its inventory first"
            )


# What a new node's root, containerd images and logs take, and the free space
# the kubelets keep (control_plane_shared_disk_eviction: nodefs/imagefs 2Gi).
NODE_DISK_BYTES = 3 * 2**30 // 2
EVICTION_RESERVE_BYTES = 2 * 2**30


def _free_bytes(path: Path) -> int:
    while not path.exists():
        path = path.parent
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def _check_disk(spec: LocalSpec) -> None:
    """Nodes share this machine's filesystem: refuse before creating any when
    the new ones would leave less than the kubelets' eviction reserve."""
    new = [n.name for n in spec.nodes if not LocalNode(n.name).exists()]
    if not new:
        return
    need = EVICTION_RESERVE_BYTES + NODE_DISK_BYTES * len(new)
    free = _free_bytes(nodes_dir())
    if free < need:
        raise KubesmithError(
            f"{nodes_dir()} has {free / 2**30:.1f} GiB free; {len(new)} new node(s) "
            f"({', '.join(new)}) need {need / 2**30:.1f} GiB: free space on that "
            f"filesystem or set KUBESMITH_STATE_DIR to one with room"
        )


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
MIN_INOTIFY_INSTANCES = 1024


def _raise_inotify_limit() -> None:
    """Every node's root shares the host's per-user inotify instance limit
    (often 128); systemd, containerd and kubelet in four nodes exhaust it and
    file watches then fail silently. Raise it, as kind's documentation asks."""
    current = int(INOTIFY_INSTANCES.read_text())
    if current < MIN_INOTIFY_INSTANCES:
        INOTIFY_INSTANCES.write_text(f"{MIN_INOTIFY_INSTANCES}\n")
        log.info(f"raised fs.inotify.max_user_instances from {current} to {MIN_INOTIFY_INSTANCES}")


def prepare_image(spec: LocalSpec) -> None:
    """Build the node image for the inventory's release now, unless it is cached."""
    _require_root()
    rootfs = image.ensure_image(spec.release)
    log.info(f"node image for Debian {spec.release}: {rootfs.parent}")


def create(spec: LocalSpec) -> None:
    """Create and boot every node of the inventory; wait until all answer SSH."""
    _require_root()
    _check_network(spec)
    _check_disk(spec)
    _raise_inotify_limit()
    rootfs = image.ensure_image(spec.release)
    authorized = _ensure_client_key(spec.ssh_key)
    network.ensure_bridge(spec.network)
    network.apply_firewall(spec.network)
    services.ensure_services(spec.network)
    peers = {n.name: str(n.address) for n in spec.nodes}
    host_keys: dict[str, Path] = {}
    for node in spec.nodes:
        local = LocalNode(node.name)
        state = "running" if local.running() else "booting"
        log.info(f"{node.name}: {state} ({node.address}, Debian {spec.release})")
        cfg = NodeConfig(spec=node, network=spec.network, peers=peers, authorized_key=authorized)
        host_keys[node.name] = local.dir / "ssh_host_ed25519_key.pub"
        local.prepare(rootfs, cfg, host_keys[node.name])
        local.boot(spec.network.bridge)
    _record_host_keys(spec, host_keys)
    _wait_for_ssh(spec)
    log.info(f"{len(spec.nodes)} nodes ready on {spec.network.bridge}")


def _bridge_in_use(net: LocalNetwork) -> bool:
    if not nodes_dir().exists():
        return False
    return any(LocalNode(p.name).meta.get("bridge") == net.bridge for p in nodes_dir().iterdir())


def delete(spec: LocalSpec) -> None:
    """Delete every node of the inventory and, when unused, the bridge and its rules."""
    _require_root()
    for node in spec.nodes:
        local = LocalNode(node.name)
        if local.exists() or local.dir.exists():
            log.info(f"{node.name}: deleting")
            local.delete()
    if not _bridge_in_use(spec.network):
        address = str(spec.network.gateway.ip)
        if address in mirror.running():
            mirror.stop(address)
        services.stop_services(spec.network)
        network.remove_firewall(spec.network)
        network.delete_bridge(spec.network.bridge)
        log.info(f"removed bridge {spec.network.bridge} and its firewall rules")


def stop(spec: LocalSpec, name: str) -> None:
    _require_root()
    node = _known(spec, name)
    log.info(f"{name}: stopping")
    node.stop()


def start(spec: LocalSpec, name: str) -> None:
    _require_root()
    node = _known(spec, name)
    if not node.exists():
        raise KubesmithError(f"node {name} does not exist: run `kubesmith nodes create`")
    network.ensure_bridge(spec.network)
    network.apply_firewall(spec.network)
    services.ensure_services(spec.network)
    if not os.path.ismount(node.rootfs):
        raise KubesmithError(f"node {name}: root filesystem not mounted; recreate it")
    log.info(f"{name}: booting")
    node.boot(spec.network.bridge)
    _wait_for_ssh(dataclasses.replace(spec, nodes=(_node_spec(spec, name),)))


def _node_spec(spec: LocalSpec, name: str) -> NodeSpec:
    for node in spec.nodes:
        if node.name == name:
            return node
    known = ", ".join(n.name for n in spec.nodes)
    raise KubesmithError(f"no host {name} in this inventory (hosts: {known})")


def _known(spec: LocalSpec, name: str) -> LocalNode:
    return LocalNode(_node_spec(spec, name).name)


def status(spec: LocalSpec) -> list[tuple[str, str, str, str]]:
    """(name, address, state, groups) for each inventory host."""
    rows = []
    for node in spec.nodes:
        local = LocalNode(node.name)
        if local.running():
            state = "running"
        elif local.exists():
            state = "stopped"
        else:
            state = "absent"
        rows.append((node.name, str(node.address), state, ",".join(node.groups)))
    return rows


def ssh_argv(spec: LocalSpec, name: str, command: list[str]) -> list[str]:
    node = _node_spec(spec, name)
    return ["ssh", *ssh_options(spec), f"{spec.ssh_user}@{node.address}", *command]
