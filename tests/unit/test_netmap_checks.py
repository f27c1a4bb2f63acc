"""Problem detection in a cluster map: each problem alone, and none in a healthy map."""

from dataclasses import replace

import pytest
from netmap_cluster import DNS, healthy_map, with_node, with_state

from kubesmith.netmap import checks
from kubesmith.netmap.model import Endpoint, Host, Route


def kinds(model):
    return [(p.kind, p.subject, p.peer) for p in checks.find_problems(model)]


def test_a_healthy_map_has_no_problems():
    assert checks.find_problems(healthy_map()) == []


def test_one_missing_route_is_exactly_one_problem():
    model = healthy_map()
    worker1 = model.node("worker1")
    routes = tuple(r for r in worker1.state.routes if r.destination != "10.244.2.0/24")
    problems = checks.find_problems(with_state(model, "worker1", routes=routes))
    assert [(p.kind, p.subject, p.peer) for p in problems] == [
        (checks.ROUTE_MISSING, "worker1", "worker2")
    ]
    assert problems[0].message == (
        "worker1 has no route to worker2's pod range 10.244.2.0/24 "
        "(expected via 10.244.2.0 dev flannel.1)"
    )


def test_a_route_through_the_wrong_device():
    model = healthy_map()
    routes = tuple(
        Route(r.destination, "host0", "192.168.60.22") if r.destination == "10.244.0.0/24" else r
        for r in model.node("worker2").state.routes
    )
    problems = checks.find_problems(with_state(model, "worker2", routes=routes))
    assert [(p.kind, p.subject, p.peer) for p in problems] == [
        (checks.ROUTE_WRONG, "worker2", "cp1")
    ]
    assert "via 192.168.60.22 dev host0, not via 10.244.0.0 dev flannel.1" in problems[0].message


def test_a_not_ready_node():
    model = with_node(
        healthy_map(),
        "worker2",
        ready=False,
        not_ready_reason="KubeletNotReady: container runtime network not ready:\n"
        " cni not initialized",
    )
    problems = checks.find_problems(model)
    assert kinds(model) == [(checks.NODE_NOT_READY, "worker2", "")]
    assert problems[0].message == (
        "worker2 is NotReady: KubeletNotReady: container runtime network not ready: "
        "cni not initialized"
    )


def test_a_missing_flannel_device_is_reported_once_not_per_route():
    model = healthy_map()
    state = model.node("cp1").state
    overlay_gone = tuple(r for r in state.routes if r.device != "flannel.1")
    model = with_state(model, "cp1", flannel=None, routes=overlay_gone)
    assert kinds(model) == [(checks.FLANNEL_MISSING, "cp1", "")]
    assert checks.find_problems(model)[0].message.startswith("cp1 has no flannel.1 device")


def test_resolv_conf_without_the_cluster_dns_first():
    model = with_state(
        healthy_map(),
        "worker1",
        resolv_conf=("nameserver 192.168.60.1", f"nameserver {DNS}"),
    )
    problems = checks.find_problems(model)
    assert kinds(model) == [(checks.DNS_NOT_FIRST, "worker1", "")]
    assert problems[0].message == (
        f"worker1's resolv.conf asks 192.168.60.1 first, not the cluster DNS {DNS}"
    )


def test_resolv_conf_without_any_nameserver():
    model = with_state(healthy_map(), "worker1", resolv_conf=("search cluster.local",))
    assert kinds(model) == [(checks.DNS_NOT_FIRST, "worker1", "")]


def test_systemd_resolved_stub_counts_the_servers_resolved_uses():
    stub = ("nameserver 127.0.0.53", "options edns0 trust-ad")
    ok = with_state(
        healthy_map(),
        "worker1",
        resolv_conf=stub,
        resolved_upstream=(f"nameserver {DNS}", "nameserver 192.168.60.1"),
    )
    assert checks.find_problems(ok) == []
    wrong = with_state(ok, "worker1", resolved_upstream=("nameserver 192.168.60.1",))
    assert kinds(wrong) == [(checks.DNS_NOT_FIRST, "worker1", "")]


def test_a_service_without_endpoints():
    model = healthy_map()
    services = tuple(replace(s, endpoints=()) if s.name == "app-v1" else s for s in model.services)
    problems = checks.find_problems(replace(model, services=services))
    assert [(p.kind, p.subject) for p in problems] == [
        (checks.SERVICE_NO_ENDPOINTS, "production/app-v1")
    ]
    assert problems[0].message == (
        "Service production/app-v1 has no ready endpoints: no ready pod matches app=app-v1"
    )


def test_endpoints_that_are_not_ready_do_not_count():
    model = healthy_map()
    services = tuple(
        replace(s, endpoints=tuple(replace(e, ready=False) for e in s.endpoints))
        if s.name == "app-v1"
        else s
        for s in model.services
    )
    assert [p.subject for p in checks.find_problems(replace(model, services=services))] == [
        "production/app-v1"
    ]


def test_a_service_without_selector_is_not_expected_to_have_endpoints():
    model = healthy_map()
    services = tuple(
        replace(s, endpoints=()) if s.name == "kubernetes" else s for s in model.services
    )
    assert checks.find_problems(replace(model, services=services)) == []


def test_a_node_that_could_not_be_read():
    model = with_node(healthy_map(), "worker2", state=None, state_error="ssh: connection refused")
    problems = checks.find_problems(model)
    assert kinds(model) == [(checks.NODE_UNREACHABLE, "worker2", "")]
    assert "connection refused" in problems[0].message


def test_an_inventory_node_the_cluster_does_not_know():
    model = healthy_map()
    model = replace(
        model,
        other_hosts=(*model.other_hosts, Host("worker3", "192.168.60.23", ("workers",))),
    )
    assert kinds(model) == [(checks.NODE_NOT_JOINED, "worker3", "")]


def test_a_node_without_pod_range():
    model = with_node(healthy_map(), "worker2", pod_cidr=None)
    assert kinds(model) == [(checks.NO_POD_CIDR, "worker2", "")]


def test_flannel_mac_differs_from_the_announced_vtep():
    model = healthy_map()
    device = replace(model.node("worker1").state.flannel, mac="0a:ff:ff:ff:ff:ff")
    assert kinds(with_state(model, "worker1", flannel=device)) == [
        (checks.VTEP_MISMATCH, "worker1", "")
    ]


def test_cni0_outside_the_node_pod_range():
    model = with_state(healthy_map(), "worker1", cni0="10.244.9.1/24")
    assert kinds(model) == [(checks.CNI0_MISMATCH, "worker1", "")]


@pytest.mark.parametrize(
    ("field", "kind"),
    [("forwarding", checks.FORWARDING_MISSING), ("neighbours", checks.NEIGHBOUR_MISSING)],
)
def test_flannel_entries_for_a_peer_vtep(field, kind):
    model = healthy_map()
    entries = getattr(model.node("cp1").state, field)
    kept = tuple(e for e in entries if e.mac != "0a:00:00:00:00:22")
    assert kinds(with_state(model, "cp1", **{field: kept})) == [(kind, "cp1", "worker2")]
    # Entries the node could not list are not reported as missing.
    assert checks.find_problems(with_state(model, "cp1", **{field: None})) == []


def test_endpoint_on_the_host_network_is_an_endpoint():
    model = healthy_map()
    services = tuple(
        replace(s, endpoints=(Endpoint("192.168.60.21", node="worker1"),))
        if s.name == "app-v1"
        else s
        for s in model.services
    )
    assert checks.find_problems(replace(model, services=services)) == []
