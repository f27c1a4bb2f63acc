"""From the API's JSON and the nodes' states to the model (collect.assemble), and from
an inventory to the hosts and settings `kubesmith map` uses."""

from pathlib import Path

import pytest
from netmap_cluster import INVENTORY, OBJECTS, healthy_state, node_obj

from kubesmith.netmap import api, checks
from kubesmith.netmap.collect import assemble
from kubesmith.netmap.targets import map_target, rendered

DEFAULTS = {
    "kube_cluster_name": "kubesmith",
    "kube_dns_ip": "10.96.0.10",
    "kube_pod_subnet": "10.244.0.0/16",
    "kube_ingress_namespace": "nginx-ingress",
    "kube_node_ip": "{{ ansible_host }}",
    "kube_artifacts_dir": "{{ (role_path ~ '/../../artifacts/' ~ kube_cluster_name) "
    "| ansible.builtin.realpath }}",
    "kube_admin_conf_local": "{{ kube_artifacts_dir }}/admin.conf",
}


def target():
    return map_target(INVENTORY, Path("inventory/local"), DEFAULTS)


def test_inventory_gives_ssh_settings_cluster_name_and_the_default_kubeconfig():
    found = target()
    assert [t.name for t in found.nodes] == ["cp1", "worker1", "worker2"]
    assert [t.name for t in found.other_hosts] == ["etcd1"]
    worker1 = found.nodes[1]
    assert (worker1.host, worker1.node_ip, worker1.user) == ("192.168.60.21",) * 2 + ("root",)
    assert worker1.options == ("-o", "StrictHostKeyChecking=yes")
    assert found.cluster == "local"
    # kube_artifacts_dir's default needs Ansible's realpath filter: the repository's
    # artifacts/<cluster>/, as the role resolves it.
    assert found.kubeconfig.parts[-3:] == ("artifacts", "local", "admin.conf")
    assert (found.dns_ip, found.pod_network) == ("10.96.0.10", "10.244.0.0/16")


def test_inventory_templates_and_explicit_artifacts_dir():
    variables = {"vagrant_ip": "192.168.56.21", "kube_node_ip": "{{ vagrant_ip }}"}
    assert rendered(variables, "kube_node_ip") == "192.168.56.21"
    assert rendered({"x": "{{ nope }}"}, "x") is None
    defaults = DEFAULTS | {"kube_artifacts_dir": "/srv/clusters/local"}
    assert map_target(INVENTORY, Path("inv"), defaults).kubeconfig == Path(
        "/srv/clusters/local/admin.conf"
    )


def test_api_objects_and_node_states_become_the_model():
    states = {n: healthy_state(n) for n in ("cp1", "worker1")}
    states["worker2"] = "ssh to 192.168.60.22 failed: Connection refused"
    model = assemble(target(), OBJECTS, states)
    assert [n.name for n in model.nodes] == ["cp1", "worker1", "worker2"]
    cp1 = model.node("cp1")
    assert (cp1.address, cp1.roles, cp1.pod_cidr) == (
        "192.168.60.11",
        ("control-plane",),
        "10.244.0.0/24",
    )
    assert (cp1.vtep.mac, cp1.vtep.public_ip, cp1.vtep.backend) == (
        "0a:00:00:00:00:11",
        "192.168.60.11",
        "vxlan",
    )
    assert cp1.state == healthy_state("cp1")
    assert model.node("worker2").state is None
    assert [(h.name, h.address, h.groups) for h in model.other_hosts] == [
        ("etcd1", "192.168.60.10", ("etcd",))
    ]
    assert [p.name for p in model.pods] == ["kube-proxy-abcde", "app-v1-5d9c7b7f4-x2x9q"]
    assert model.dns.ip == "10.96.0.10" and model.dns.source == "service kube-system/kube-dns"
    app = next(s for s in model.services if s.name == "app-v1")
    assert (app.type, app.cluster_ip, app.selector) == ("NodePort", "10.104.18.3", ("app=app-v1",))
    assert (app.ports[0].port, app.ports[0].target_port, app.ports[0].node_port) == (
        80,
        "8080",
        30080,
    )
    assert [(e.ip, e.node, e.pod) for e in app.endpoints] == [
        ("10.244.2.7", "worker2", "app-v1-5d9c7b7f4-x2x9q")
    ]
    assert model.ingresses[0].rules[0].host == "app.example"
    assert model.ingress_controller is None  # nothing runs in nginx-ingress
    assert model.isolated_namespaces() == ("other", "production")
    production = next(p for p in model.network_policies if p.namespace == "production")
    assert production.admits == (
        "pods of production",
        "namespace nginx-ingress",
        "192.168.60.0/24",
    )
    other = next(p for p in model.network_policies if p.namespace == "other")
    assert (other.pod_selector, other.admits) == ("app=web", ("anywhere on 8080/TCP",))
    problems = [(p.kind, p.subject) for p in checks.find_problems(model)]
    assert problems == [
        (checks.NODE_UNREACHABLE, "worker2"),
        (checks.SERVICE_NO_ENDPOINTS, "kube-system/kube-dns"),
    ]


def test_a_not_ready_node_keeps_the_kubelet_reason():
    found = api.node(node_obj("worker1", "192.168.60.21", 1, "0a:00:00:00:00:21", ready=False))
    assert not found.ready
    assert found.not_ready_reason == (
        "KubeletNotReady: container runtime network not ready: cni plugin not initialized"
    )


def test_api_nodes_match_inventory_hosts_by_address_when_names_differ():
    renamed = api.ApiObjects(
        **{
            **OBJECTS.__dict__,
            "nodes": [node_obj("ip-192-168-60-21", "192.168.60.21", 1, "0a:00:00:00:00:21")],
        }
    )
    model = assemble(target(), renamed, {"worker1": healthy_state("worker1")})
    assert model.nodes[0].state == healthy_state("worker1")
    unjoined = [(p.kind, p.subject) for p in checks.find_problems(model)]
    assert (checks.NODE_NOT_JOINED, "cp1") in unjoined
    assert (checks.NODE_NOT_JOINED, "worker2") in unjoined


@pytest.mark.parametrize(
    ("peer", "text"),
    [
        ({"namespaceSelector": {}}, "every namespace"),
        (
            {"namespaceSelector": {"matchLabels": {"team": "a"}}, "podSelector": {}},
            "namespaces with team=a",
        ),
        (
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}},
                "podSelector": {"matchLabels": {"role": "probe"}},
            },
            "pods with role=probe in namespace ops",
        ),
        (
            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
            "10.0.0.0/8 except 10.1.0.0/16",
        ),
        (
            {
                "podSelector": {
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]
                }
            },
            "pods of ns with tier In (web)",
        ),
    ],
)
def test_policy_peers_read_as_text(peer, text):
    policy = api.network_policies(
        [{"metadata": {"namespace": "ns", "name": "p"}, "spec": {"ingress": [{"from": [peer]}]}}]
    )[0]
    assert policy.admits == (text,)


def test_a_policy_with_no_ingress_rules_admits_nothing():
    policy = api.network_policies(
        [{"metadata": {"namespace": "ns", "name": "deny"}, "spec": {"podSelector": {}}}]
    )[0]
    assert policy.isolates_ingress() and policy.admits == ()
