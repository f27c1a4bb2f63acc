"""`kubesmith vagrant inventory`: python-vagrant turns running VMs into
Ansible connection settings.

A stand-in `vagrant` executable answers `status --machine-readable` and
`ssh-config NAME` in Vagrant 2.3's exact output formats, for four VMs on
VirtualBox (forwarded ports) and on libvirt; everything after that
(python-vagrant's parsing, the written inventory, Ansible reading it) is the
real code. test_vagrant_vm.py does the same against a real VM.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from kubesmith import vagrant as kvagrant
from kubesmith.errors import KubesmithError
from kubesmith.inventory import load_raw

FAKE = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    state = json.load(open(os.environ["FAKE_VAGRANT_STATE"]))
    with open(os.environ["FAKE_VAGRANT_LOG"], "a") as log:
        call = {{"argv": sys.argv[1:], "inventory": os.environ.get("KUBESMITH_INVENTORY")}}
        log.write(json.dumps(call) + "\\n")
    if sys.argv[1:] == ["status", "--machine-readable"]:
        for name, vm in state.items():
            for kind, data in (("metadata", "provider," + vm["provider"]),
                               ("provider-name", vm["provider"]), ("state", vm["state"]),
                               ("state-human-short", vm["state"].replace("_", " "))):
                print("1795358136,%s,%s,%s" % (name, kind, data))
        print("1795358136,,ui,info,Current machine states:")
        sys.exit(0)
    if sys.argv[1] == "ssh-config":
        vm = state[sys.argv[2]]
        if vm["state"] != "running":
            print("1795358136,,error-exit,Vagrant::Errors::SSHNotReady,The provider... not ready")
            sys.exit(1)
        print("Host %s" % sys.argv[2])
        for key, value in (("HostName", vm["host"]), ("User", "vagrant"), ("Port", vm["port"]),
                           ("UserKnownHostsFile", "/dev/null"), ("StrictHostKeyChecking", "no"),
                           ("PasswordAuthentication", "no"), ("IdentityFile", vm["key"]),
                           ("IdentitiesOnly", "yes"), ("LogLevel", "FATAL"),
                           ("PubkeyAcceptedKeyTypes", "+ssh-rsa"),
                           ("HostKeyAlgorithms", "+ssh-rsa")):
            print("  %s %s" % (key, value))
        print()
        sys.exit(0)
    sys.exit(3)
    """
)
ANSIBLE_INVENTORY = str(Path(sys.executable).with_name("ansible-inventory"))
NAMES = ["cp1", "etcd1", "worker1", "worker2"]


@pytest.fixture
def fake_vagrant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "vagrant"
    exe.write_text(FAKE.format(python=sys.executable))
    exe.chmod(0o755)
    state = tmp_path / "state.json"
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VAGRANT_STATE", str(state))
    monkeypatch.setenv("FAKE_VAGRANT_LOG", str(log))
    return {"state": state, "log": log, "root": tmp_path}


def vms(states: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """VirtualBox-style VMs: SSH through ports forwarded on 127.0.0.1."""
    states = states or {}
    return {
        name: {
            "provider": "virtualbox",
            "state": states.get(name, "running"),
            "host": "127.0.0.1",
            "port": str(2200 + i),
            "key": f"/home/ops/kubesmith/.vagrant/machines/{name}/virtualbox/private_key",
        }
        for i, name in enumerate(["etcd1", "cp1", "worker1", "worker2"])
    }


def write(fake: dict[str, Path], inventory: Path) -> Path:
    return kvagrant.write_inventory(fake["root"], inventory, load_raw(inventory))


def test_running_vms_become_ansible_connection_settings(fake_vagrant, vagrant_inventory):
    fake_vagrant["state"].write_text(json.dumps(vms()))
    written = write(fake_vagrant, vagrant_inventory)
    assert written == vagrant_inventory / "vagrant-ssh.yml"
    hosts = yaml.safe_load(written.read_text())["all"]["hosts"]
    assert sorted(hosts) == NAMES
    assert hosts["cp1"]["ansible_host"] == "127.0.0.1"
    assert hosts["cp1"]["ansible_port"] == 2201
    assert hosts["worker2"]["ansible_port"] == 2203
    key = hosts["worker2"]["ansible_ssh_private_key_file"]
    assert key.endswith("machines/worker2/virtualbox/private_key")
    assert {h["ansible_user"] for h in hosts.values()} == {"vagrant"}
    assert all(h["ansible_become"] is True for h in hosts.values())
    # Vagrant was asked with the same inventory, so its Vagrantfile read these hosts.
    calls = [json.loads(line) for line in fake_vagrant["log"].read_text().splitlines()]
    assert calls[0]["argv"] == ["status", "--machine-readable"]
    assert sorted(c["argv"][1] for c in calls[1:]) == NAMES
    assert {c["inventory"] for c in calls} == {str(vagrant_inventory.resolve())}

    # Ansible merges the written file with hosts.yml: SSH goes to the forwarded
    # port while the roles still use the private address.
    result = subprocess.run(
        [ANSIBLE_INVENTORY, "-i", str(vagrant_inventory), "--host", "cp1"],
        capture_output=True,
        text=True,
        check=True,
    )
    cp1 = json.loads(result.stdout)
    connection = (cp1["ansible_host"], cp1["ansible_port"], cp1["vagrant_ip"])
    assert connection == ("127.0.0.1", 2201, "192.168.56.11")


def test_libvirt_vms_use_their_management_address(fake_vagrant, vagrant_inventory):
    machines = vms()
    for i, vm in enumerate(machines.values()):
        vm.update(provider="libvirt", host=f"192.168.121.{50 + i}", port="22")
    fake_vagrant["state"].write_text(json.dumps(machines))
    written = write(fake_vagrant, vagrant_inventory)
    hosts = yaml.safe_load(written.read_text())["all"]["hosts"]
    etcd1 = hosts["etcd1"]
    assert (etcd1["ansible_host"], etcd1["ansible_port"]) == ("192.168.121.50", 22)


def test_a_stopped_vm_is_named_and_nothing_is_written(fake_vagrant, vagrant_inventory):
    previous = vagrant_inventory / "vagrant-ssh.yml"
    previous.write_text("# from an earlier run\n")
    fake_vagrant["state"].write_text(json.dumps(vms({"worker1": "poweroff", "cp1": "not_created"})))
    stopped = r"not running: cp1 \(not_created\), worker1 \(poweroff\)"
    with pytest.raises(KubesmithError, match=stopped):
        write(fake_vagrant, vagrant_inventory)
    assert previous.read_text() == "# from an earlier run\n"
    # Control: the same inventory with every VM running is written.
    fake_vagrant["state"].write_text(json.dumps(vms()))
    write(fake_vagrant, vagrant_inventory)
    assert "ansible_port: 2202" in previous.read_text()


def test_an_inventory_host_without_a_vm_is_named(fake_vagrant, vagrant_inventory):
    machines = vms()
    del machines["worker2"]
    fake_vagrant["state"].write_text(json.dumps(machines))
    with pytest.raises(KubesmithError, match=r"defines no VM for inventory host\(s\) worker2"):
        write(fake_vagrant, vagrant_inventory)
    assert not (vagrant_inventory / "vagrant-ssh.yml").exists()


def test_vagrant_errors_are_shown(repo, vagrant_exe, tmp_path, vagrant_inventory, monkeypatch):
    """Real Vagrant with no usable hypervisor: its own message comes through."""
    del vagrant_exe  # only required: the test runs the real one
    if shutil.which("VBoxManage"):
        pytest.skip("VirtualBox is installed here")
    monkeypatch.setenv("VAGRANT_DOTFILE_PATH", str(tmp_path / "dotvagrant"))
    with pytest.raises(KubesmithError, match=r"vagrant status failed: .*VirtualBox"):
        kvagrant.write_inventory(repo, vagrant_inventory, load_raw(vagrant_inventory))


def test_preflight_accepts_vms_sharing_the_forwarding_address(
    repo, fake_vagrant, vagrant_inventory
):
    """Every VirtualBox VM is reached at 127.0.0.1 on its own port; the cluster
    addresses (kube_node_ip = vagrant_ip) stay distinct, so preflight passes."""
    fake_vagrant["state"].write_text(json.dumps(vms()))
    write(fake_vagrant, vagrant_inventory)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i",
            str(vagrant_inventory),
            str(repo / "playbooks" / "preflight.yml"),
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "inventory check failed" not in result.stdout
