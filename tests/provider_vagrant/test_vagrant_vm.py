"""A real VM: `vagrant up` with vagrant-libvirt from the repository's
Vagrantfile, then `kubesmith vagrant inventory` against the real Vagrant, and
Ansible over the settings it wrote.

Run by `make vagrant-vm-test` (part of `make test`; it sets
KUBESMITH_VAGRANT_VM=1, without which pytest skips this file): it needs libvirtd
running, qemu and Debian's vagrant-libvirt, and on a host without hardware
virtualisation the VM runs under qemu's software emulation, which takes
minutes. The box is built here (tests/provider_vagrant/box.py). Both libvirt
networks are isolated (management network mode "none", the private network
without forwarding), so the VM reaches this machine and nothing else.
"""

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from box import build_box

from kubesmith.paths import state_dir
from kubesmith.proc import run

pytestmark = pytest.mark.vagrant_vm

VM = "vm1"
VM_IP = "192.168.57.10"
BIN = Path(sys.executable).parent


def _virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = ["virsh", "-c", "qemu:///system", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def _networks() -> set[str]:
    return set(_virsh("net-list", "--all", "--name").stdout.split())


def _needs() -> list[str]:
    missing = [exe for exe in ("vagrant", "qemu-system-x86_64", "virsh") if not shutil.which(exe)]
    plugin = Path("/usr/share/rubygems-integration/all/gems").glob("vagrant-libvirt-*")
    if not any(plugin):
        missing.append("vagrant-libvirt")
    if shutil.which("virsh") and _virsh("version", check=False).returncode:
        missing.append("a running libvirtd")
    return missing


@dataclass(frozen=True)
class VmRun:
    inventory: Path
    env: dict[str, str]
    networks: set[str]


def _vagrant(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 600):
    return run(
        ["vagrant", *args],
        what=f"vagrant {args[0]}",
        cwd=cwd,
        env=env,
        check=False,
        timeout=timeout,
    )


def _ensure_box(env: dict[str, str]) -> str:
    """The test box, named after its file (the recipe's digest): a changed box
    is a new box, and an unchanged one is added, and uploaded to libvirt, once."""
    box = build_box()
    name = f"kubesmith/{box.stem}"
    listed = _vagrant("box", "list", "--machine-readable", env=env)
    if f",box-name,{name}" not in listed.stdout:
        added = _vagrant("box", "add", "--name", name, "--provider", "libvirt", str(box), env=env)
        assert added.returncode == 0, added.stderr
    return name


def _one_vm_inventory(repo: Path, root: Path, box_name: str) -> Path:
    """inventory/vagrant's settings, one host, both libvirt networks isolated."""
    inv = root / "inventory"
    shutil.copytree(repo / "inventory" / "vagrant" / "group_vars", inv / "group_vars")
    settings = inv / "group_vars" / "all" / "vagrant.yml"
    values = yaml.safe_load(settings.read_text())
    values |= {
        "vagrant_box": box_name,
        "vagrant_provider": "libvirt",
        "vagrant_libvirt_management_network_mode": "none",
    }
    settings.write_text(yaml.safe_dump(values))
    host = {"vagrant_ip": VM_IP, "vagrant_cpus": 1, "vagrant_memory": 1024}
    hosts = {"all": {"children": {"workers": {"hosts": {VM: host}}}}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return inv


@pytest.fixture(scope="module")
def vm_run(repo: Path, tmp_path_factory: pytest.TempPathFactory):
    if os.environ.get("KUBESMITH_VAGRANT_VM") != "1":
        pytest.skip("the real-VM test runs through make vagrant-vm-test (KUBESMITH_VAGRANT_VM=1)")
    if missing := _needs():
        pytest.fail(f"real-VM test needs {', '.join(missing)} (make vagrant-vm-test installs them)")
    # qemu runs as its own user and must read the box's kernel: Vagrant's
    # home for this test is outside /root.
    home = state_dir() / "vagrant.d"
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    base_env = {**os.environ, "VAGRANT_HOME": str(home)}
    root = tmp_path_factory.mktemp("vm")
    inv = _one_vm_inventory(repo, root, _ensure_box(base_env))
    env = {
        **base_env,
        "KUBESMITH_INVENTORY": str(inv),
        "VAGRANT_DOTFILE_PATH": str(root / ".vagrant"),
    }
    before = _networks()
    try:
        up = _vagrant("up", "--provider", "libvirt", env=env, cwd=repo, timeout=1800)
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        yield VmRun(inventory=inv, env=env, networks=_networks() - before)
    finally:
        _vagrant("destroy", "--force", env=env, cwd=repo)
        for name in _networks() - before:
            _virsh("net-destroy", name, check=False)
            _virsh("net-undefine", name, check=False)


def _kubesmith(repo: Path, inv: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "kubesmith", "-i", inv, "vagrant", "inventory", "--root", repo],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_running_vm_becomes_an_ansible_host_on_its_private_address(repo, vm_run):
    inv, env = vm_run.inventory, vm_run.env
    written = _kubesmith(repo, inv, env)
    assert written.returncode == 0, written.stderr
    ssh = yaml.safe_load((inv / "vagrant-ssh.yml").read_text())
    settings = ssh["all"]["hosts"][VM]
    assert settings["ansible_user"] == "vagrant"
    assert Path(settings["ansible_ssh_private_key_file"]).is_file()

    eth1 = subprocess.run(
        [
            BIN / "ansible",
            "-i",
            inv,
            VM,
            "-b",
            "-m",
            "ansible.builtin.command",
            "-a",
            "ip -4 -o addr show eth1",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert eth1.returncode == 0, eth1.stdout + eth1.stderr
    assert f"inet {VM_IP}/24" in eth1.stdout


def test_libvirt_networks_are_isolated(vm_run):
    """Neither network Vagrant made for the VM forwards anywhere, and no
    address translation exists on this machine."""
    assert len(vm_run.networks) == 2, vm_run.networks
    for name in vm_run.networks:
        xml = _virsh("net-dumpxml", name).stdout
        assert "<forward" not in xml, f"libvirt network {name} forwards:\n{xml}"
    nat = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    assert "MASQUERADE" not in nat and "SNAT" not in nat, nat


def test_halted_vm_is_named_and_nothing_is_written(repo, vm_run):
    inv, env = vm_run.inventory, vm_run.env
    (inv / "vagrant-ssh.yml").unlink(missing_ok=True)
    halt = _vagrant("halt", VM, env=env, cwd=repo)
    assert halt.returncode == 0, halt.stderr
    result = _kubesmith(repo, inv, env)
    assert result.returncode != 0
    assert VM in result.stderr and "not running" in result.stderr
    assert not (inv / "vagrant-ssh.yml").exists()
