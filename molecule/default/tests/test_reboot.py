"""A worker restarted comes back Ready with its routes and resolv.conf intact.

In its own module so that it runs after every other cluster check."""

import testinfra

from conftest import kubectl, kubesmith, wait_for

testinfra_hosts = ["cp1"]

DNS_IP = "10.96.0.10"
PAGE = "app-v1: hello from production"


def test_worker_comes_back_after_a_reboot(host, nodes):
    kubesmith("nodes", "stop", "worker2")
    kubesmith("nodes", "start", "worker2")
    kubectl("wait", "--for=condition=Ready", "node/worker2", "--timeout=240s")
    worker2 = testinfra.get_host(
        "ansible://worker2", ansible_inventory=host.backend.ansible_inventory
    )
    cidr = nodes["worker1"]["pod_cidr"]
    routes = wait_for(
        lambda: cidr in worker2.check_output("ip route") and worker2.check_output("ip route"),
        timeout=120,
    )
    assert f"{cidr} via" in routes and "dev flannel.1" in routes
    first = next(
        ln
        for ln in worker2.file("/etc/resolv.conf").content_string.splitlines()
        if ln.startswith("nameserver")
    )
    assert first == f"nameserver {DNS_IP}"
