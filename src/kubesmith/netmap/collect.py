"""Reading a live cluster into the model: nodes over SSH and the API, at the same time.

Only reads: the nodes run NODE_SCRIPT (``ip``, ``bridge``, ``head``), the API is
listed. Nothing else is contacted.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from kubesmith.netmap import api
from kubesmith.netmap.model import ClusterMap, Host, Node, NodeState
from kubesmith.netmap.probe import probe_all
from kubesmith.netmap.targets import MapTarget, SshTarget

HIDDEN_GROUPS = ("all", "ungrouped")


def _inventory_host(node: Node, targets: tuple[SshTarget, ...]) -> SshTarget | None:
    """The inventory host behind an API node: same name, else same node address."""
    by_name = next((t for t in targets if t.name == node.name), None)
    if by_name is not None:
        return by_name
    return next((t for t in targets if node.address and t.node_ip == node.address), None)


def _host(target: SshTarget) -> Host:
    groups = tuple(g for g in target.groups if g not in HIDDEN_GROUPS)
    return Host(name=target.name, address=target.node_ip, groups=groups)


def assemble(
    target: MapTarget, objects: api.ApiObjects, states: dict[str, NodeState | str]
) -> ClusterMap:
    """The model from the API's objects and what SSH read on each inventory host."""
    nodes = []
    matched: set[str] = set()
    for listed in sorted((api.node(o) for o in objects.nodes), key=lambda n: n.name):
        host = _inventory_host(listed, target.nodes)
        if host is None:
            nodes.append(_with_state(listed, "not in the inventory, so not reached over SSH"))
            continue
        matched.add(host.name)
        nodes.append(_with_state(listed, states.get(host.name, "not read")))
    unmatched = [t for t in target.nodes if t.name not in matched]
    pods = api.pods(objects.pods)
    services = api.services(objects.services, objects.endpoint_slices)
    return ClusterMap(
        cluster=target.cluster,
        api_server=objects.server,
        node_network=target.node_network,
        pod_network=target.pod_network,
        dns=api.cluster_dns(services, target.dns_ip),
        nodes=tuple(nodes),
        other_hosts=tuple(_host(t) for t in (*unmatched, *target.other_hosts)),
        pods=pods,
        services=services,
        ingress_controller=api.ingress_controller(
            target.ingress_namespace, objects.ingress_classes, services, pods
        ),
        ingresses=api.ingresses(objects.ingresses),
        network_policies=api.network_policies(objects.network_policies),
    )


def _with_state(node: Node, state: NodeState | str) -> Node:
    if isinstance(state, NodeState):
        return replace(node, state=state)
    return replace(node, state=None, state_error=state)


def collect(target: MapTarget, kubeconfig: Path | None = None) -> ClusterMap:
    """Read the cluster: every node over SSH in parallel while the API is listed."""
    client = api.open_client(kubeconfig or target.kubeconfig)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            states = pool.submit(probe_all, target.nodes)
            objects = api.read_objects(client)
            return assemble(target, objects, states.result())
    finally:
        client.close()
