"""Reading an Ansible inventory into the node list a provider needs.

Ansible's own parser (``ansible-inventory --list``) reads the inventory, so
every format and variable precedence rule Ansible supports works here too.
"""

import ipaddress
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubesmith.errors import KubesmithError
from kubesmith.proc import run

DEFAULT_INVENTORY = Path("inventory/local")
SUPPORTED_RELEASES = ("bookworm", "trixie")


@dataclass(frozen=True)
class NodeSpec:
    """One machine of the inventory as a node provider sees it."""

    name: str
    address: ipaddress.IPv4Address
    groups: tuple[str, ...]


@dataclass(frozen=True)
class LocalNetwork:
    """The host bridge the local nodes of one inventory share."""

    bridge: str
    gateway: ipaddress.IPv4Interface
    egress_nat: bool


@dataclass(frozen=True)
class LocalSpec:
    """Everything the local provider needs from an inventory."""

    nodes: tuple[NodeSpec, ...]
    network: LocalNetwork
    release: str
    ssh_user: str
    ssh_key: Path


def _ansible_inventory() -> str:
    beside_python = Path(sys.executable).with_name("ansible-inventory")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("ansible-inventory")
    if found is None:
        raise KubesmithError("ansible-inventory not found: run `make setup` first")
    return found


def load_raw(path: Path) -> dict[str, Any]:
    """The inventory as ``ansible-inventory --list`` prints it."""
    if not path.exists():
        raise KubesmithError(f"inventory {path} does not exist (copy inventory/sample to start)")
    result = run([_ansible_inventory(), "-i", path, "--list"], what=f"read inventory {path}")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _groups_of(raw: dict[str, Any]) -> dict[str, list[str]]:
    membership: dict[str, list[str]] = {}

    def walk(group: str) -> list[str]:
        entry = raw.get(group, {})
        hosts = list(entry.get("hosts", []))
        for child in entry.get("children", []):
            hosts.extend(walk(child))
        return hosts

    for group in raw:
        if group == "_meta":
            continue
        for host in walk(group):
            membership.setdefault(host, [])
            if group not in membership[host]:
                membership[host].append(group)
    return membership


def _require(hostvars: dict[str, Any], key: str, where: str) -> Any:
    if key not in hostvars:
        raise KubesmithError(f"{where}: variable `{key}` is not set (see inventory/local)")
    return hostvars[key]


def host_names(raw: dict[str, Any], source: Path) -> list[str]:
    """Every host of the inventory (sorted); an inventory without hosts is an error."""
    return _names(_groups_of(raw), source)


def host_groups(raw: dict[str, Any]) -> dict[str, list[str]]:
    """Each host's groups, parents included (``k8s_cluster`` for a worker)."""
    return _groups_of(raw)


def _names(membership: dict[str, list[str]], source: Path) -> list[str]:
    names = sorted(h for h in membership if h != "localhost")
    if not names:
        raise KubesmithError(f"inventory {source} defines no hosts")
    return names


def local_spec(raw: dict[str, Any], source: Path) -> LocalSpec:
    """Build the local-provider view of an inventory, checking what it needs."""
    hostvars: dict[str, dict[str, Any]] = raw.get("_meta", {}).get("hostvars", {})
    membership = _groups_of(raw)
    names = _names(membership, source)
    first = hostvars.get(names[0], {})
    where = f"inventory {source}"
    try:
        value = str(_require(first, "local_nodes_gateway", where))
        if "/" not in value:
            raise ValueError(value)
        gateway = ipaddress.IPv4Interface(value)
    except ValueError as exc:
        raise KubesmithError(
            f"{where}: local_nodes_gateway must be an address with prefix, e.g. 192.168.60.1/24"
        ) from exc
    network = LocalNetwork(
        bridge=str(_require(first, "local_nodes_bridge", where)),
        gateway=gateway,
        egress_nat=bool(first.get("local_nodes_egress_nat", False)),
    )
    if len(network.bridge) > 15:
        raise KubesmithError(f"{where}: local_nodes_bridge must be at most 15 characters")
    release = str(first.get("local_nodes_release", "bookworm"))
    if release not in SUPPORTED_RELEASES:
        choices = ", ".join(SUPPORTED_RELEASES)
        raise KubesmithError(f"{where}: local_nodes_release `{release}` is not one of {choices}")
    nodes = []
    for name in names:
        address = ipaddress.IPv4Address(_require(hostvars.get(name, {}), "ansible_host", name))
        if address not in gateway.network or address == gateway.ip:
            raise KubesmithError(
                f"host {name}: ansible_host {address} must be inside {gateway.network} "
                f"and differ from the bridge address {gateway.ip}"
            )
        nodes.append(NodeSpec(name=name, address=address, groups=tuple(membership[name])))
    return LocalSpec(
        nodes=tuple(nodes),
        network=network,
        release=release,
        ssh_user=str(first.get("ansible_user", "root")),
        ssh_key=Path(str(_require(first, "ansible_ssh_private_key_file", where))),
    )


def load_local(path: Path) -> LocalSpec:
    """Read an inventory and return what the local provider needs from it."""
    return local_spec(load_raw(path), path)
