"""Problems in a cluster map: pure functions over the model, one kind each.

Each check returns the problems it finds as `Problem`s whose message is the
one line an operator reads; `find_problems` runs them all in a stable order.
"""

import ipaddress
from collections.abc import Callable, Iterator

from kubesmith.netmap.model import (
    FLANNEL_DEVICE,
    NODE_GROUPS,
    ClusterMap,
    Node,
    NodeState,
    Problem,
    Service,
)

NODE_UNREACHABLE = "node-unreachable"
NODE_NOT_READY = "node-not-ready"
NODE_NOT_JOINED = "node-not-joined"
NO_POD_CIDR = "no-pod-cidr"
FLANNEL_MISSING = "flannel-missing"
VTEP_MISMATCH = "vtep-mismatch"
CNI0_MISMATCH = "cni0-mismatch"
ROUTE_MISSING = "route-missing"
ROUTE_WRONG = "route-wrong"
FORWARDING_MISSING = "forwarding-missing"
NEIGHBOUR_MISSING = "neighbour-missing"
DNS_NOT_FIRST = "dns-not-first"
SERVICE_NO_ENDPOINTS = "service-no-endpoints"

_REASON_WIDTH = 160


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _REASON_WIDTH else flat[: _REASON_WIDTH - 1] + "…"


def node_unreachable(model: ClusterMap) -> Iterator[Problem]:
    for node in model.nodes:
        if node.state is None:
            reason = _one_line(node.state_error or "not read")
            yield Problem(
                NODE_UNREACHABLE, node.name, f"{node.name}: routes and devices unread: {reason}"
            )


def node_not_ready(model: ClusterMap) -> Iterator[Problem]:
    for node in model.nodes:
        if not node.ready:
            reason = _one_line(node.not_ready_reason or "no reason given")
            yield Problem(NODE_NOT_READY, node.name, f"{node.name} is NotReady: {reason}")


def nodes_not_joined(model: ClusterMap) -> Iterator[Problem]:
    """Inventory hosts meant to be Kubernetes nodes that the API does not know."""
    for host in model.other_hosts:
        if groups := sorted(set(host.groups) & set(NODE_GROUPS)):
            yield Problem(
                NODE_NOT_JOINED,
                host.name,
                f"{host.name} is in the inventory's {', '.join(groups)} "
                "but not a node of the cluster",
            )


def no_pod_cidr(model: ClusterMap) -> Iterator[Problem]:
    for node in model.nodes:
        if not node.pod_cidr:
            yield Problem(
                NO_POD_CIDR,
                node.name,
                f"{node.name} has no pod range (spec.podCIDR): flannel gives it no subnet",
            )


def flannel_missing(model: ClusterMap) -> Iterator[Problem]:
    for node in model.nodes:
        if node.state is not None and node.state.flannel is None:
            yield Problem(
                FLANNEL_MISSING,
                node.name,
                f"{node.name} has no {FLANNEL_DEVICE} device: no VXLAN tunnel to or from its pods",
            )


def vtep_mismatch(model: ClusterMap) -> Iterator[Problem]:
    for node in model.nodes:
        device = node.state.flannel if node.state else None
        announced = node.vtep.mac
        if device and announced and device.mac.lower() != announced.lower():
            yield Problem(
                VTEP_MISMATCH,
                node.name,
                f"{node.name}'s {FLANNEL_DEVICE} has MAC {device.mac} but flannel announced "
                f"{announced}: peers send its VXLAN frames to the wrong MAC",
            )


def cni0_mismatch(model: ClusterMap) -> Iterator[Problem]:
    for node in model.nodes:
        cni0 = node.state.cni0 if node.state else None
        if not cni0 or not node.pod_cidr:
            continue
        address = ipaddress.ip_interface(cni0).ip
        if address not in ipaddress.ip_network(node.pod_cidr, strict=False):
            yield Problem(
                CNI0_MISMATCH,
                node.name,
                f"{node.name}'s cni0 has {cni0}, outside its pod range {node.pod_cidr}",
            )


def _overlay_pairs(model: ClusterMap) -> Iterator[tuple[Node, NodeState, Node, str]]:
    """(node, its state, peer, peer's pod range) for every node whose overlay is up
    and every other node with a pod range.

    A node without state or without flannel.1 has its own problem already; its
    missing routes would only repeat it.
    """
    for node in model.nodes:
        if node.state is None or node.state.flannel is None:
            continue
        for peer in model.nodes:
            if peer.name != node.name and peer.pod_cidr:
                yield node, node.state, peer, peer.pod_cidr


def routes(model: ClusterMap) -> Iterator[Problem]:
    """Every node routes every other node's pod range via flannel.1, as flannel adds it."""
    for node, state, peer, cidr in _overlay_pairs(model):
        route = state.route_to(cidr)
        expected = f"via {peer.pod_gateway()} dev {FLANNEL_DEVICE}"
        if route is None:
            yield Problem(
                ROUTE_MISSING,
                node.name,
                f"{node.name} has no route to {peer.name}'s pod range {cidr} (expected {expected})",
                peer=peer.name,
            )
        elif route.device != FLANNEL_DEVICE or route.gateway != peer.pod_gateway():
            actual = f"via {route.gateway} dev {route.device}" if route.gateway else route.device
            yield Problem(
                ROUTE_WRONG,
                node.name,
                f"{node.name} routes {peer.name}'s pod range {cidr} {actual}, not {expected}",
                peer=peer.name,
            )


def vxlan_entries(model: ClusterMap) -> Iterator[Problem]:
    """flannel.1 knows each peer's VTEP: an ARP entry for the peer's range gateway
    and a forwarding entry from the peer's VTEP MAC to its public address."""
    for node, state, peer, _ in _overlay_pairs(model):
        mac, public_ip = peer.vtep.mac, peer.vtep.public_ip
        if not mac:
            continue
        forwarding = state.forwarding
        if (
            forwarding is not None
            and public_ip
            and not any(
                e.mac.lower() == mac.lower() and e.destination == public_ip for e in forwarding
            )
        ):
            yield Problem(
                FORWARDING_MISSING,
                node.name,
                f"{node.name}'s {FLANNEL_DEVICE} has no forwarding entry {mac} -> {public_ip} "
                f"for {peer.name}'s VTEP",
                peer=peer.name,
            )
        neighbours, gateway = state.neighbours, peer.pod_gateway()
        if neighbours is not None and not any(
            n.ip == gateway and n.mac.lower() == mac.lower() for n in neighbours
        ):
            yield Problem(
                NEIGHBOUR_MISSING,
                node.name,
                f"{node.name}'s {FLANNEL_DEVICE} has no ARP entry {gateway} -> {mac} "
                f"for {peer.name}'s VTEP",
                peer=peer.name,
            )


def dns_first(model: ClusterMap) -> Iterator[Problem]:
    dns = model.dns.ip
    if not dns:
        return
    for node in model.nodes:
        if node.state is None:
            continue
        servers = node.state.nameservers()
        if not servers:
            yield Problem(
                DNS_NOT_FIRST,
                node.name,
                f"{node.name}'s resolv.conf lists no nameserver (cluster DNS {dns} expected first)",
            )
        elif servers[0] != dns:
            yield Problem(
                DNS_NOT_FIRST,
                node.name,
                f"{node.name}'s resolv.conf asks {servers[0]} first, not the cluster DNS {dns}",
            )


def _selects_pods(service: Service) -> bool:
    return bool(service.selector) and service.type != "ExternalName"


def services_without_endpoints(model: ClusterMap) -> Iterator[Problem]:
    for service in model.services:
        if _selects_pods(service) and not service.ready_endpoints():
            selector = ",".join(service.selector)
            yield Problem(
                SERVICE_NO_ENDPOINTS,
                service.key,
                f"Service {service.key} has no ready endpoints: no ready pod matches {selector}",
            )


CHECKS: tuple[Callable[[ClusterMap], Iterator[Problem]], ...] = (
    node_unreachable,
    node_not_ready,
    nodes_not_joined,
    no_pod_cidr,
    flannel_missing,
    vtep_mismatch,
    cni0_mismatch,
    routes,
    vxlan_entries,
    dns_first,
    services_without_endpoints,
)


def find_problems(model: ClusterMap) -> list[Problem]:
    """Every problem in the map, node problems first, in a stable order."""
    return [problem for check in CHECKS for problem in check(model)]
