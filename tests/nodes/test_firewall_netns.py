"""The bridge firewall keeps node traffic on the bridge, proved in throwaway namespaces.

A fake host namespace gets a bridge, an uplink to a fake outside namespace and
IP forwarding on, so without kubesmith's rules a node's packets WOULD leave
(the negative control). The real rule code is then applied inside the fake
host and the same probe must fail. Nothing here touches the real host's
network: every address lives in namespaces this test creates and removes.
"""

import ipaddress
import subprocess
import uuid

import pytest

from kubesmith.inventory import LocalNetwork
from kubesmith.local.network import CHAIN, apply_firewall, ensure_bridge, remove_firewall

pytestmark = pytest.mark.nodes

OUTSIDE = "198.51.100.2"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=check)


def in_ns(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns, *args, check=check)


def veth_pair(host_ns: str, name: str, peer_ns: str) -> None:
    """A veth named ``name`` in ``host_ns`` whose peer is ``eth0`` in ``peer_ns``."""
    sh(
        "ip",
        "link",
        "add",
        name,
        "netns",
        host_ns,
        "type",
        "veth",
        "peer",
        "eth0",
        "netns",
        peer_ns,
    )


def ping(ns: str, address: str) -> bool:
    return in_ns(ns, "ping", "-c1", "-W1", address, check=False).returncode == 0


@pytest.fixture
def fake_world():
    tag = uuid.uuid4().hex[:6]
    host, node_a, node_b, out = (f"kst-{tag}-{n}" for n in ("host", "a", "b", "out"))
    net = LocalNetwork(f"ksbt{tag}", ipaddress.IPv4Interface("192.168.62.1/24"), False)
    try:
        for ns in (host, node_a, node_b, out):
            sh("ip", "netns", "add", ns)
            in_ns(ns, "ip", "link", "set", "lo", "up")
        ensure_bridge(net, netns=host)
        in_ns(host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        in_ns(host, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
        for ns, address in ((node_a, "192.168.62.10"), (node_b, "192.168.62.11")):
            veth = f"v{tag}{ns[-1]}"
            veth_pair(host, veth, ns)
            in_ns(host, "ip", "link", "set", veth, "master", net.bridge, "up")
            in_ns(ns, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
            in_ns(ns, "ip", "link", "set", "eth0", "up")
            in_ns(ns, "ip", "route", "add", "default", "via", "192.168.62.1")
        veth_pair(host, "uplink", out)
        in_ns(host, "ip", "addr", "add", "198.51.100.1/24", "dev", "uplink")
        in_ns(host, "ip", "link", "set", "uplink", "up")
        in_ns(out, "ip", "addr", "add", f"{OUTSIDE}/24", "dev", "eth0")
        in_ns(out, "ip", "link", "set", "eth0", "up")
        in_ns(out, "ip", "route", "add", "192.168.62.0/24", "via", "198.51.100.1")
        yield host, node_a, net
    finally:
        for ns in (host, node_a, node_b, out):
            sh("ip", "netns", "del", ns, check=False)


def test_rules_drop_forwarded_traffic_and_keep_the_bridge(fake_world):
    host, node, net = fake_world
    # Negative control: with forwarding on and no rules, the node gets out.
    assert ping(node, OUTSIDE), "fake world broken: traffic should leave without rules"

    apply_firewall(net, netns=host)
    assert not ping(node, OUTSIDE), "node traffic left the fake host despite the rules"
    assert ping(node, "192.168.62.1"), "the host's bridge address must stay reachable"
    assert ping(node, "192.168.62.11"), "bridge-local node-to-node traffic must pass"
    drops = in_ns(host, "iptables", "-w", "-v", "-n", "-x", "-L", CHAIN).stdout
    dropped = [line.split() for line in drops.splitlines() if " DROP " in f" {line} "]
    assert any(int(fields[0]) > 0 for fields in dropped), drops

    apply_firewall(net, netns=host)  # idempotent: no duplicate rules
    listing = in_ns(host, "iptables", "-w", "-S", CHAIN).stdout.splitlines()
    assert len(listing) == 1 + 3, listing

    remove_firewall(net, netns=host)
    assert in_ns(host, "iptables", "-w", "-S", CHAIN, check=False).returncode != 0
    assert ping(node, OUTSIDE), "after removal the fake host forwards again"


def test_egress_nat_is_opt_in(fake_world):
    host, node, net = fake_world
    nat = LocalNetwork(net.bridge, net.gateway, egress_nat=True)
    apply_firewall(nat, netns=host)
    assert ping(node, OUTSIDE)
    assert "MASQUERADE" in in_ns(host, "iptables", "-w", "-t", "nat", "-S").stdout
    remove_firewall(nat, netns=host)
    assert "MASQUERADE" not in in_ns(host, "iptables", "-w", "-t", "nat", "-S").stdout
