"""The live cluster: nodes, etcd, routes, pod traffic, services, DNS,
isolation and a reboot, each check with a negative control."""

import ipaddress
import json
import re
import urllib.request

import pytest

from conftest import (
    ADDRESSES,
    DNS_IP,
    ETCD_HOSTS,
    FAR,
    K8S_NODES,
    NEAR,
    NODE_PORT,
    PAGE,
    app_pod,
    etcdctl_command,
    kubectl,
    kubectl_json,
    other,
    pod_exec,
    run_playbook,
    serves_page,
    wait_for,
)

# Runs once, from cp1's point of view; other hosts via host.get_host().
testinfra_hosts = ["cp1"]


def gateway(pod_cidr: str) -> str:
    return str(ipaddress.ip_network(pod_cidr).network_address + 1)


# 1. nodes and etcd ---------------------------------------------------------
def test_every_node_ready():
    items = kubectl_json("get", "nodes")["items"]
    assert sorted(i["metadata"]["name"] for i in items) == sorted(K8S_NODES)
    for item in items:
        ready = next(c for c in item["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", item["metadata"]["name"]


def test_kubelets_evict_by_absolute_disk_sizes_and_see_no_pressure():
    """These nodes share this machine's disk: the kubelets run with absolute
    eviction thresholds (a percentage of a large shared disk put every node
    under DiskPressure), and no node reports pressure."""
    for name in K8S_NODES:
        path = f"/api/v1/nodes/{name}/proxy/configz"
        config = json.loads(kubectl("get", "--raw", path).stdout)["kubeletconfig"]
        assert config["evictionHard"]["nodefs.available"] == "2Gi", name
        assert config["evictionHard"]["imagefs.available"] == "2Gi", name
    for item in kubectl_json("get", "nodes")["items"]:
        pressure = next(c for c in item["status"]["conditions"] if c["type"] == "DiskPressure")
        assert pressure["status"] == "False", item["metadata"]["name"]
        taints = [t["key"] for t in item["spec"].get("taints", [])]
        assert "node.kubernetes.io/disk-pressure" not in taints, item["metadata"]["name"]


ETCD = ETCD_HOSTS[0]


def test_etcd_healthy_over_mutual_tls(host):
    etcd = other(host, ETCD)
    result = etcd.run(f"{etcdctl_command(ETCD)} endpoint health")
    assert result.rc == 0 and "is healthy" in result.stdout + result.stderr


def test_etcd_refuses_a_client_without_certificate(host):
    etcd = other(host, ETCD)
    result = etcd.run(f"{etcdctl_command(ETCD, client_cert=False)} endpoint health")
    assert result.rc != 0
    tls = etcd.run(
        f"curl -sS -m 5 --cacert /etc/etcd/pki/ca.crt https://{ADDRESSES[ETCD]}:2379/health"
    )
    assert tls.rc != 0, "TLS handshake without a client certificate must fail"


# 2. routes -----------------------------------------------------------------
@pytest.mark.parametrize("name", K8S_NODES)
def test_pod_subnet_on_cni0_and_routes_via_flannel(host, nodes, workloads, name):
    node = other(host, name)
    cni0 = node.check_output("ip -4 -o addr show cni0")
    assert f"{gateway(nodes[name]['pod_cidr'])}/" in cni0
    routes = node.check_output("ip route")
    for peer, info in nodes.items():
        cidr = info["pod_cidr"]
        if peer == name:
            assert re.search(rf"^{re.escape(cidr)} dev cni0", routes, re.MULTILINE), routes
        else:
            via = ipaddress.ip_network(cidr).network_address
            assert f"{cidr} via {via} dev flannel.1" in routes, routes


def test_route_to_a_pod_on_another_node_uses_flannel(host, workloads):
    near = other(host, NEAR)
    remote = workloads[FAR]["status"]["podIP"]
    local = workloads[NEAR]["status"]["podIP"]
    assert "dev flannel.1" in near.check_output(f"ip route get {remote}")
    # Negative control: a pod on the node itself is reached over cni0, not the overlay.
    assert "dev cni0" in near.check_output(f"ip route get {local}")


# 3. pod to pod across nodes, no NAT -----------------------------------------
def test_pod_to_pod_across_nodes_keeps_the_client_address(workloads, nodes):
    client, server = workloads[NEAR], workloads[FAR]
    result = pod_exec(
        "kubesmith-test",
        client["metadata"]["name"],
        "curl",
        "-sS",
        "-m",
        "5",
        f"http://{server['status']['podIP']}:8080/",
    )
    assert result.stdout.strip() == FAR, result.stderr

    def server_log():
        return kubectl("-n", "kubesmith-test", "logs", server["metadata"]["name"]).stdout

    client_ip = client["status"]["podIP"]
    assert wait_for(lambda: client_ip in server_log(), timeout=10), server_log()[-500:]
    # Negative control: the server never saw the client node's own address.
    assert nodes[NEAR]["address"] not in server_log()


# 4. services ---------------------------------------------------------------
def test_cluster_ip_from_a_pod_and_from_every_node(host):
    ip = kubectl(
        "-n", "production", "get", "svc", "app-v1", "-o", "jsonpath={.spec.clusterIP}"
    ).stdout
    assert (
        pod_exec("production", "probe", "curl", "-sS", "-m", "5", f"http://{ip}/").stdout.strip()
        == PAGE
    )
    for name in K8S_NODES:
        assert other(host, name).check_output(f"curl -sS -m 5 http://{ip}/") == PAGE


def test_node_port_on_every_node_even_without_the_pod(host, nodes):
    pod_node = app_pod()["spec"]["nodeName"]
    assert any(n != pod_node for n in K8S_NODES)
    # The client is cp1's host network: production admits the cluster's nodes
    # (other clients are "another namespace" to its policy unless the inventory
    # lists them in network_policies_allow_cidrs).
    client = other(host, "cp1")
    for name in K8S_NODES:
        url = f"http://{nodes[name]['address']}:{NODE_PORT}/"
        assert client.check_output(f"curl -sS -m 5 {url}") == PAGE, name
    # Negative control: a port no service claims is refused.
    assert client.run(f"curl -sS -m 5 http://{nodes['worker1']['address']}:30081/").rc != 0


def test_every_node_reaches_the_app_pod_directly(host):
    """Node to pod by IP, the pod's own node included: traffic to local pods
    leaves through cni0 and must pass the isolation like node traffic does."""
    pod = app_pod()
    url = f"http://{pod['status']['podIP']}:8080/"
    assert pod["spec"]["nodeName"] in K8S_NODES
    for name in K8S_NODES:
        assert other(host, name).check_output(f"curl -sS -m 5 {url}") == PAGE, name


def test_node_port_from_this_machine_on_every_node(nodes):
    """What the README shows: this machine (allowed by the inventory) calls the
    NodePort of every node, the pod's own node included."""
    for name in K8S_NODES:
        url = f"http://{nodes[name]['address']}:{NODE_PORT}/"
        assert serves_page(url), name
    # Negative control: a port no service claims is refused.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{nodes['worker1']['address']}:30081/", timeout=5)


def test_this_machine_passes_only_through_the_inventory_allowance(nodes):
    """Negative control for the test above: with network_policies_allow_cidrs
    emptied, this machine is "another namespace" to production and the
    NodePort on the pod's node no longer answers; the role restores it."""
    url = f"http://{nodes[app_pod()['spec']['nodeName']]['address']}:{NODE_PORT}/"
    assert serves_page(url)
    no_allowance = ("-e", '{"network_policies_allow_cidrs": []}')
    try:
        narrowed = run_playbook("cluster.yml", "--tags", "network_policies", *no_allowance)
        assert narrowed.returncode == 0, narrowed.stdout[-2000:]
        assert wait_for(lambda: not serves_page(url), timeout=30), "must be blocked"
    finally:
        restored = run_playbook("cluster.yml", "--tags", "network_policies")
        assert restored.returncode == 0, restored.stdout[-2000:]
    assert wait_for(lambda: serves_page(url), timeout=30), "restored allowance must pass"


# 5. DNS --------------------------------------------------------------------
@pytest.mark.parametrize("name", K8S_NODES)
def test_node_resolver_puts_cluster_dns_first(host, name):
    lines = [
        ln
        for ln in other(host, name).file("/etc/resolv.conf").content_string.splitlines()
        if ln and not ln.startswith("#")
    ]
    nameservers = [ln.split()[1] for ln in lines if ln.startswith("nameserver")]
    assert nameservers[0] == DNS_IP and len(nameservers) > 1, lines
    search = [ln for ln in lines if ln.startswith("search")]
    assert search[-1].split()[1:3] == ["svc.cluster.local", "cluster.local"], lines


@pytest.mark.parametrize("name", K8S_NODES)
def test_node_resolves_cluster_names_and_reaches_the_app(host, name):
    node = other(host, name)
    forward = node.check_output("getent hosts kube-dns.kube-system.svc.cluster.local")
    assert forward.split()[0] == DNS_IP
    reverse = node.check_output(f"getent hosts {DNS_IP}")
    assert "kube-dns.kube-system.svc.cluster.local" in reverse
    assert node.check_output("curl -sS -m 5 http://app-v1.production") == PAGE
    # Negative controls: an unknown service does not resolve, and the short name
    # resolves only through the search path (not as an absolute name).
    assert node.run("getent hosts nope.production").rc != 0
    assert node.run("curl -sS -m 5 http://app-v1.production./").rc != 0


def test_pods_resolve_services(workloads):
    out = pod_exec("production", "probe", "dig", "+short", "app-v1.production.svc.cluster.local")
    ip = kubectl(
        "-n", "production", "get", "svc", "app-v1", "-o", "jsonpath={.spec.clusterIP}"
    ).stdout
    assert out.stdout.strip() == ip
    assert (
        pod_exec("production", "probe", "curl", "-sS", "-m", "5", "http://app-v1/").stdout.strip()
        == PAGE
    )


# 6. isolation --------------------------------------------------------------
def _reaches(namespace: str) -> bool:
    result = pod_exec(namespace, "probe", "curl", "-sS", "-m", "3", "http://app-v1.production/")
    return result.stdout.strip() == PAGE


def test_other_namespace_isolated_with_negative_control(workloads):
    assert _reaches("production")
    assert not _reaches("other")
    kubectl("-n", "production", "delete", "networkpolicy", "deny-from-other-namespaces")
    try:
        assert wait_for(lambda: _reaches("other"), timeout=30), (
            "without the policy the other namespace must get through"
        )
    finally:
        restored = run_playbook("cluster.yml", "--tags", "network_policies")
        assert restored.returncode == 0, restored.stdout[-2000:]
    assert wait_for(lambda: not _reaches("other"), timeout=30), "restored policy must block"
    assert _reaches("production")
