"""Checks that only a host can answer: its interfaces, ports, clock and size.

The preflight role's host stage gathers the facts on every host in one call
(roles/preflight/library/kubesmith_host_facts.py) and this module judges them.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubesmith.preflight.rules import VXLAN_OVERHEAD

# kubeadm's own preflight minimums for a control plane.
CONTROL_PLANE_CPUS = 2
CONTROL_PLANE_MEMORY_MIB = 1700
# Room for images and the kubelet's eviction reserve on a node; etcd's data.
NODE_DISK_GIB = 4.0
ETCD_DISK_GIB = 1.0
MAX_CLOCK_SKEW_SECONDS = 30.0
KUBELET_PORT = 10250


@dataclass(frozen=True)
class Interface:
    name: str
    mtu: int
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class HostFacts:
    interfaces: Mapping[str, Interface]
    listeners: Mapping[int, str]
    cpus: int
    memory_mib: int
    disk_free_gib: float
    clock_skew_seconds: float

    @classmethod
    def from_module(cls, data: Mapping[str, Any], clock_skew_seconds: float) -> "HostFacts":
        interfaces = {
            i["name"]: Interface(i["name"], int(i["mtu"]), tuple(i["addresses"]))
            for i in data["interfaces"]
        }
        listeners = {int(port): str(proc) for port, proc in data["listeners"].items()}
        return cls(
            interfaces=interfaces,
            listeners=listeners,
            cpus=int(data["cpus"]),
            memory_mib=int(data["memory_mib"]),
            disk_free_gib=float(data["disk_free_gib"]),
            clock_skew_seconds=clock_skew_seconds,
        )


def expected_listeners(groups: Sequence[str], settings: Mapping[str, Any]) -> dict[int, str]:
    """Ports this host's role needs, and the process allowed to hold them (on a re-run)."""
    ports: dict[int, str] = {}
    if "etcd" in groups:
        ports[int(settings.get("etcd_client_port") or 2379)] = "etcd"
        ports[int(settings.get("etcd_peer_port") or 2380)] = "etcd"
    if "control_plane" in groups:
        ports[int(settings.get("kube_api_port") or 6443)] = "kube-apiserver"
        endpoint = str(settings.get("kube_control_plane_endpoint") or "")
        port = endpoint.rpartition(":")[2]
        if settings.get("api_loadbalancer_enabled") and port.isdigit():
            ports[int(port)] = "haproxy"
    if "control_plane" in groups or "workers" in groups:
        ports[KUBELET_PORT] = "kubelet"
    return ports


def _pod_network_interface(
    host: str, facts: HostFacts, settings: Mapping[str, Any], errors: list[str]
) -> Interface | None:
    names = ", ".join(sorted(facts.interfaces))
    wanted = settings.get("pod_network_iface")
    if wanted:
        if wanted not in facts.interfaces:
            errors.append(
                f"host '{host}': pod_network_iface '{wanted}' does not exist there "
                f"(interfaces: {names}); set it to the interface of the node network"
            )
            return None
        return facts.interfaces[wanted]
    node_ip = settings.get("kube_node_ip")
    for interface in facts.interfaces.values():
        if node_ip in interface.addresses:
            return interface
    errors.append(
        f"host '{host}': kube_node_ip {node_ip} is not an address of this host "
        f"(interfaces: {names}); set kube_node_ip (or ansible_host) to its node-network address"
    )
    return None


def check_host(
    host: str, groups: Sequence[str], facts: HostFacts, settings: Mapping[str, Any]
) -> list[str]:
    """Every problem this host has for the role the inventory gives it."""
    errors: list[str] = []
    if "control_plane" in groups or "workers" in groups:
        interface = _pod_network_interface(host, facts, settings, errors)
        mtu = settings.get("pod_network_mtu")
        if interface is not None and mtu is not None and int(mtu) > interface.mtu - VXLAN_OVERHEAD:
            errors.append(
                f"host '{host}': pod_network_mtu {mtu} is larger than {interface.name}'s MTU "
                f"{interface.mtu} minus {VXLAN_OVERHEAD} bytes of VXLAN overhead: set "
                f"pod_network_mtu to {interface.mtu - VXLAN_OVERHEAD} or less"
            )
    for port, owner in sorted(expected_listeners(groups, settings).items()):
        holder = facts.listeners.get(port)
        if holder is not None and holder != owner:
            errors.append(
                f"host '{host}': port {port} is taken by '{holder}' but {owner} needs it: "
                f"stop that service or move it"
            )
    if "control_plane" in groups:
        if facts.cpus < CONTROL_PLANE_CPUS:
            errors.append(
                f"host '{host}': {facts.cpus} CPU, a control plane needs at least "
                f"{CONTROL_PLANE_CPUS} (kubeadm's minimum)"
            )
        if facts.memory_mib < CONTROL_PLANE_MEMORY_MIB:
            errors.append(
                f"host '{host}': {facts.memory_mib} MiB of memory, a control plane needs at "
                f"least {CONTROL_PLANE_MEMORY_MIB} MiB (kubeadm's minimum)"
            )
    need = NODE_DISK_GIB if ("control_plane" in groups or "workers" in groups) else ETCD_DISK_GIB
    if facts.disk_free_gib < need:
        errors.append(
            f"host '{host}': {facts.disk_free_gib:.1f} GiB free under /var, it needs at least "
            f"{need:.0f} GiB for images, logs and data"
        )
    if abs(facts.clock_skew_seconds) > MAX_CLOCK_SKEW_SECONDS:
        errors.append(
            f"host '{host}': its clock is {facts.clock_skew_seconds:+.0f} s off this machine's; "
            f"certificates and tokens need clocks within {MAX_CLOCK_SKEW_SECONDS:.0f} s: "
            f"set the time and enable time sync (node_prereqs_time_sync)"
        )
    return errors
