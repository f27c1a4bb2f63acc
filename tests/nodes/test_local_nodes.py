"""Local node lifecycle through the CLI: create, re-create, stop/start, delete."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubesmith.local.network import CHAIN
from kubesmith.paths import state_dir

pytestmark = pytest.mark.nodes

KUBESMITH = Path(sys.executable).parent / "kubesmith"
BRIDGE = "ksbr-lt"
NODES = {"lt1": "192.168.63.10", "lt2": "192.168.63.11"}


def cli(inventory: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KUBESMITH, "-i", inventory, *args], capture_output=True, text=True, check=check
    )


def write_inventory(root, nodes, bridge, gateway, release="bookworm"):
    inv = root / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    workers = {name: {"ansible_host": ip} for name, ip in nodes.items()}
    (inv / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": {"workers": {"hosts": workers}}}})
    )
    settings = {
        "local_nodes_bridge": bridge,
        "local_nodes_gateway": gateway,
        "local_nodes_release": release,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(state_dir() / "ssh" / "id_ed25519"),
    }
    (inv / "group_vars" / "all" / "local_nodes.yml").write_text(yaml.safe_dump(settings))
    return inv


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    inv = write_inventory(tmp_path_factory.mktemp("lt"), NODES, BRIDGE, "192.168.63.1/24")
    yield inv
    cli(inv, "nodes", "delete", check=False)


def _leftovers() -> list[str]:
    found = []
    procs = subprocess.run(["pgrep", "-af", "systemd-nspawn"], capture_output=True, text=True)
    found += [p for p in procs.stdout.splitlines() if any(f"--machine={n}" in p for n in NODES)]
    found += [str(p) for n in NODES for p in Path("/sys/fs/cgroup").rglob(f"nspawn-{n}")]
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0:
        found.append(f"bridge {BRIDGE}")
    rules = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True).stdout
    found += [r for r in rules.splitlines() if BRIDGE in r]
    found += [str(state_dir() / "nodes" / n) for n in NODES if (state_dir() / "nodes" / n).exists()]
    mounts = Path("/proc/self/mounts").read_text()
    found += [m for m in mounts.splitlines() if any(f"nodes/{n}/" in m for n in NODES)]
    procs = subprocess.run(["pgrep", "-af", f"services/{BRIDGE}/"], capture_output=True, text=True)
    found += procs.stdout.splitlines()
    return found


def test_lifecycle_leaves_nothing_behind(inventory):
    created = cli(inventory, "nodes", "create")
    assert "2 nodes ready" in created.stderr
    listing = cli(inventory, "nodes", "list").stdout
    assert all(f"{n}  " in listing for n in NODES) and listing.count("running") == 2

    hostname = cli(inventory, "nodes", "ssh", "lt2", "hostname").stdout.strip()
    assert hostname == "lt2"
    assert cli(inventory, "nodes", "ssh", "lt1", "ping", "-c1", "-W2", NODES["lt2"]).returncode == 0

    again = cli(inventory, "nodes", "create")
    assert "booting" not in again.stderr and "lt1: running" in again.stderr

    cli(inventory, "nodes", "stop", "lt1")
    assert "stopped" in cli(inventory, "nodes", "list").stdout
    assert cli(inventory, "nodes", "ssh", "lt1", "true", check=False).returncode != 0
    cli(inventory, "nodes", "start", "lt1")
    assert cli(inventory, "nodes", "ssh", "lt1", "cat", "/etc/hostname").stdout.strip() == "lt1"

    rules = subprocess.run(["iptables", "-w", "-S", CHAIN], capture_output=True, text=True).stdout
    assert f"-A {CHAIN} -i {BRIDGE} -j DROP" in rules

    assert _leftovers() != [], "negative control: while nodes run there is state to find"
    cli(inventory, "nodes", "delete")
    assert _leftovers() == []


def test_unknown_node_is_a_clear_error(inventory):
    result = cli(inventory, "nodes", "stop", "nope", check=False)
    assert result.returncode == 1
    assert "no host nope in this inventory (hosts: lt1, lt2)" in result.stderr


def test_image_is_built_alone_and_makes_no_node(inventory):
    result = cli(inventory, "nodes", "image")
    image = result.stderr.strip().rsplit(": ", 1)[-1]
    assert "node image for Debian bookworm" in result.stderr
    assert Path(image, "rootfs/etc/os-release").is_file()
    assert not _leftovers()


def test_trixie_nodes_are_selectable(tmp_path):
    inv = write_inventory(
        tmp_path, {"lt-trixie": "192.168.65.10"}, "ksbr-lx", "192.168.65.1/24", release="trixie"
    )
    try:
        cli(inv, "nodes", "create")
        os_release = cli(inv, "nodes", "ssh", "lt-trixie", "cat", "/etc/os-release").stdout
        assert "VERSION_CODENAME=trixie" in os_release
    finally:
        cli(inv, "nodes", "delete", check=False)


def test_too_little_disk_is_refused_before_anything_is_made(tmp_path):
    """Nodes share this machine's disk: a state directory without room for the
    new nodes and the kubelets' eviction reserve is refused up front."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", small], check=True)
    try:
        inv = write_inventory(tmp_path, {"lt-disk": "192.168.66.10"}, "ksbr-ld", "192.168.66.1/24")
        env = {**os.environ, "KUBESMITH_STATE_DIR": str(small)}
        result = subprocess.run(
            [KUBESMITH, "-i", inv, "nodes", "create"], capture_output=True, text=True, env=env
        )
        assert result.returncode == 1, result.stderr
        assert f"{small}/nodes has 0.1 GiB free" in result.stderr
        assert "1 new node(s) (lt-disk) need 3.5 GiB" in result.stderr
        assert list(small.iterdir()) == []
        link = subprocess.run(["ip", "link", "show", "ksbr-ld"], capture_output=True)
        assert link.returncode != 0, "the bridge was created before the disk check"
    finally:
        subprocess.run(["umount", small], check=True)
