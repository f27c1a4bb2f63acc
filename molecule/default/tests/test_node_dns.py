"""The node_dns role says why the cluster DNS is silent instead of only
timing out: with every node cordoned and CoreDNS's pods deleted, its error
names the Pending pods and the scheduler's reason. Negative control: the same
run against the healthy cluster passes."""

import re

import pytest

from conftest import K8S_NODES, kubectl, run_playbook

SHORT_WAIT = ("--tags", "node_dns", "-e", "node_dns_wait_seconds=10")


@pytest.fixture
def unschedulable_coredns():
    for name in K8S_NODES:
        kubectl("cordon", name)
    try:
        kubectl("-n", "kube-system", "delete", "pod", "-l", "k8s-app=kube-dns", "--wait=true")
        yield
    finally:
        for name in K8S_NODES:
            kubectl("uncordon", name)
        kubectl("-n", "kube-system", "rollout", "status", "deploy/coredns", "--timeout=180s")


def test_silent_cluster_dns_is_explained(unschedulable_coredns):
    result = run_playbook("cluster.yml", *SHORT_WAIT)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "10.96.0.10 did not answer from worker1 within 10 s" in output
    pending = rf"Pending \(0/{len(K8S_NODES)} nodes are available.*unschedulable"
    assert re.search(rf"CoreDNS pods: coredns-\S+: {pending}", output)


def test_answering_cluster_dns_passes():
    result = run_playbook("cluster.yml", *SHORT_WAIT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "did not answer" not in output
