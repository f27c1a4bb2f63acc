"""More of the NetworkPolicy API, enforced by whichever engine the scenario
runs: an egress policy, an ipBlock with except, a peer that needs both a
namespace and a pod selector, and a named port. Every client runs on
worker1 and every check covers a same-node pair (server on worker1) and a
cross-node pair (server on worker2), with a negative control that shows the
policy is what decides. Then: how fast a new policy stops new connections
and its deletion lets them through again, and (kube-network-policies) that
same-node traffic on the cni0 bridge is policed through br_netfilter.

The policies live here, applied and removed by each test."""

import re
import subprocess
import time

import pytest
import yaml

from conftest import (
    ADMIN_CONF,
    ENGINE,
    K8S_NODES,
    KUBECTL,
    TESTBOX,
    connects,
    engine_scenarios_only,
    kubectl,
    kubectl_json,
    other,
    pod_exec,
    wait_for,
)

pytestmark = engine_scenarios_only

testinfra_hosts = ["cp1"]

SERVERS = "np-servers"
PAIRS = {"same": "worker1", "cross": "worker2"}
# How long a policy change may take to show (the engines react in seconds).
SETTLE = 30


def _pod(namespace: str, name: str, node: str, labels: dict[str, str]) -> dict:
    """A test pod pinned to a node, serving its node name over HTTP on two
    named ports: http (8080) and metrics (9090)."""
    serve = (
        'mkdir -p /www && echo "$NODE_NAME" > /www/index.html'
        " && busybox httpd -p 9090 -h /www && exec busybox httpd -f -p 8080 -h /www"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "nodeName": node,
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "main",
                    "image": TESTBOX,
                    "command": ["sh", "-c", serve],
                    "env": [
                        {
                            "name": "NODE_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                        }
                    ],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                    ],
                }
            ],
        },
    }


def _namespace(name: str, labels: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": labels or {}},
    }


def _service(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": SERVERS},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": "http"}]},
    }


def apply(*objects: dict) -> None:
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def delete_policy(namespace: str, name: str) -> None:
    kubectl("-n", namespace, "delete", "networkpolicy", name, "--ignore-not-found")


def policy(namespace: str, name: str, spec: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


CLIENTS = (
    # namespace, pod, namespace labels, pod labels
    ("np-blue", "client", {"team": "blue"}, {"role": "client"}),
    ("np-blue", "guest", {"team": "blue"}, {"role": "guest"}),
    ("np-red", "client", {"team": "red"}, {"role": "client"}),
    ("np-egress", "client", {}, {"role": "client"}),
)


@pytest.fixture(scope="module")
def servers():
    """Servers web-* and other-* on worker1 and worker2 behind the Services
    web and other; clients on worker1 in namespaces np-blue, np-red and
    np-egress. Returns pair -> {app: pod IP}."""
    client_namespaces = {ns: labels for ns, _, labels, _ in CLIENTS}
    objects = [_namespace(SERVERS)]
    objects += [_namespace(ns, labels) for ns, labels in client_namespaces.items()]
    for app in ("web", "other"):
        objects += [_pod(SERVERS, f"{app}-{node}", node, {"app": app}) for node in PAIRS.values()]
        objects.append(_service(app))
    objects += [_pod(ns, pod, "worker1", labels) for ns, pod, _, labels in CLIENTS]
    apply(*objects)
    namespaces = [SERVERS, *client_namespaces]
    for ns in namespaces:
        kubectl("-n", ns, "wait", "--for=condition=Ready", "pod", "--all", "--timeout=180s")
    pods = {
        p["metadata"]["name"]: p["status"]["podIP"]
        for p in kubectl_json("-n", SERVERS, "get", "pods")["items"]
    }
    yield {
        pair: {app: pods[f"{app}-{node}"] for app in ("web", "other")}
        for pair, node in PAIRS.items()
    }
    kubectl("delete", "namespace", *namespaces, "--wait=false", check=False)


def reaches(client: tuple[str, str], ip: str, port: int = 8080) -> bool:
    return connects(*client, f"http://{ip}:{port}/")


BLUE_CLIENT = ("np-blue", "client")
BLUE_GUEST = ("np-blue", "guest")
RED_CLIENT = ("np-red", "client")
EGRESS_CLIENT = ("np-egress", "client")


def settles(predicate) -> bool:
    return bool(wait_for(predicate, timeout=SETTLE, interval=1))


# 1. egress: a namespace may reach only DNS and one service ------------------
DNS_AND_WEB_ONLY = {
    "podSelector": {},
    "policyTypes": ["Egress"],
    "egress": [
        {
            "to": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                    },
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": SERVERS}},
                    "podSelector": {"matchLabels": {"app": "web"}},
                }
            ],
            "ports": [{"protocol": "TCP", "port": 8080}],
        },
    ],
}


@pytest.mark.parametrize("pair", PAIRS)
def test_egress_reaches_only_dns_and_one_service(servers, pair):
    ip = servers[pair]
    assert reaches(EGRESS_CLIENT, ip["other"]), "without a policy everything is reachable"
    apply(policy("np-egress", "dns-and-web-only", DNS_AND_WEB_ONLY))
    try:
        assert settles(lambda: not reaches(EGRESS_CLIENT, ip["other"])), "other must be blocked"
        assert reaches(EGRESS_CLIENT, ip["web"]), "the one allowed service's pods"
        # By name: DNS answers for both services, only web's connection opens.
        dig = pod_exec(*EGRESS_CLIENT, "dig", "+short", f"other.{SERVERS}.svc.cluster.local")
        assert dig.stdout.strip(), "DNS must stay reachable"
        assert connects(*EGRESS_CLIENT, f"http://web.{SERVERS}/")
        assert not connects(*EGRESS_CLIENT, f"http://other.{SERVERS}/")
    finally:
        delete_policy("np-egress", "dns-and-web-only")
    # Negative control: the policy removed, the other service answers again.
    assert settles(lambda: reaches(EGRESS_CLIENT, ip["other"]))


# 2. ipBlock with except -------------------------------------------------------
def pod_subnet() -> str:
    config = kubectl(
        "-n",
        "kube-system",
        "get",
        "cm",
        "kubeadm-config",
        "-o",
        "jsonpath={.data.ClusterConfiguration}",
    ).stdout
    return yaml.safe_load(config)["networking"]["podSubnet"]


def pod_ip(namespace: str, name: str) -> str:
    return kubectl_json("-n", namespace, "get", "pod", name)["status"]["podIP"]


def from_pods_except(excepted: list[str]) -> dict:
    block = {"cidr": pod_subnet(), **({"except": excepted} if excepted else {})}
    return {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"ipBlock": block}]}],
    }


@pytest.mark.parametrize("pair", PAIRS)
def test_ip_block_with_except(servers, pair):
    web = servers[pair]["web"]
    guest = f"{pod_ip(*BLUE_GUEST)}/32"
    apply(policy(SERVERS, "pods-but-guest", from_pods_except([guest])))
    try:
        assert settles(lambda: not reaches(BLUE_GUEST, web)), "the excepted address is blocked"
        assert reaches(BLUE_CLIENT, web), "the rest of the block passes"
        # Negative control: the same block without the except lets the guest in.
        apply(policy(SERVERS, "pods-but-guest", from_pods_except([])))
        assert settles(lambda: reaches(BLUE_GUEST, web))
    finally:
        delete_policy(SERVERS, "pods-but-guest")


# 3. namespaceSelector and podSelector in one peer (both must match) ----------
def from_blue_clients(one_peer: bool) -> dict:
    namespaces = {"namespaceSelector": {"matchLabels": {"team": "blue"}}}
    pods = {"podSelector": {"matchLabels": {"role": "client"}}}
    peers = [{**namespaces, **pods}] if one_peer else [namespaces, pods]
    return {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers}],
    }


@pytest.mark.parametrize("pair", PAIRS)
def test_namespace_and_pod_selector_in_one_peer(servers, pair):
    web = servers[pair]["web"]
    apply(policy(SERVERS, "blue-clients", from_blue_clients(one_peer=True)))
    try:
        assert settles(lambda: not reaches(RED_CLIENT, web)), "right role, wrong namespace"
        assert not reaches(BLUE_GUEST, web), "right namespace, wrong role"
        assert reaches(BLUE_CLIENT, web), "both match"
        # Negative control: the two selectors as separate peers (either one
        # suffices) let both of the others in.
        apply(policy(SERVERS, "blue-clients", from_blue_clients(one_peer=False)))
        assert settles(lambda: reaches(RED_CLIENT, web) and reaches(BLUE_GUEST, web))
    finally:
        delete_policy(SERVERS, "blue-clients")


# 4. a named port -------------------------------------------------------------
def only_port(name: str) -> dict:
    return {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"protocol": "TCP", "port": name}]}],
    }


@pytest.mark.parametrize("pair", PAIRS)
def test_named_port(servers, pair):
    web = servers[pair]["web"]
    apply(policy(SERVERS, "one-port", only_port("http")))
    try:
        assert settles(lambda: not reaches(BLUE_CLIENT, web, 9090)), "metrics (9090) is blocked"
        assert reaches(BLUE_CLIENT, web, 8080), "http (8080) passes"
        # Negative control: naming the other port swaps which one answers.
        apply(policy(SERVERS, "one-port", only_port("metrics")))
        assert settles(lambda: reaches(BLUE_CLIENT, web, 9090))
        assert settles(lambda: not reaches(BLUE_CLIENT, web, 8080))
    finally:
        delete_policy(SERVERS, "one-port")


# 5. how fast a policy takes hold --------------------------------------------
ISOLATE_SERVERS = {
    "podSelector": {},
    "policyTypes": ["Ingress"],
    "ingress": [{"from": [{"podSelector": {}}]}],
}


def connection_attempts(client: tuple[str, str], url: str, seconds: int) -> subprocess.Popen:
    """A new connection every 0.2 s from the pod for ``seconds``, printing when
    each attempt started (the nodes' clock is this machine's) and its outcome."""
    loop = (
        f"end=$(($(date +%s) + {seconds})); while [ $(date +%s) -lt $end ]; do t=$(date +%s.%N);"
        f" if curl -s -o /dev/null --connect-timeout 1 -m 2 {url}; then echo $t ok;"
        " else echo $t fail; fi; sleep 0.2; done"
    )
    namespace, pod = client
    return subprocess.Popen(
        [
            KUBECTL,
            f"--kubeconfig={ADMIN_CONF}",
            "-n",
            namespace,
            "exec",
            pod,
            "--",
            "sh",
            "-c",
            loop,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def outcomes(attempts: subprocess.Popen) -> list[tuple[float, bool]]:
    out, _ = attempts.communicate(timeout=120)
    return [(float(t), result == "ok") for t, result in (line.split() for line in out.splitlines())]


def settled_after(results: list[tuple[float, bool]], since: float, passing: bool) -> float:
    """Seconds from ``since`` to the first attempt after which every attempt
    had the outcome ``passing``."""
    later = [(t, ok) for t, ok in results if t >= since]
    assert later and later[-1][1] is passing, f"never settled: {later[-5:]}"
    first = next(i for i in range(len(later)) if all(ok is passing for _, ok in later[i:]))
    return later[first][0] - since


def test_a_new_policy_stops_new_connections_within_seconds(servers, capsys):
    """Connections run from np-red to web on worker2; a policy isolating the
    servers' namespace is added, later deleted. Measured: seconds from the API
    accepting each change to the first connection attempt that shows it."""
    url = f"http://{servers['cross']['web']}:8080/"
    attempts = connection_attempts(RED_CLIENT, url, 30)
    time.sleep(8)
    try:
        apply(policy(SERVERS, "isolate", ISOLATE_SERVERS))
        added = time.time()
        results = outcomes(attempts)
        # Negative control: before the policy, the same connections passed.
        before = [ok for t, ok in results if t < added - 0.5]
        assert before and all(before), results[:10]
        blocked_after = settled_after(results, added, passing=False)
        attempts = connection_attempts(RED_CLIENT, url, 30)
        time.sleep(8)
    finally:
        delete_policy(SERVERS, "isolate")
    deleted = time.time()
    results = outcomes(attempts)
    assert all(not ok for t, ok in results if t < deleted - 0.5), "blocked until the deletion"
    passing_after = settled_after(results, deleted, passing=True)
    with capsys.disabled():
        print(
            f"\n{ENGINE}: policy added -> new connections blocked after {blocked_after:.1f} s;"
            f" policy deleted -> new connections pass after {passing_after:.1f} s"
        )
    assert blocked_after < 10 and passing_after < 10


# 6. same-node traffic on cni0 passes through netfilter ----------------------
@pytest.mark.parametrize("name", K8S_NODES)
def test_bridged_traffic_goes_through_iptables_on_every_node(host, name):
    value = other(host, name).file("/proc/sys/net/bridge/bridge-nf-call-iptables").content_string
    assert value.strip() == "1"


@pytest.fixture
def worker1_bridge_netfilter(host):
    """Sets net.bridge.bridge-nf-call-iptables on worker1 for the test and
    turns it back on whatever happens."""
    worker1 = other(host, "worker1")

    def switch(value: int) -> None:
        worker1.run_expect([0], f"sysctl -qw net.bridge.bridge-nf-call-iptables={value}")

    try:
        yield switch
    finally:
        switch(1)


@pytest.mark.skipif(ENGINE == "calico", reason="Calico routes same-node pod traffic (no bridge)")
def test_same_node_traffic_on_cni0_is_policed_through_br_netfilter(
    host, servers, worker1_bridge_netfilter
):
    """np-red's client and web-worker1 share worker1's cni0 bridge. Isolating
    the servers' namespace puts web-worker1 in kube-network-policies' nftables
    set and blocks the pair. With bridge-nf-call-iptables off, the bridge
    delivers the frames without netfilter and the policy is bypassed, while
    the routed cross-node pair stays blocked; back on, the pair is blocked
    again: enforcement between pods on one node comes from br_netfilter."""
    worker1 = other(host, "worker1")
    same, cross = servers["same"]["web"], servers["cross"]["web"]
    assert "dev cni0" in worker1.check_output(f"ip route get {same}")

    def in_nft_set() -> bool:
        elements = worker1.check_output("nft list set inet kube-network-policies podips-v4")
        return same in re.findall(r"\d+\.\d+\.\d+\.\d+", elements)

    apply(policy(SERVERS, "isolate", ISOLATE_SERVERS))
    try:
        assert settles(lambda: not reaches(RED_CLIENT, same)), "same-node pair must be blocked"
        assert in_nft_set()
        worker1_bridge_netfilter(0)
        assert settles(lambda: reaches(RED_CLIENT, same)), "without br_netfilter it passes"
        assert not reaches(RED_CLIENT, cross), "the routed pair is still policed"
        worker1_bridge_netfilter(1)
        assert settles(lambda: not reaches(RED_CLIENT, same)), "blocked again"
    finally:
        delete_policy(SERVERS, "isolate")
    # Negative control: without the policy, web-worker1 leaves the set.
    assert settles(lambda: not in_nft_set())
