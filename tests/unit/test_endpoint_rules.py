"""Preflight's rules for the API endpoint and the built-in load balancer
(keepalived's virtual IP with haproxy), on a View without Ansible."""

import pytest

from kubesmith.preflight.rules import (
    Node,
    View,
    builtin_load_balancer,
    check_api_loadbalancer,
    check_control_plane_endpoint,
)

NODES = [
    Node("etcd1", "192.168.60.10"),
    Node("cp1", "192.168.60.11"),
    Node("cp2", "192.168.60.14"),
    Node("cp3", "192.168.60.15"),
    Node("worker1", "192.168.60.21"),
]
HA_GROUPS = {"etcd": ["etcd1"], "control_plane": ["cp1", "cp2", "cp3"], "workers": ["worker1"]}
ONE_GROUPS = {"etcd": ["etcd1"], "control_plane": ["cp1"], "workers": ["worker1"]}
NETWORKS = {
    "kube_pod_subnet": "10.244.0.0/16",
    "kube_service_subnet": "10.96.0.0/12",
    "kube_node_network": "192.168.60.0/24",
    "kube_api_port": 6443,
}


def endpoint_errors(endpoint: str, groups=HA_GROUPS, **settings) -> list[str]:
    view = View(
        groups=groups,
        nodes=NODES,
        settings={**NETWORKS, "kube_control_plane_endpoint": endpoint, **settings},
    )
    errors: list[str] = []
    check_control_plane_endpoint(view, errors)
    return errors


def test_a_free_address_of_the_node_network_passes():
    assert endpoint_errors("192.168.60.100:8443") == []


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("192.168.70.100:8443", "the virtual IP 192.168.70.100 is outside kube_node_network"),
        ("192.168.60.14:8443", "the virtual IP 192.168.60.14 is the address of host 'cp2'"),
        ("192.168.60.10:8443", "is the address of host 'etcd1'"),
        ("192.168.60.255:8443", "is the network or broadcast address"),
        ("10.96.0.100:8443", "10.96.0.100 is inside kube_service_subnet 10.96.0.0/12"),
        ("10.244.3.7:8443", "10.244.3.7 is inside kube_pod_subnet 10.244.0.0/16"),
        ("192.168.60.100:6443", "port 6443 is kube_api_port too"),
        ("api.example.lan:8443", "'api.example.lan' is a name, but keepalived holds an address"),
    ],
)
def test_the_virtual_ip_must_be_a_free_node_network_address(endpoint, expected):
    errors = endpoint_errors(endpoint)
    assert len(errors) == 1 and expected in errors[0], errors


def test_an_own_load_balancer_is_not_held_to_the_vip_rules():
    """api_loadbalancer_enabled: false: the endpoint is the operator's load
    balancer, which may live elsewhere, have a name and use 6443."""
    for endpoint in ("192.168.70.100:6443", "api.example.lan:6443", "192.168.60.14:6443"):
        assert endpoint_errors(endpoint, api_loadbalancer_enabled=False) == [], endpoint
    # Inside the service network is wrong for any endpoint.
    assert endpoint_errors("10.96.0.100:6443", api_loadbalancer_enabled=False)


def test_one_control_plane_keeps_its_endpoint_optional():
    assert endpoint_errors("", groups=ONE_GROUPS) == []
    # An endpoint with one control plane is someone's load balancer or name.
    assert endpoint_errors("cp.example.lan:6443", groups=ONE_GROUPS) == []


def test_the_load_balancer_asked_for_explicitly_needs_an_endpoint():
    errors = endpoint_errors("", groups=ONE_GROUPS, api_loadbalancer_enabled=True)
    assert errors == [
        "kube_control_plane_endpoint is empty but api_loadbalancer_enabled is true: set it to "
        "the virtual IP and port keepalived and haproxy serve (e.g. 192.168.60.100:8443)"
    ]


def test_several_control_planes_without_an_endpoint_get_one_message():
    errors = endpoint_errors("")
    assert len(errors) == 1 and "control_plane has 3 hosts" in errors[0]


def test_the_load_balancer_follows_the_control_plane_count_unless_set():
    assert builtin_load_balancer(View(HA_GROUPS, NODES, {}))
    assert not builtin_load_balancer(View(ONE_GROUPS, NODES, {}))
    assert not builtin_load_balancer(View(HA_GROUPS, NODES, {"api_loadbalancer_enabled": False}))


def lb_errors(**settings) -> list[str]:
    errors: list[str] = []
    check_api_loadbalancer(View(HA_GROUPS, NODES, settings), errors)
    return errors


def test_vrrp_settings_in_range_pass():
    assert (
        lb_errors(
            api_loadbalancer_virtual_router_id=51,
            api_loadbalancer_priority=150,
            api_loadbalancer_advert_interval=1,
            api_loadbalancer_vip_interface="bond0.60",
            api_loadbalancer_auth_pass="k8s-Vip1",
        )
        == []
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"api_loadbalancer_virtual_router_id": 256}, "api_loadbalancer_virtual_router_id: 256"),
        ({"api_loadbalancer_priority": 255}, "api_loadbalancer_priority: 255 is outside 1-254"),
        ({"api_loadbalancer_advert_interval": 0}, "api_loadbalancer_advert_interval: 0"),
        ({"api_loadbalancer_vip_interface": "eth0/1"}, "api_loadbalancer_vip_interface: 'eth0/1'"),
        ({"api_loadbalancer_auth_pass": "much-too-long"}, "api_loadbalancer_auth_pass: use 1-8"),
        ({"api_loadbalancer_auth_pass": "a b"}, "api_loadbalancer_auth_pass: use 1-8"),
    ],
)
def test_vrrp_settings_out_of_range(settings, expected):
    errors = lb_errors(**settings)
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_the_vrrp_password_is_never_shown():
    (error,) = lb_errors(api_loadbalancer_auth_pass="secret#12")
    assert "secret" not in error
