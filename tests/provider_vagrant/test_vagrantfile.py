"""The Vagrantfile's view of the inventory, as Vagrant itself evaluates it.

`vagrant validate` loads the Vagrantfile with Vagrant's own Ruby and
configuration parser; the Vagrantfile writes the machines it defined to
KUBESMITH_VAGRANT_DUMP, which is compared with Ansible's view of the same
inventory. Provider options are skipped (-p): no hypervisor is needed.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]  # where the Vagrantfile is


def validate(vagrant_exe: str, inventory: Path, tmp_path: Path, **env: str) -> tuple[int, str, Any]:
    dump = tmp_path / "machines.json"
    dump.unlink(missing_ok=True)
    result = subprocess.run(
        [vagrant_exe, "validate", "--ignore-provider"],
        cwd=REPO,
        env={
            **os.environ,
            "KUBESMITH_INVENTORY": str(inventory),
            "KUBESMITH_VAGRANT_DUMP": str(dump),
            "VAGRANT_DOTFILE_PATH": str(tmp_path / "dotvagrant"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    machines = json.loads(dump.read_text()) if dump.exists() else None
    return result.returncode, result.stdout + result.stderr, machines


def ansible_view(inventory: Path) -> dict[str, dict[str, Any]]:
    """Host variables as Ansible resolves them, templates included."""
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible")),
            "all",
            "-i",
            str(inventory),
            "-m",
            "ansible.builtin.debug",
            "-a",
            "msg={{ {'ip': vagrant_ip, 'cpus': vagrant_cpus, 'memory': vagrant_memory,"
            " 'node_ip': kube_node_ip, 'iface': pod_network_iface} | to_json }}",
            "-o",
            "-c",
            "local",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    view = {}
    for line in result.stdout.splitlines():
        name, _, rest = line.partition(" | SUCCESS => ")
        view[name] = json.loads(json.loads(rest)["msg"])
    return view


def edit_hosts(inventory: Path, change: Any) -> None:
    hosts = inventory / "hosts.yml"
    data = yaml.safe_load(hosts.read_text())
    change(data["all"]["children"])
    hosts.write_text(yaml.safe_dump(data))


def test_vagrant_defines_one_vm_per_inventory_host(vagrant_exe, vagrant_inventory, tmp_path):
    code, output, machines = validate(vagrant_exe, vagrant_inventory, tmp_path)
    assert code == 0, output
    assert "Vagrantfile validated successfully" in output
    ansible = ansible_view(vagrant_inventory)
    assert sorted(ansible) == ["cp1", "etcd1", "worker1", "worker2"]
    assert {m["name"] for m in machines} == set(ansible)
    for m in machines:
        host = ansible[m["name"]]
        assert (m["ip"], m["cpus"], m["memory"]) == (host["ip"], host["cpus"], host["memory"])
        # The roles bind to the private network, never to Vagrant's SSH address.
        assert host["node_ip"] == m["ip"]
        assert host["iface"] == "eth1"
        assert m["box"] == "debian/bookworm64"


def test_box_is_selectable(vagrant_exe, vagrant_inventory, tmp_path):
    code, output, machines = validate(
        vagrant_exe, vagrant_inventory, tmp_path, KUBESMITH_VAGRANT_BOX="debian/trixie64"
    )
    assert code == 0, output
    assert {m["box"] for m in machines} == {"debian/trixie64"}


def _drop_ip(groups: dict[str, Any]) -> None:
    del groups["workers"]["hosts"]["worker2"]["vagrant_ip"]


def _same_ip(groups: dict[str, Any]) -> None:
    groups["workers"]["hosts"]["worker2"]["vagrant_ip"] = "192.168.56.21"


def _bad_ip(groups: dict[str, Any]) -> None:
    groups["workers"]["hosts"]["worker2"]["vagrant_ip"] = "192.168.56.300"


def _zero_cpus(groups: dict[str, Any]) -> None:
    groups["control_plane"]["hosts"]["cp1"]["vagrant_cpus"] = 0


def _memory_text(groups: dict[str, Any]) -> None:
    groups["etcd"]["hosts"]["etcd1"]["vagrant_memory"] = "1G"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_drop_ip, "host worker2: vagrant_ip is missing"),
        (_same_ip, "host worker2: vagrant_ip 192.168.56.21 is already used by worker1"),
        (_bad_ip, "host worker2: vagrant_ip 192.168.56.300 is not an IPv4 address"),
        (_zero_cpus, "host cp1: vagrant_cpus must be a whole number >= 1 (got 0)"),
        (_memory_text, 'host etcd1: vagrant_memory must be a whole number >= 512 (got "1G")'),
    ],
)
def test_bad_inventory_is_rejected_by_name(
    vagrant_exe, vagrant_inventory, tmp_path, change, message
):
    edit_hosts(vagrant_inventory, change)
    code, output, machines = validate(vagrant_exe, vagrant_inventory, tmp_path)
    assert code != 0
    assert message in output
    assert machines is None


def test_missing_box_and_missing_inventory(vagrant_exe, vagrant_inventory, tmp_path):
    (vagrant_inventory / "group_vars" / "all" / "vagrant.yml").write_text("vagrant_box: ''\n")
    code, output, _ = validate(vagrant_exe, vagrant_inventory, tmp_path)
    assert code != 0
    assert "vagrant_box is not set" in output
    code, output, _ = validate(vagrant_exe, tmp_path / "nowhere", tmp_path)
    assert code != 0
    assert "hosts.yml not found" in output
