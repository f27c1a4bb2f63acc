"""The host side of the local nodes' network: bridge and firewall.

Network safety: node traffic may reach the other nodes on the same bridge and
the host itself (package proxy, mirror, DNS forwarder), nothing else. The host
never forwards or NATs it to another interface unless the inventory asks for
egress NAT explicitly (``local_nodes_egress_nat: true``).

The chains are shared by every bridge, so changing them is locked between
kubesmith processes (make test creates the unit tests' nodes beside the
molecule scenarios'): each one checks and changes them in turn.
"""

import ipaddress
from collections.abc import Sequence
from contextlib import AbstractContextManager

from kubesmith.inventory import LocalNetwork
from kubesmith.locks import exclusive
from kubesmith.paths import state_dir
from kubesmith.proc import run

CHAIN = "KUBESMITH-FWD"
NAT_CHAIN = "KUBESMITH-NAT"
IPTABLES = ("iptables", "ip6tables")

Rule = tuple[str, ...]


def forward_rules(net: LocalNetwork) -> list[Rule]:
    """Filter rules for one bridge, in the order they go into CHAIN."""
    br = net.bridge
    rules: list[Rule] = [("-i", br, "-o", br, "-j", "ACCEPT")]
    if net.egress_nat:
        rules.append(("-i", br, "-j", "ACCEPT"))
        rules.append(
            ("-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
        )
    rules.append(("-i", br, "-j", "DROP"))
    rules.append(("-o", br, "-j", "DROP"))
    return rules


def nat_rules(net: LocalNetwork) -> list[Rule]:
    """NAT rules for one bridge: none unless egress NAT is switched on."""
    if not net.egress_nat:
        return []
    subnet = str(net.gateway.network)
    return [("-s", subnet, "!", "-o", net.bridge, "-j", "MASQUERADE")]


def _ns(netns: str | None) -> list[str]:
    """Command prefix that runs a command inside ``netns`` (tests use throwaway ones)."""
    return ["ip", "netns", "exec", netns] if netns else []


def _ipt(binary: str, netns: str | None, *args: str, check: bool = True) -> int:
    result = run([*_ns(netns), binary, "-w", *args], what=f"update {binary} rules", check=check)
    return result.returncode


def _ensure_chain(binary: str, table: str, chain: str, hook: str, netns: str | None) -> None:
    if _ipt(binary, netns, "-t", table, "-n", "-L", chain, check=False) != 0:
        _ipt(binary, netns, "-t", table, "-N", chain)
    if _ipt(binary, netns, "-t", table, "-C", hook, "-j", chain, check=False) != 0:
        _ipt(binary, netns, "-t", table, "-I", hook, "1", "-j", chain)


def _apply(binary: str, table: str, chain: str, rules: Sequence[Rule], netns: str | None) -> None:
    for rule in rules:
        if _ipt(binary, netns, "-t", table, "-C", chain, *rule, check=False) != 0:
            _ipt(binary, netns, "-t", table, "-A", chain, *rule)


def _remove(
    binary: str, table: str, chain: str, hook: str, rules: Sequence[Rule], netns: str | None
) -> None:
    if _ipt(binary, netns, "-t", table, "-n", "-L", chain, check=False) != 0:
        return
    for rule in rules:
        while _ipt(binary, netns, "-t", table, "-C", chain, *rule, check=False) == 0:
            _ipt(binary, netns, "-t", table, "-D", chain, *rule)
    listing = run(
        [*_ns(netns), binary, "-w", "-t", table, "-S", chain], what="list firewall rules"
    ).stdout
    if len(listing.strip().splitlines()) <= 1:
        while _ipt(binary, netns, "-t", table, "-C", hook, "-j", chain, check=False) == 0:
            _ipt(binary, netns, "-t", table, "-D", hook, "-j", chain)
        _ipt(binary, netns, "-t", table, "-X", chain)


def _firewall_lock(netns: str | None) -> AbstractContextManager[None]:
    """One process at a time changes the chains of the host (or of ``netns``)."""
    return exclusive(
        state_dir() / "locks" / f"firewall-{netns or 'host'}.lock", "changing the firewall"
    )


def apply_firewall(net: LocalNetwork, netns: str | None = None) -> None:
    """Install the bridge's forward (and optional NAT) rules, idempotently."""
    with _firewall_lock(netns):
        for binary in IPTABLES:
            _ensure_chain(binary, "filter", CHAIN, "FORWARD", netns)
            _apply(binary, "filter", CHAIN, forward_rules(net), netns)
        if net.egress_nat:
            _ensure_chain("iptables", "nat", NAT_CHAIN, "POSTROUTING", netns)
            _apply("iptables", "nat", NAT_CHAIN, nat_rules(net), netns)
            _sysctl(netns, "net.ipv4.ip_forward", "1")


def remove_firewall(net: LocalNetwork, netns: str | None = None) -> None:
    """Remove exactly the rules apply_firewall added for this bridge."""
    everything = LocalNetwork(bridge=net.bridge, gateway=net.gateway, egress_nat=True)
    with _firewall_lock(netns):
        for binary in IPTABLES:
            _remove(
                binary,
                "filter",
                CHAIN,
                "FORWARD",
                forward_rules(everything) + forward_rules(net),
                netns,
            )
        _remove("iptables", "nat", NAT_CHAIN, "POSTROUTING", nat_rules(everything), netns)


def _sysctl(netns: str | None, key: str, value: str) -> None:
    run([*_ns(netns), "sysctl", "-qw", f"{key}={value}"], what=f"set {key}")


def bridge_exists(name: str, netns: str | None = None) -> bool:
    result = run([*_ns(netns), "ip", "link", "show", name], what="look up bridge", check=False)
    return result.returncode == 0


def ensure_bridge(net: LocalNetwork, netns: str | None = None) -> None:
    """Create the bridge with the gateway address, if it is not there yet."""
    prefix = _ns(netns)
    if not bridge_exists(net.bridge, netns):
        run([*prefix, "ip", "link", "add", net.bridge, "type", "bridge"], what="create bridge")
    addresses = run(
        [*prefix, "ip", "-o", "-4", "addr", "show", "dev", net.bridge], what="read bridge addresses"
    ).stdout
    if str(net.gateway) not in addresses:
        run(
            [*prefix, "ip", "addr", "add", str(net.gateway), "dev", net.bridge],
            what="address bridge",
        )
    run([*prefix, "ip", "link", "set", net.bridge, "up"], what="bring bridge up")


def delete_bridge(name: str, netns: str | None = None) -> None:
    if bridge_exists(name, netns):
        run([*_ns(netns), "ip", "link", "del", name], what=f"delete bridge {name}")


def clashing_networks(net: LocalNetwork) -> list[str]:
    """Host interfaces other than the bridge whose IPv4 network overlaps the bridge's."""
    out = run(["ip", "-o", "-4", "addr", "show"], what="list host addresses").stdout
    clashes = []
    for line in out.splitlines():
        dev, cidr = line.split()[1], line.split()[3]
        other = ipaddress.IPv4Interface(cidr).network
        if dev not in ("lo", net.bridge) and other.overlaps(net.gateway.network):
            clashes.append(f"{dev} ({other})")
    return clashes
