"""etcd does not grow by a re-run: cluster.yml with the etcd group given more
members than the running cluster has is refused before anything is installed,
on the nodes or in the controller's etcd PKI."""

import re
import shutil

import yaml

from conftest import (
    ETCD_HOSTS,
    INVENTORY,
    REPO,
    default_scenario_only,
    inventory_hosts,
    inventory_var,
    other,
    run_playbook,
)

# The check does not depend on the node OS: it runs in default, where it is the
# one-member cluster growing to three.
pytestmark = default_scenario_only

testinfra_hosts = ["cp1"]
PKI = REPO / "artifacts" / inventory_var("kube_cluster_name", "kubesmith") / "pki" / "etcd"


def _recap(output: str) -> dict[str, int]:
    recap = output.split("PLAY RECAP", 1)[-1]
    return {h: int(c) for h, c in re.findall(r"^(\S+)\s+:.*changed=(\d+)", recap, re.MULTILINE)}


def _grown_inventory(tmp_path, extra: list[str]):
    """The scenario's inventory with two workers added to the etcd group."""
    hosts = yaml.safe_load((INVENTORY / "hosts.yml").read_text())
    etcd = hosts["all"]["children"]["etcd"]["hosts"]
    for name in extra:
        etcd[name] = None
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    shutil.copytree(INVENTORY / "group_vars", inventory / "group_vars")
    return inventory


def test_more_etcd_members_than_the_cluster_has_are_refused(host, tmp_path):
    extra = list(inventory_hosts("workers"))[:2]
    grown = len(ETCD_HOSTS) + len(extra)
    result = run_playbook("cluster.yml", inventory=_grown_inventory(tmp_path, extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    # Ansible's YAML output folds long messages over several lines.
    flat = " ".join(output.split())
    assert f"{ETCD_HOSTS[0]} belongs to a running etcd cluster of {len(ETCD_HOSTS)} member" in flat
    assert f"but the etcd group lists {grown} members" in flat
    assert "Nothing has been changed." in flat
    assert "TASK [node_prereqs" not in output, "refused only after installing"
    recap = _recap(output)
    assert set(extra) <= set(recap) and not any(recap.values()), recap
    for name in extra:
        assert not other(host, name).file("/etc/systemd/system/etcd.service").exists, name
        assert not (PKI / f"{name}-peer.crt").exists(), f"a certificate was made for {name}"


def test_the_same_etcd_group_passes_and_changes_nothing():
    """Negative control: the scenario's own etcd group passes the same checks,
    and the etcd stage changes nothing."""
    result = run_playbook("cluster.yml", "--tags", "etcd")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert not any(_recap(output).values()), output[-3000:]
