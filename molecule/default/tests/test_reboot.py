"""A worker restarted comes back Ready with its routes and resolv.conf intact,
and the app pod it runs is reachable again.

In its own module so that it runs after every other cluster check."""

from conftest import (
    DNS_IP,
    K8S_NODES,
    NODE_PORT,
    PAGE,
    WORKERS,
    app_pod,
    kubectl,
    kubesmith,
    other,
    serves_page,
    wait_for,
)

testinfra_hosts = ["cp1"]


def test_worker_comes_back_after_a_reboot(host, nodes):
    # The worker that runs the app: after the reboot its pod must work again.
    name = app_pod()["spec"]["nodeName"]
    # Another node whose pod range it must route to again: a worker where
    # there is another one, else a control plane.
    peer = next(n for n in (*WORKERS, *K8S_NODES) if n != name)
    kubesmith("nodes", "stop", name)
    kubesmith("nodes", "start", name)
    kubectl("wait", "--for=condition=Ready", f"node/{name}", "--timeout=240s")
    rebooted = other(host, name)
    cidr = nodes[peer]["pod_cidr"]

    def routes_to_peer() -> str:
        routes = rebooted.check_output("ip route")
        return routes if cidr in routes else ""

    routes = wait_for(routes_to_peer, timeout=120)
    assert f"{cidr} via" in routes and "dev flannel.1" in routes
    first = next(
        ln
        for ln in rebooted.file("/etc/resolv.conf").content_string.splitlines()
        if ln.startswith("nameserver")
    )
    assert first == f"nameserver {DNS_IP}"

    def pod_reachable() -> bool:
        pod = app_pod()
        ip = pod["status"].get("podIP")
        if not ip or pod["spec"]["nodeName"] != name:
            return False
        result = rebooted.run(f"curl -sS -m 3 http://{ip}:8080/")
        return result.rc == 0 and result.stdout.strip() == PAGE

    # The pod's sandbox is recreated with a new address; the node reaches it,
    # and this machine reaches the NodePort on every node, within two minutes.
    assert wait_for(pod_reachable, timeout=120, interval=3), "pod unreachable from its node"
    for node in nodes.values():
        url = f"http://{node['address']}:{NODE_PORT}/"
        assert wait_for(lambda u=url: serves_page(u), timeout=60, interval=3), url
