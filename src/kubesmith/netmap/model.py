"""The cluster network as `kubesmith map` sees it: plain, frozen dataclasses.

Everything the picture, the JSON and the problem checks use is here, so each of
them works on a model built by hand as well as on one read from a cluster.
"""

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

FLANNEL_DEVICE = "flannel.1"
BRIDGE_DEVICE = "cni0"
# Inventory groups whose hosts are Kubernetes nodes.
NODE_GROUPS = ("k8s_cluster", "control_plane", "workers")


@dataclass(frozen=True)
class Route:
    """One route of a node's main table (``ip -j route``)."""

    destination: str
    device: str
    gateway: str | None = None


@dataclass(frozen=True)
class VxlanDevice:
    """flannel.1 as the node's kernel has it (``ip -j -d link show flannel.1``)."""

    mac: str
    vni: int | None = None
    local_ip: str | None = None
    port: int | None = None
    mtu: int | None = None
    address: str | None = None


@dataclass(frozen=True)
class ForwardingEntry:
    """A VXLAN forwarding entry on flannel.1: frames for ``mac`` go to ``destination``."""

    mac: str
    destination: str


@dataclass(frozen=True)
class Neighbour:
    """A permanent ARP entry on flannel.1: a peer's pod range gateway and its VTEP MAC."""

    ip: str
    mac: str


@dataclass(frozen=True)
class NodeState:
    """What one SSH call read on a node."""

    routes: tuple[Route, ...] = ()
    cni0: str | None = None
    flannel: VxlanDevice | None = None
    # None where the node could not list them (the checks then skip them).
    forwarding: tuple[ForwardingEntry, ...] | None = None
    neighbours: tuple[Neighbour, ...] | None = None
    resolv_conf: tuple[str, ...] = ()
    resolved_upstream: tuple[str, ...] = ()

    def route_to(self, destination: str) -> Route | None:
        return next((r for r in self.routes if r.destination == destination), None)

    def nameservers(self) -> tuple[str, ...]:
        """The resolvers the node asks, in order; through systemd-resolved's stub
        (127.0.0.53) these are the servers resolved itself uses."""
        listed = _nameservers(self.resolv_conf)
        if listed[:1] == ("127.0.0.53",) and self.resolved_upstream:
            return _nameservers(self.resolved_upstream)
        return listed


def _nameservers(lines: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(
        parts[1]
        for parts in (line.split() for line in lines)
        if len(parts) > 1 and parts[0] == "nameserver"
    )


@dataclass(frozen=True)
class Vtep:
    """The VXLAN endpoint flannel announced in the node's annotations."""

    mac: str | None = None
    public_ip: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class Node:
    """A Kubernetes node: the API's view plus, when SSH worked, its own state."""

    name: str
    address: str | None
    roles: tuple[str, ...] = ()
    ready: bool = True
    not_ready_reason: str = ""
    pod_cidr: str | None = None
    vtep: Vtep = field(default_factory=Vtep)
    state: NodeState | None = None
    state_error: str = ""

    def pod_gateway(self) -> str | None:
        """The pod range's network address, which peers route through flannel.1."""
        if not self.pod_cidr:
            return None
        return str(ipaddress.ip_network(self.pod_cidr, strict=False).network_address)


@dataclass(frozen=True)
class Host:
    """An inventory host that is not a Kubernetes node (an etcd member)."""

    name: str
    address: str | None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    node: str | None
    ip: str | None
    host_network: bool = False
    phase: str = "Running"


@dataclass(frozen=True)
class ServicePort:
    port: int
    protocol: str = "TCP"
    target_port: str = ""
    node_port: int | None = None


@dataclass(frozen=True)
class Endpoint:
    ip: str
    ready: bool = True
    node: str | None = None
    pod: str | None = None


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str = "ClusterIP"
    cluster_ip: str | None = None
    ports: tuple[ServicePort, ...] = ()
    selector: tuple[str, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def ready_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.ready)


@dataclass(frozen=True)
class IngressRule:
    host: str
    path: str
    service: str
    port: str


@dataclass(frozen=True)
class Ingress:
    namespace: str
    name: str
    class_name: str | None = None
    rules: tuple[IngressRule, ...] = ()


@dataclass(frozen=True)
class IngressController:
    """The ingress controller: its namespace, IngressClasses and how it is exposed."""

    namespace: str
    classes: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    node_ports: tuple[int, ...] = ()
    pods: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: str = ""
    policy_types: tuple[str, ...] = ("Ingress",)
    admits: tuple[str, ...] = ()
    allows_egress_to: tuple[str, ...] = ()

    def isolates_ingress(self) -> bool:
        return "Ingress" in self.policy_types


@dataclass(frozen=True)
class ClusterDns:
    ip: str | None
    source: str


@dataclass(frozen=True)
class ClusterMap:
    """Everything `kubesmith map` collected from one cluster."""

    cluster: str
    api_server: str = ""
    node_network: str = ""
    pod_network: str = ""
    dns: ClusterDns = field(default_factory=lambda: ClusterDns(None, "unknown"))
    nodes: tuple[Node, ...] = ()
    other_hosts: tuple[Host, ...] = ()
    pods: tuple[Pod, ...] = ()
    services: tuple[Service, ...] = ()
    ingress_controller: IngressController | None = None
    ingresses: tuple[Ingress, ...] = ()
    network_policies: tuple[NetworkPolicy, ...] = ()

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def pods_on(self, node: str) -> tuple[Pod, ...]:
        return tuple(p for p in self.pods if p.node == node)

    def isolated_namespaces(self) -> tuple[str, ...]:
        """Namespaces where a NetworkPolicy restricts incoming traffic."""
        return tuple(sorted({p.namespace for p in self.network_policies if p.isolates_ingress()}))


@dataclass(frozen=True)
class Problem:
    """Something wrong in the map, with the one line an operator reads."""

    kind: str
    subject: str
    message: str
    peer: str = ""


def to_dict(model: ClusterMap, problems: list[Problem]) -> dict[str, Any]:
    """The model as JSON-ready data, with the derived isolation and the problems."""
    data = asdict(model)
    data["isolated_namespaces"] = list(model.isolated_namespaces())
    data["problems"] = [asdict(p) for p in problems]
    return data
