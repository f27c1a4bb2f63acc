"""The local provider's reading of an inventory."""

import json
from pathlib import Path

import pytest

from kubesmith.errors import KubesmithError
from kubesmith.inventory import load_local, local_spec


def _raw(**overrides):
    hostvars = {
        "local_nodes_bridge": "ksbr9",
        "local_nodes_gateway": "192.168.69.1/24",
        "ansible_ssh_private_key_file": "/var/lib/kubesmith/ssh/id_ed25519",
    }
    hostvars.update(overrides)
    return {
        "_meta": {
            "hostvars": {
                "n1": {**hostvars, "ansible_host": "192.168.69.10"},
                "n2": {**hostvars, "ansible_host": "192.168.69.11"},
            }
        },
        "all": {"children": ["ungrouped", "etcd", "k8s_cluster"]},
        "etcd": {"hosts": ["n1"]},
        "k8s_cluster": {"children": ["workers"]},
        "workers": {"hosts": ["n2"]},
    }


def test_reads_nodes_groups_and_network():
    spec = local_spec(_raw(), Path("inv"))
    assert [(n.name, str(n.address)) for n in spec.nodes] == [
        ("n1", "192.168.69.10"),
        ("n2", "192.168.69.11"),
    ]
    assert "workers" in spec.nodes[1].groups and "k8s_cluster" in spec.nodes[1].groups
    assert spec.network.bridge == "ksbr9"
    assert str(spec.network.gateway) == "192.168.69.1/24"
    assert spec.network.egress_nat is False
    assert spec.release == "bookworm"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"local_nodes_gateway": "192.168.69.1"}, "local_nodes_gateway"),
        ({"local_nodes_gateway": "not-an-address"}, "local_nodes_gateway must be an address"),
        ({"local_nodes_bridge": "a-very-long-bridge-name"}, "at most 15 characters"),
        ({"local_nodes_release": "buster"}, "local_nodes_release `buster`"),
        ({"local_nodes_gateway": "192.168.70.1/24"}, "must be inside 192.168.70.0/24"),
    ],
)
def test_rejects_bad_local_settings(overrides, message):
    with pytest.raises(KubesmithError, match=message):
        local_spec(_raw(**overrides), Path("inv"))


def test_missing_variable_is_named():
    raw = _raw()
    for hv in raw["_meta"]["hostvars"].values():
        del hv["local_nodes_bridge"]
    with pytest.raises(KubesmithError, match="`local_nodes_bridge` is not set"):
        local_spec(raw, Path("inv"))


def test_repo_local_inventory_parses_with_ansible(repo):
    spec = load_local(repo / "inventory" / "local")
    assert {n.name for n in spec.nodes} == {"etcd1", "cp1", "worker1", "worker2"}
    assert spec.network.egress_nat is False


def test_missing_inventory_is_a_clear_error(tmp_path):
    with pytest.raises(KubesmithError, match="does not exist"):
        load_local(tmp_path / "nope")


def test_roundtrip_is_json(repo):
    # ansible-inventory output is what the CLI consumes; keep it JSON-clean.
    from kubesmith.inventory import load_raw

    assert json.dumps(load_raw(repo / "inventory" / "local"))
