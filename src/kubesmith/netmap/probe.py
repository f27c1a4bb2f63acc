"""Reading a node's network state: one read-only shell script, one SSH call per node.

The script prints each section after a ``@@name`` marker line; a command that
cannot run (flannel.1 absent, no ``bridge`` tool) leaves its section empty or
marks it ``@@name unavailable``.
"""

import json
import shlex
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubesmith.netmap.model import (
    BRIDGE_DEVICE,
    FLANNEL_DEVICE,
    ForwardingEntry,
    Neighbour,
    NodeState,
    Route,
    VxlanDevice,
)
from kubesmith.netmap.targets import SshTarget

SSH_TIMEOUT_SECONDS = 20
MAX_PARALLEL = 16
# ssh's own exit status when it cannot connect or log in.
SSH_FAILED = 255
RESOLV_CONF_LINES = 20
MARKER = "@@"

NODE_SCRIPT = f"""\
export LC_ALL=C PATH="$PATH:/usr/sbin:/sbin"
command -v ip >/dev/null || {{ echo "ip (iproute2) is not installed" >&2; exit 3; }}
echo {MARKER}route; ip -j route show table main
echo {MARKER}addr; ip -j -4 addr show
echo {MARKER}flannel; ip -j -d link show {FLANNEL_DEVICE} 2>/dev/null
if ip link show {FLANNEL_DEVICE} >/dev/null 2>&1 && command -v bridge >/dev/null; then
  echo {MARKER}fdb; bridge -j fdb show dev {FLANNEL_DEVICE}
  echo {MARKER}neigh; ip -j neigh show dev {FLANNEL_DEVICE}
else
  echo '{MARKER}fdb unavailable'; echo '{MARKER}neigh unavailable'
fi
echo {MARKER}resolv; head -n {RESOLV_CONF_LINES} /etc/resolv.conf
echo {MARKER}resolved
if [ -r /run/systemd/resolve/resolv.conf ]; then
  head -n {RESOLV_CONF_LINES} /run/systemd/resolve/resolv.conf
fi
true
"""


def sections(output: str) -> dict[str, str | None]:
    """The script's output split by marker; None for a section marked unavailable."""
    found: dict[str, str | None] = {}
    name: str | None = None
    lines: list[str] = []
    for line in [*output.splitlines(), MARKER]:
        if line.startswith(MARKER):
            if name is not None:
                found[name] = "\n".join(lines)
            parts = line[len(MARKER) :].split()
            name = parts[0] if parts else None
            lines = []
            if name is not None and parts[1:] == ["unavailable"]:
                found[name] = None
                name = None
        elif name is not None:
            lines.append(line)
    return found


def _json_list(text: str | None) -> list[dict[str, Any]]:
    if not text or not text.strip():
        return []
    data = json.loads(text)
    return data if isinstance(data, list) else []


def _routes(items: Iterable[dict[str, Any]]) -> tuple[Route, ...]:
    return tuple(
        Route(destination=str(r["dst"]), device=str(r.get("dev", "")), gateway=r.get("gateway"))
        for r in items
        if "dst" in r
    )


def _address_of(items: Iterable[dict[str, Any]], device: str) -> str | None:
    for link in items:
        if link.get("ifname") == device:
            for info in link.get("addr_info", []):
                if info.get("family") == "inet":
                    return f"{info['local']}/{info['prefixlen']}"
    return None


def _flannel(items: list[dict[str, Any]], address: str | None) -> VxlanDevice | None:
    if not items:
        return None
    link = items[0]
    data = link.get("linkinfo", {}).get("info_data", {})
    return VxlanDevice(
        mac=str(link.get("address", "")),
        vni=data.get("id"),
        local_ip=data.get("local"),
        port=data.get("port"),
        mtu=link.get("mtu"),
        address=address,
    )


def parse(output: str) -> NodeState:
    """A node's state from the output of NODE_SCRIPT."""
    found = sections(output)
    addresses = _json_list(found.get("addr"))
    fdb, neigh = found.get("fdb"), found.get("neigh")
    return NodeState(
        routes=_routes(_json_list(found.get("route"))),
        cni0=_address_of(addresses, BRIDGE_DEVICE),
        flannel=_flannel(_json_list(found.get("flannel")), _address_of(addresses, FLANNEL_DEVICE)),
        forwarding=None
        if fdb is None
        else tuple(
            ForwardingEntry(mac=str(e["mac"]), destination=str(e["dst"]))
            for e in _json_list(fdb)
            if "mac" in e and "dst" in e
        ),
        neighbours=None
        if neigh is None
        else tuple(
            Neighbour(ip=str(n["dst"]), mac=str(n["lladdr"]))
            for n in _json_list(neigh)
            if "dst" in n and "lladdr" in n
        ),
        resolv_conf=tuple((found.get("resolv") or "").splitlines()),
        resolved_upstream=tuple((found.get("resolved") or "").splitlines()),
    )


def probe(target: SshTarget) -> NodeState | str:
    """One node's state over SSH, or the reason it could not be read."""
    try:
        result = subprocess.run(
            # sh -c, as Ansible does: the login shell may not be a POSIX one.
            target.argv("sh -c " + shlex.quote(NODE_SCRIPT)),
            capture_output=True,
            text=True,
            check=False,
            timeout=SSH_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return "ssh is not installed (make setup)"
    except subprocess.TimeoutExpired:
        return f"ssh to {target.host} gave no answer within {SSH_TIMEOUT_SECONDS} s"
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        if result.returncode == SSH_FAILED:
            return f"ssh to {target.host} failed: {detail}"
        return f"reading {target.host} failed: {detail}"
    try:
        return parse(result.stdout)
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        return f"unexpected output from {target.host}: {exc}"


def probe_all(targets: Iterable[SshTarget]) -> dict[str, NodeState | str]:
    """Every node's state, read in parallel."""
    targets = list(targets)
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(len(targets), MAX_PARALLEL)) as pool:
        results = pool.map(probe, targets)
        return {t.name: r for t, r in zip(targets, results, strict=True)}
