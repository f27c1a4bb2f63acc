"""Validation against the live cluster: the host stage refuses what only a node
can reveal, before anything is installed, and booleans work from `-e`."""

import re

import pytest

from conftest import CONTROL_PLANES, ETCD_HOSTS, K8S_NODES, default_scenario_only, run_playbook

pytestmark = default_scenario_only

# The settings this cluster runs with, as `-e` passes them: strings.
AS_BUILT = {
    "kube_ingress_enabled": "false",
    "kube_node_in_container": "true",
    "containerd_restrict_oom_score_adj": "true",
    "containerd_tolerate_missing_hugetlb": "true",
    "network_policies_allow_nodes": "true",
    "node_prereqs_time_sync": "true",
    "node_prereqs_firewalld_ports": "true",
    "pod_network_ip_masq": "true",
    "kube_audit_enabled": "true",
    "kube_secrets_encryption_enabled": "true",
    "kube_kubelet_protect_kernel_defaults": "false",
    "control_plane_profiling": "false",
    "control_plane_service_account_extend_token_expiration": "false",
    "api_loadbalancer_enabled": "true" if len(CONTROL_PLANES) > 1 else "false",
    "api_loadbalancer_firewalld": "true",
}


def _recap(output: str) -> dict[str, dict[str, int]]:
    recap = output.split("PLAY RECAP", 1)[-1]
    return {
        host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", recap, flags=re.MULTILINE)
    }


def _extra(settings: dict[str, str]) -> list[str]:
    return ["-e", " ".join(f"{k}={v}" for k, v in settings.items())]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("pod_network_iface=eth9", "pod_network_iface 'eth9' does not exist there"),
        ("pod_network_mtu=1451", "pod_network_mtu 1451 is larger than host0's MTU 1500"),
    ],
    ids=["missing-interface", "mtu-too-large"],
)
def test_host_stage_refuses_before_installing(extra, message):
    result = run_playbook("prereqs.yml", "-e", extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for host in K8S_NODES:
        assert f"host '{host}': {message}" in output
    assert "TASK [node_prereqs" not in output, "node_prereqs ran after a failed host check"
    assert all(counts["changed"] == 0 for counts in _recap(output).values())


def test_host_stage_passes_the_unchanged_inventory():
    """Negative control: the same run without the bad setting passes every host."""
    result = run_playbook("prereqs.yml", "--tags", "preflight")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    recap = _recap(output)
    assert {*ETCD_HOSTS, *K8S_NODES} <= set(recap)
    assert all(c["failed"] == 0 and c["changed"] == 0 for c in recap.values())


def test_booleans_as_strings_change_nothing():
    """Every boolean given on the command line as the word the cluster was built
    with: check mode finds nothing to change (a string misread as a boolean would
    flip a template or fail a conditional)."""
    result = run_playbook("cluster.yml", "--check", *_extra(AS_BUILT))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert all(c["changed"] == 0 for c in _recap(output).values()), output[-4000:]


def test_flipped_boolean_is_seen_in_check_mode():
    """Negative control: the word "false" really turns a setting off (flannel's
    masquerading), so check mode reports the change it would make."""
    result = run_playbook(
        "cluster.yml", "--check", "--tags", "pod_network", *_extra({"pod_network_ip_masq": "false"})
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert _recap(output)["cp1"]["changed"] >= 1, output[-4000:]
