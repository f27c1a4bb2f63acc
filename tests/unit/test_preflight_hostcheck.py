"""The host stage's judgement of a node's facts (gathered by kubesmith_host_facts)."""

from kubesmith.preflight.hostcheck import HostFacts, check_host
from kubesmith.preflight.report import merge

WORKER = ["workers", "k8s_cluster"]
SETTINGS = {"kube_node_ip": "192.168.60.21", "pod_network_mtu": 1450, "pod_network_iface": ""}


def _facts(**overrides) -> HostFacts:
    data = {
        "interfaces": [
            {"name": "lo", "mtu": 65536, "addresses": ["127.0.0.1"]},
            {"name": "host0", "mtu": 1500, "addresses": ["192.168.60.21"]},
        ],
        "listeners": {"22": "sshd"},
        "cpus": 2,
        "memory_mib": 4096,
        "disk_free_gib": 40.0,
        "time": 0,
    }
    data.update(overrides)
    return HostFacts.from_module(data, clock_skew_seconds=overrides.get("skew", 0.0))


def test_healthy_host_passes():
    assert check_host("worker1", WORKER, _facts(), SETTINGS) == []


def test_missing_pod_network_interface():
    errors = check_host("worker1", WORKER, _facts(), {**SETTINGS, "pod_network_iface": "eth1"})
    assert errors == [
        "host 'worker1': pod_network_iface 'eth1' does not exist there (interfaces: host0, lo); "
        "set it to the interface of the node network"
    ]


def test_node_ip_not_on_the_host():
    errors = check_host("worker1", WORKER, _facts(), {**SETTINGS, "kube_node_ip": "10.0.0.9"})
    assert len(errors) == 1
    assert "kube_node_ip 10.0.0.9 is not an address of this host" in errors[0]


def test_mtu_larger_than_link_minus_vxlan():
    errors = check_host("worker1", WORKER, _facts(), {**SETTINGS, "pod_network_mtu": 1451})
    assert errors == [
        "host 'worker1': pod_network_mtu 1451 is larger than host0's MTU 1500 minus 50 bytes "
        "of VXLAN overhead: set pod_network_mtu to 1450 or less"
    ]


def test_port_held_by_another_process():
    facts = _facts(listeners={"10250": "nginx"})
    assert check_host("worker1", WORKER, facts, SETTINGS) == [
        "host 'worker1': port 10250 is taken by 'nginx' but kubelet needs it: "
        "stop that service or move it"
    ]


def test_port_held_by_its_own_service_on_a_rerun():
    facts = _facts(listeners={"10250": "kubelet", "2379": "etcd", "2380": "etcd"})
    assert check_host("worker1", WORKER, facts, SETTINGS) == []
    assert check_host("etcd1", ["etcd"], facts, SETTINGS) == []


def test_etcd_ports_checked_on_etcd_hosts():
    facts = _facts(listeners={"2379": "python3"})
    errors = check_host("etcd1", ["etcd"], facts, SETTINGS)
    assert errors == [
        "host 'etcd1': port 2379 is taken by 'python3' but etcd needs it: "
        "stop that service or move it"
    ]


def test_small_control_plane():
    errors = check_host(
        "cp1", ["control_plane", "k8s_cluster"], _facts(cpus=1, memory_mib=1024), SETTINGS
    )
    assert any("1 CPU, a control plane needs at least 2" in e for e in errors)
    assert any("1024 MiB of memory" in e for e in errors)


def test_low_disk_and_skewed_clock():
    errors = check_host("worker1", WORKER, _facts(disk_free_gib=1.5, skew=-95.0), SETTINGS)
    assert any("1.5 GiB free under /var" in e for e in errors)
    assert any("its clock is -95 s off" in e for e in errors)


def test_merge_names_hosts_only_when_not_all_share_a_message():
    merged = merge({"a": ["common", "only-a"], "b": ["common"]})
    assert merged == ["common", "only-a (settings of a)"]


CONTROL_PLANE = ["control_plane", "k8s_cluster"]
HA = {**SETTINGS, "kube_control_plane_endpoint": "192.168.60.100:8443"}


def test_haproxy_port_checked_on_control_planes_with_the_load_balancer():
    facts = _facts(listeners={"8443": "nginx"})
    errors = check_host("cp1", CONTROL_PLANE, facts, {**HA, "api_loadbalancer_enabled": True})
    assert errors == [
        "host 'cp1': port 8443 is taken by 'nginx' but haproxy needs it: "
        "stop that service or move it"
    ]
    # Negative control: without the built-in load balancer the port is not ours.
    assert check_host("cp1", CONTROL_PLANE, facts, {**HA, "api_loadbalancer_enabled": False}) == []


def test_haproxy_holding_its_port_on_a_rerun_passes():
    facts = _facts(listeners={"8443": "haproxy", "6443": "kube-apiserver", "10250": "kubelet"})
    assert check_host("cp1", CONTROL_PLANE, facts, {**HA, "api_loadbalancer_enabled": True}) == []
