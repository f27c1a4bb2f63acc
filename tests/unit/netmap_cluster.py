"""A healthy map of the local cluster's shape, built by hand for the netmap tests."""

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from kubesmith.netmap.api import ApiObjects
from kubesmith.netmap.model import (
    ClusterDns,
    ClusterMap,
    Endpoint,
    ForwardingEntry,
    Host,
    Neighbour,
    NetworkPolicy,
    Node,
    NodeState,
    Pod,
    Route,
    Service,
    ServicePort,
    Vtep,
    VxlanDevice,
)

DNS = "10.96.0.10"
NODES = {
    # name: (address, index of its pod range, VTEP MAC)
    "cp1": ("192.168.60.11", 0, "0a:00:00:00:00:11"),
    "worker1": ("192.168.60.21", 1, "0a:00:00:00:00:21"),
    "worker2": ("192.168.60.22", 2, "0a:00:00:00:00:22"),
}

# What `ansible-inventory --list` prints for inventory/local (trimmed).
INVENTORY = {
    "_meta": {
        "hostvars": {
            name: {
                "ansible_host": address,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": "/var/lib/kubesmith/ssh/id_ed25519",
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=yes",
                "kube_cluster_name": "local",
                "kube_node_network": "192.168.60.0/24",
            }
            for name, address in (
                ("etcd1", "192.168.60.10"),
                ("cp1", "192.168.60.11"),
                ("worker1", "192.168.60.21"),
                ("worker2", "192.168.60.22"),
            )
        }
    },
    "all": {"children": ["ungrouped", "etcd", "k8s_cluster"]},
    "etcd": {"hosts": ["etcd1"]},
    "k8s_cluster": {"children": ["control_plane", "workers"]},
    "control_plane": {"hosts": ["cp1"]},
    "workers": {"hosts": ["worker1", "worker2"]},
}


def pod_cidr(name: str) -> str:
    return f"10.244.{NODES[name][1]}.0/24"


def healthy_state(name: str) -> NodeState:
    """What flannel and node_dns leave on a node: every peer routed, known and resolved."""
    address, index, mac = NODES[name]
    peers = [(n, *v) for n, v in NODES.items() if n != name]
    return NodeState(
        routes=(
            Route("default", "host0", "192.168.60.1"),
            Route(pod_cidr(name), "cni0"),
            *(Route(pod_cidr(p), "flannel.1", f"10.244.{i}.0") for p, _, i, _ in peers),
            Route("192.168.60.0/24", "host0"),
        ),
        cni0=f"10.244.{index}.1/24",
        flannel=VxlanDevice(
            mac=mac, vni=1, local_ip=address, port=8472, mtu=1450, address=f"10.244.{index}.0/32"
        ),
        forwarding=tuple(ForwardingEntry(m, a) for _, a, _, m in peers),
        neighbours=tuple(Neighbour(f"10.244.{i}.0", m) for _, _, i, m in peers),
        resolv_conf=(
            "# BEGIN kubesmith node_dns",
            "search svc.cluster.local cluster.local",
            f"nameserver {DNS}",
            "# END kubesmith node_dns",
            "nameserver 192.168.60.1",
        ),
    )


def node(name: str) -> Node:
    address, _, mac = NODES[name]
    return Node(
        name=name,
        address=address,
        roles=("control-plane",) if name == "cp1" else (),
        pod_cidr=pod_cidr(name),
        vtep=Vtep(mac=mac, public_ip=address, backend="vxlan"),
        state=healthy_state(name),
    )


def healthy_map() -> ClusterMap:
    app = Pod("production", "app-v1-5d9c7b7f4-x2x9q", "worker2", "10.244.2.7")
    dns_pods = [
        Pod("kube-system", "coredns-7c65d6cfc9-abcde", "worker1", "10.244.1.3"),
        Pod("kube-system", "coredns-7c65d6cfc9-fghij", "worker2", "10.244.2.3"),
    ]
    host_pods = [
        Pod("kube-system", f"kube-proxy-{n}", n, NODES[n][0], host_network=True) for n in NODES
    ]
    return ClusterMap(
        cluster="local",
        api_server="https://192.168.60.11:6443",
        node_network="192.168.60.0/24",
        pod_network="10.244.0.0/16",
        dns=ClusterDns(DNS, "service kube-system/kube-dns"),
        nodes=tuple(node(n) for n in NODES),
        other_hosts=(Host("etcd1", "192.168.60.10", ("etcd",)),),
        pods=(app, *dns_pods, *host_pods),
        services=(
            Service(
                "default",
                "kubernetes",
                cluster_ip="10.96.0.1",
                ports=(ServicePort(443, target_port="6443"),),
                endpoints=(Endpoint("192.168.60.11"),),
            ),
            Service(
                "kube-system",
                "kube-dns",
                cluster_ip=DNS,
                ports=(ServicePort(53, "UDP", "53"), ServicePort(53, "TCP", "53")),
                selector=("k8s-app=kube-dns",),
                endpoints=tuple(Endpoint(p.ip or "", True, p.node, p.name) for p in dns_pods),
            ),
            Service(
                "production",
                "app-v1",
                type="NodePort",
                cluster_ip="10.104.18.3",
                ports=(ServicePort(80, target_port="8080", node_port=30080),),
                selector=("app=app-v1",),
                endpoints=(Endpoint(app.ip or "", True, app.node, app.name),),
            ),
        ),
        network_policies=(
            NetworkPolicy(
                "production",
                "deny-from-other-namespaces",
                admits=("pods of production", "192.168.60.0/24", "192.168.60.1/32"),
            ),
        ),
    )


def with_node(model: ClusterMap, name: str, **changes) -> ClusterMap:
    """The map with one node changed."""
    nodes = tuple(replace(n, **changes) if n.name == name else n for n in model.nodes)
    return replace(model, nodes=nodes)


def with_state(model: ClusterMap, name: str, **changes) -> ClusterMap:
    """The map with one node's SSH-read state changed."""
    current = model.node(name)
    assert current is not None and current.state is not None
    return with_node(model, name, state=replace(current.state, **changes))


FLANNEL = "flannel.alpha.coreos.com/"


def node_obj(name, address, index, mac, ready=True, role=None):
    labels = {"kubernetes.io/hostname": name}
    if role:
        labels[f"node-role.kubernetes.io/{role}"] = ""
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                FLANNEL + "backend-data": f'{{"VNI":1,"VtepMAC":"{mac}"}}',
                FLANNEL + "backend-type": "vxlan",
                FLANNEL + "kube-subnet-manager": "true",
                FLANNEL + "public-ip": address,
            },
        },
        "spec": {"podCIDR": f"10.244.{index}.0/24", "podCIDRs": [f"10.244.{index}.0/24"]},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "KubeletReady" if ready else "KubeletNotReady",
                    "message": "kubelet is posting ready status"
                    if ready
                    else "container runtime network not ready: cni plugin not initialized",
                },
            ],
        },
    }


def pod_obj(namespace, name, node, ip, host_network=False, phase="Running"):
    return {
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"nodeName": node, "hostNetwork": host_network},
        "status": {"phase": phase, "podIP": ip},
    }


APP_POD = pod_obj("production", "app-v1-5d9c7b7f4-x2x9q", "worker2", "10.244.2.7")
# What the API server lists for the same cluster (trimmed).
OBJECTS = ApiObjects(
    server="https://192.168.60.11:6443",
    nodes=[
        node_obj("worker2", "192.168.60.22", 2, "0a:00:00:00:00:22"),
        node_obj("cp1", "192.168.60.11", 0, "0a:00:00:00:00:11", role="control-plane"),
        node_obj("worker1", "192.168.60.21", 1, "0a:00:00:00:00:21"),
    ],
    pods=[
        APP_POD,
        pod_obj("kube-system", "kube-proxy-abcde", "cp1", "192.168.60.11", host_network=True),
        pod_obj("kube-system", "done-job-xyz", "worker1", None, phase="Succeeded"),
        pod_obj("production", "pending", None, None, phase="Pending") | {"spec": {}},
    ],
    services=[
        {
            "metadata": {"namespace": "production", "name": "app-v1"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.104.18.3",
                "selector": {"app": "app-v1"},
                "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}],
            },
        },
        {
            "metadata": {"namespace": "kube-system", "name": "kube-dns"},
            "spec": {
                "clusterIP": "10.96.0.10",
                "selector": {"k8s-app": "kube-dns"},
                "ports": [{"port": 53, "protocol": "UDP", "targetPort": 53}],
            },
        },
    ],
    endpoint_slices=[
        {
            "metadata": {
                "namespace": "production",
                "name": "app-v1-x7f2k",
                "labels": {"kubernetes.io/service-name": "app-v1"},
            },
            "endpoints": [
                {
                    "addresses": ["10.244.2.7"],
                    "conditions": {"ready": True},
                    "nodeName": "worker2",
                    "targetRef": {"kind": "Pod", "name": "app-v1-5d9c7b7f4-x2x9q"},
                }
            ],
        },
        {
            "metadata": {
                "namespace": "kube-system",
                "name": "kube-dns-abc12",
                "labels": {"kubernetes.io/service-name": "kube-dns"},
            },
            "endpoints": [
                {"addresses": ["10.244.1.3"], "conditions": {"ready": False}, "nodeName": "worker1"}
            ],
        },
    ],
    ingresses=[
        {
            "metadata": {"namespace": "production", "name": "app-v1"},
            "spec": {
                "ingressClassName": "nginx",
                "rules": [
                    {
                        "host": "app.example",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "app-v1", "port": {"number": 80}}
                                    },
                                }
                            ]
                        },
                    }
                ],
            },
        }
    ],
    ingress_classes=[
        {"metadata": {"name": "nginx"}, "spec": {"controller": "nginx.org/ingress-controller"}}
    ],
    network_policies=[
        {
            "metadata": {"namespace": "production", "name": "deny-from-other-namespaces"},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {}},
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "nginx-ingress"}
                                }
                            },
                            {"ipBlock": {"cidr": "192.168.60.0/24"}},
                        ]
                    }
                ],
            },
        },
        {
            "metadata": {"namespace": "other", "name": "web"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}],
            },
        },
    ],
)


def _sh(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


@contextmanager
def node_netns(name: str) -> Iterator[Callable[..., str]]:
    """A throwaway network namespace holding what flannel and node_dns leave on the
    node ``name`` of the healthy map (host0, flannel.1 with its routes, forwarding and
    ARP entries, cni0, resolv.conf); yields a runner of commands inside it, whose
    ``name`` attribute is the namespace's. No traffic is sent."""
    if os.geteuid() != 0 or shutil.which("bridge") is None:
        pytest.skip("needs root and iproute2 (ip, bridge)")
    namespace = f"ksmap-{uuid.uuid4().hex[:6]}-{name}"
    etc = Path("/etc/netns") / namespace
    address, index, _ = NODES[name]
    state = healthy_state(name)

    def ns(*args: str) -> str:
        return _sh("ip", "netns", "exec", namespace, *args)

    ns.name = namespace  # type: ignore[attr-defined]
    try:
        _sh("ip", "netns", "add", namespace)
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("\n".join(state.resolv_conf) + "\n")
        ns("ip", "link", "add", "host0", "type", "veth", "peer", "name", "host0-peer")
        ns("ip", "addr", "add", f"{address}/24", "dev", "host0")
        ns("ip", "link", "set", "host0", "up")
        ns(
            "ip", "link", "add", "flannel.1", "address", state.flannel.mac, "type", "vxlan",
            "id", "1", "local", address, "dev", "host0", "dstport", "8472", "nolearning",
        )  # fmt: skip
        ns("ip", "link", "set", "flannel.1", "mtu", "1450")
        ns("ip", "addr", "add", f"10.244.{index}.0/32", "dev", "flannel.1")
        ns("ip", "link", "set", "flannel.1", "up")
        ns("ip", "link", "add", "cni0", "type", "bridge")
        ns("ip", "addr", "add", f"10.244.{index}.1/24", "dev", "cni0")
        ns("ip", "link", "set", "cni0", "up")
        for entry in state.forwarding:
            ns("bridge", "fdb", "add", entry.mac, "dev", "flannel.1", "dst", entry.destination)
        for neighbour in state.neighbours:
            ns(
                "ip", "neigh", "add", neighbour.ip, "lladdr", neighbour.mac,
                "dev", "flannel.1", "nud", "permanent",
            )  # fmt: skip
        for route in state.routes:
            if route.device == "flannel.1":
                ns(
                    "ip", "route", "add", route.destination, "via", route.gateway,
                    "dev", "flannel.1", "onlink",
                )  # fmt: skip
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
        shutil.rmtree(etc, ignore_errors=True)
