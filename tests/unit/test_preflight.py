"""The preflight play rejects bad inventories before any host is contacted.

Each case runs the real playbooks/prereqs.yml with ansible-playbook. The hosts
use a connection plugin that does not exist, and the test checks the recap:
only localhost (where preflight runs) may appear in it.
"""

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent

VALID_HOSTS = {
    "all": {
        "vars": {"ansible_connection": "kubesmith_unreachable"},
        "children": {
            "etcd": {"hosts": {"etcd1": {"ansible_host": "192.168.60.10"}}},
            "control_plane": {"hosts": {"cp1": {"ansible_host": "192.168.60.11"}}},
            "workers": {
                "hosts": {
                    "worker1": {"ansible_host": "192.168.60.21"},
                    "worker2": {"ansible_host": "192.168.60.22"},
                }
            },
            "k8s_cluster": {"children": {"control_plane": None, "workers": None}},
        },
    }
}
VALID_VARS = {
    "kube_pod_subnet": "10.244.0.0/16",
    "kube_service_subnet": "10.96.0.0/12",
    "kube_dns_ip": "10.96.0.10",
    "kube_cluster_domain": "cluster.local",
}

Mutation = Callable[[dict, dict], None]


def _children(hosts: dict) -> dict:
    return hosts["all"]["children"]


def _set_var(name: str, value: object) -> Mutation:
    def mutate(_hosts: dict, variables: dict) -> None:
        variables[name] = value

    return mutate


def _drop_group(group: str) -> Mutation:
    def mutate(hosts: dict, _variables: dict) -> None:
        del _children(hosts)[group]
        if group in ("control_plane", "workers"):
            del _children(hosts)["k8s_cluster"]["children"][group]

    return mutate


def _add_etcd(_hosts: dict, _variables: dict) -> None:
    _children(_hosts)["etcd"]["hosts"]["etcd2"] = {"ansible_host": "192.168.60.12"}


def _empty_control_plane(hosts: dict, _variables: dict) -> None:
    _children(hosts)["control_plane"]["hosts"] = {}


def _duplicate_ip(hosts: dict, _variables: dict) -> None:
    _children(hosts)["workers"]["hosts"]["worker2"]["ansible_host"] = "192.168.60.21"


def _duplicate_name(hosts: dict, _variables: dict) -> None:
    _children(hosts)["workers"]["hosts"]["WORKER1.example"] = {"ansible_host": "192.168.60.23"}


def _bad_name(hosts: dict, _variables: dict) -> None:
    _children(hosts)["workers"]["hosts"]["worker_3"] = {"ansible_host": "192.168.60.23"}


def _node_in_pod_net(hosts: dict, _variables: dict) -> None:
    _children(hosts)["workers"]["hosts"]["worker2"]["ansible_host"] = "10.244.7.5"


def _second_control_plane(hosts: dict, _variables: dict) -> None:
    _children(hosts)["control_plane"]["hosts"]["cp2"] = {"ansible_host": "192.168.60.12"}


def _both_roles(hosts: dict, _variables: dict) -> None:
    _children(hosts)["workers"]["hosts"]["cp1"] = {"ansible_host": "192.168.60.11"}


def _not_an_ip(hosts: dict, _variables: dict) -> None:
    _children(hosts)["workers"]["hosts"]["worker2"]["ansible_host"] = "worker2.lan"


def _host_override(hosts: dict, _variables: dict) -> None:
    _children(hosts)["workers"]["hosts"]["worker1"]["pod_network_mtu"] = 9999


def _ha(endpoint: str) -> Mutation:
    """Three control planes on 192.168.60.0/24 behind the built-in load balancer."""

    def mutate(hosts: dict, variables: dict) -> None:
        _children(hosts)["control_plane"]["hosts"]["cp2"] = {"ansible_host": "192.168.60.14"}
        _children(hosts)["control_plane"]["hosts"]["cp3"] = {"ansible_host": "192.168.60.15"}
        variables["kube_node_network"] = "192.168.60.0/24"
        variables["kube_control_plane_endpoint"] = endpoint

    return mutate


def _several(hosts: dict, variables: dict) -> None:
    variables["kube_version"] = "1.37.1"
    variables["demo_app_node_port"] = 80
    _children(hosts)["workers"]["hosts"]["worker2"]["ansible_host"] = "192.168.60.21"


# (case id, mutation, text the error must contain)
BAD_CASES: list[tuple[str, Mutation, str]] = [
    (
        "pod-overlaps-service",
        _set_var("kube_service_subnet", "10.240.0.0/12"),
        "kube_pod_subnet 10.244.0.0/16 overlaps kube_service_subnet 10.240.0.0/12",
    ),
    ("even-etcd-count", _add_etcd, "group 'etcd' has 2 hosts"),
    ("missing-workers-group", _drop_group("workers"), "group 'workers' is missing"),
    ("missing-etcd-group", _drop_group("etcd"), "group 'etcd' is missing"),
    ("empty-control-plane", _empty_control_plane, "group 'control_plane' has no hosts"),
    (
        "dns-outside-services",
        _set_var("kube_dns_ip", "10.112.0.10"),
        "kube_dns_ip 10.112.0.10 is outside kube_service_subnet 10.96.0.0/12",
    ),
    ("dns-reserved", _set_var("kube_dns_ip", "10.96.0.1"), "kube_dns_ip 10.96.0.1 is reserved"),
    (
        "pod-not-cidr",
        _set_var("kube_pod_subnet", "10.244.0.0/33"),
        "kube_pod_subnet: '10.244.0.0/33'",
    ),
    (
        "pod-host-bits",
        _set_var("kube_pod_subnet", "10.244.1.0/16"),
        "kube_pod_subnet: '10.244.1.0/16'",
    ),
    (
        "pod-too-small",
        _set_var("kube_pod_subnet", "10.244.0.0/24"),
        "kube_pod_subnet 10.244.0.0/24 is too small",
    ),
    (
        "service-too-large",
        _set_var("kube_service_subnet", "10.0.0.0/8"),
        "kube_service_subnet 10.0.0.0/8 is too large",
    ),
    ("duplicate-ip", _duplicate_ip, "address 192.168.60.21 is used by 'worker1' too"),
    ("duplicate-node-name", _duplicate_name, "node name 'worker1' is used by"),
    ("invalid-node-name", _bad_name, "host 'worker_3': not a valid node name"),
    (
        "node-inside-pod-network",
        _node_in_pod_net,
        "host 'worker2': address 10.244.7.5 is inside kube_pod_subnet",
    ),
    (
        "node-outside-node-network",
        _set_var("kube_node_network", "192.168.70.0/24"),
        "address 192.168.60.10 is outside kube_node_network 192.168.70.0/24",
    ),
    (
        "node-network-overlaps-services",
        _set_var("kube_node_network", "10.100.0.0/24"),
        "kube_service_subnet 10.96.0.0/12 overlaps kube_node_network 10.100.0.0/24",
    ),
    ("ha-without-endpoint", _second_control_plane, "kube_control_plane_endpoint is empty"),
    # the virtual IP keepalived holds for the control planes
    (
        "vip-outside-node-network",
        _ha("192.168.70.100:8443"),
        "the virtual IP 192.168.70.100 is outside kube_node_network 192.168.60.0/24",
    ),
    ("vip-is-a-node", _ha("192.168.60.21:8443"), "is the address of host 'worker1'"),
    (
        "vip-in-service-network",
        _ha("10.96.0.100:8443"),
        "10.96.0.100 is inside kube_service_subnet 10.96.0.0/12",
    ),
    ("host-in-two-roles", _both_roles, "host 'cp1' is in both control_plane and workers"),
    ("bad-version", _set_var("kube_version", "latest"), "kube_version: 'latest' is not a version"),
    (
        "bad-domain",
        _set_var("kube_cluster_domain", "Cluster_Local"),
        "kube_cluster_domain: 'Cluster_Local' is not a DNS domain",
    ),
    ("address-not-ip", _not_an_ip, "address 'worker2.lan' is not an IP"),
    # versions: the form upstream tags use, and a kubeadm that reads v1beta4
    ("version-without-v", _set_var("kube_version", "1.37.1"), "kube_version: '1.37.1' needs"),
    ("etcd-version-without-v", _set_var("kube_etcd_version", "3.6.16"), "kube_etcd_version:"),
    ("pause-version-with-v", _set_var("kube_pause_version", "v3.10.2"), "kube_pause_version:"),
    (
        "component-version-garbage",
        _set_var("kube_crictl_version", "stable"),
        "kube_crictl_version:",
    ),
    ("kube-version-too-old", _set_var("kube_version", "v1.29.0"), "older than v1.31"),
    # pod network capacity and shape
    ("pod-network-capacity", _set_var("kube_pod_subnet", "10.244.0.0/23"), "holds 2 node ranges"),
    ("node-prefix-too-long", _set_var("kube_node_pod_prefix", 27), "kube_node_pod_prefix /27"),
    ("mtu-too-large", _set_var("pod_network_mtu", 9500), "pod_network_mtu: 9500 is outside"),
    ("mtu-not-a-number", _set_var("pod_network_mtu", "jumbo"), "pod_network_mtu: 'jumbo'"),
    ("vxlan-port-invalid", _set_var("pod_network_vxlan_port", 70000), "pod_network_vxlan_port:"),
    ("vxlan-vni-invalid", _set_var("pod_network_vxlan_vni", 0), "pod_network_vxlan_vni: 0"),
    ("iface-invalid", _set_var("pod_network_iface", "eth0/1"), "pod_network_iface: 'eth0/1'"),
    ("host-var-override", _host_override, "pod_network_mtu: 9999 is outside"),
    # NodePorts
    (
        "nodeport-out-of-range",
        _set_var("kube_ingress_http_node_port", 8080),
        "kube_ingress_http_node_port: '8080' is outside the NodePort range",
    ),
    ("nodeport-not-a-number", _set_var("demo_app_node_port", "http"), "demo_app_node_port:"),
    (
        "nodeport-twice",
        _set_var("kube_ingress_https_node_port", 30880),
        "NodePort 30880 is used by kube_ingress_http_node_port",
    ),
    # names that become object or file names
    ("cluster-name-invalid", _set_var("kube_cluster_name", "My_Cluster"), "kube_cluster_name:"),
    (
        "isolated-namespace-invalid",
        _set_var("network_policies_isolated_namespaces", ["Production"]),
        "network_policies_isolated_namespaces: 'Production'",
    ),
    (
        "allowed-namespace-invalid",
        _set_var("network_policies_allow_from_namespaces", ["-ops"]),
        "network_policies_allow_from_namespaces: '-ops'",
    ),
    ("demo-namespace-invalid", _set_var("demo_app_namespace", "prod.ns"), "demo_app_namespace:"),
    ("ingress-host-invalid", _set_var("demo_app_ingress_host", "App_Example"), "demo_app_ingress"),
    # mirrors and proxies
    (
        "files-mirror-no-scheme",
        _set_var("kube_files_mirror", "192.168.60.1:8080/"),
        "kube_files_mirror: '192.168.60.1:8080/'",
    ),
    (
        "files-mirror-no-slash",
        _set_var("kube_files_mirror", "http://192.168.60.1:8080"),
        "ending in '/'",
    ),
    (
        "registry-mirror-scheme",
        _set_var("kube_registry_mirror", "http://192.168.60.1:5000"),
        "kube_registry_mirror: 'http://192.168.60.1:5000'",
    ),
    (
        "registry-mirror-port",
        _set_var("kube_registry_mirror", "192.168.60.1:99999"),
        "kube_registry_mirror: '192.168.60.1:99999'",
    ),
    ("proxy-not-url", _set_var("containerd_http_proxy", "proxy:3128"), "containerd_http_proxy:"),
    # types and choices from the roles' argument specs
    ("bool-not-bool", _set_var("kube_ingress_enabled", "maybe"), "kube_ingress_enabled: 'maybe'"),
    (
        "list-given-as-string",
        _set_var("network_policies_isolated_namespaces", "production"),
        "network_policies_isolated_namespaces: 'production' is a string",
    ),
    ("choice-invalid", _set_var("kube_cgroup_driver", "cgroupv2"), "kube_cgroup_driver:"),
    ("int-not-int", _set_var("kube_api_port", "https"), "kube_api_port: 'https'"),
    # other shapes
    (
        "allow-cidr-invalid",
        _set_var("network_policies_allow_cidrs", ["192.168.60.0/33"]),
        "network_policies_allow_cidrs: '192.168.60.0/33'",
    ),
    ("endpoint-no-port", _set_var("kube_control_plane_endpoint", "lb.lan"), "host:port"),
    ("token-ttl-invalid", _set_var("worker_token_ttl", "15 minutes"), "worker_token_ttl:"),
    ("replicas-zero", _set_var("demo_app_replicas", 0), "demo_app_replicas: 0"),
    ("wait-not-positive", _set_var("node_dns_wait_seconds", -5), "node_dns_wait_seconds: -5"),
    ("relative-path", _set_var("etcd_data_dir", "var/lib/etcd"), "etcd_data_dir: 'var/lib/etcd'"),
    (
        "template-error",
        _set_var("kube_cluster_name", "{{ no_such_variable }}"),
        "kube_cluster_name: could not be evaluated",
    ),
    ("several-at-once", _several, "kube_version: '1.37.1'"),
]
# Every message the several-at-once case must show, in one run.
SEVERAL = (
    "kube_version: '1.37.1' needs",
    "demo_app_node_port: '80' is outside",
    "address 192.168.60.21 is used by 'worker1' too",
)


def _write_inventory(root: Path, mutate: Mutation | None) -> Path:
    hosts = copy.deepcopy(VALID_HOSTS)
    variables = dict(VALID_VARS)
    if mutate:
        mutate(hosts, variables)
    inv = root / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inv / "group_vars" / "all" / "cluster.yml").write_text(yaml.safe_dump(variables))
    return inv


def _run(
    repo: Path, inventory: Path, playbook: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "ansible-playbook", "-i", inventory, repo / "playbooks" / playbook, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env={
            "PATH": f"{BIN}:/usr/bin:/bin",
            "ANSIBLE_NOCOLOR": "1",
            "HOME": str(inventory.parent),
            "ANSIBLE_CONFIG": str(repo / "ansible.cfg"),
        },
    )


def _recap_hosts(output: str) -> set[str]:
    recap = output.split("PLAY RECAP", 1)[-1]
    return set(re.findall(r"^(\S+)\s+: ok=", recap, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def outcomes(repo, tmp_path_factory):
    """Run every bad case (plus the valid inventory) once, a few at a time."""
    cases = [("valid", None, ""), *BAD_CASES]

    def run_case(case):
        case_id, mutate, _ = case
        inventory = _write_inventory(tmp_path_factory.mktemp(case_id), mutate)
        return case_id, _run(repo, inventory, "prereqs.yml")

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run_case, cases))


def test_at_least_forty_kinds_of_bad_inventory():
    assert len({case_id for case_id, _, _ in BAD_CASES}) >= 40


@pytest.mark.parametrize(
    ("case_id", "expected"), [(c[0], c[2]) for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_bad_inventory_rejected_before_hosts(outcomes, case_id, expected):
    result = outcomes[case_id]
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "inventory check failed" in output
    assert expected in output
    assert _recap_hosts(output) == {"localhost"}, "a node was contacted"


def test_valid_inventory_passes_preflight(outcomes):
    """Negative control: the same inventory unmodified passes preflight and then
    reaches the hosts (which fail only on the deliberately missing connection)."""
    result = outcomes["valid"]
    output = result.stdout + result.stderr
    assert "inventory check failed" not in output
    assert {"etcd1", "cp1", "worker1", "worker2"} <= _recap_hosts(output)


def test_every_problem_reported_at_once(outcomes):
    output = outcomes["several-at-once"].stdout
    for message in SEVERAL:
        assert message in output


def test_host_override_names_the_host(outcomes):
    assert "(settings of worker1)" in outcomes["host-var-override"].stdout


@pytest.mark.parametrize(
    "name", ["inventory/local", "inventory/vagrant", "inventory/sample", "molecule/ha/inventory"]
)
def test_shipped_inventories_pass_preflight(repo, name):
    """The inventories users start from (and the HA scenario's) describe buildable clusters."""
    result = _run(repo, repo / name, "preflight.yml")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert _recap_hosts(output) == {"localhost"}


def _bool_settings(repo: Path) -> list[str]:
    from kubesmith.preflight.specs import load_settings

    return sorted(n for n, s in load_settings(repo / "roles").items() if s.type == "bool")


@pytest.mark.parametrize("word", ["true", "false", "yes", "no"])
def test_booleans_accept_words_from_the_command_line(repo, tmp_path, word):
    """`-e name=true` arrives as a string; every boolean setting accepts it."""
    names = _bool_settings(repo)
    assert len(names) >= 8
    # api_loadbalancer_enabled=true needs the endpoint it serves.
    inventory = _write_inventory(
        tmp_path, _set_var("kube_control_plane_endpoint", "192.168.60.100:8443")
    )
    result = _run(repo, inventory, "preflight.yml", "-e", " ".join(f"{n}={word}" for n in names))
    assert result.returncode == 0, result.stdout + result.stderr


def test_booleans_reject_other_words(repo, tmp_path):
    """Negative control: a word that is not a boolean is refused, each setting named."""
    names = _bool_settings(repo)
    inventory = _write_inventory(tmp_path, None)
    result = _run(repo, inventory, "preflight.yml", "-e", " ".join(f"{n}=maybe" for n in names))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for name in names:
        assert f"{name}: 'maybe' is not true or false" in output
    assert _recap_hosts(output) == {"localhost"}
