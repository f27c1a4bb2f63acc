"""The host rules for a node bridge, as data."""

import ipaddress

from kubesmith.inventory import LocalNetwork
from kubesmith.local.network import forward_rules, nat_rules


def _net(egress: bool) -> LocalNetwork:
    return LocalNetwork("ksbr0", ipaddress.IPv4Interface("192.168.60.1/24"), egress)


def test_default_allows_bridge_local_and_drops_everything_else():
    rules = forward_rules(_net(False))
    assert rules[0] == ("-i", "ksbr0", "-o", "ksbr0", "-j", "ACCEPT")
    assert ("-i", "ksbr0", "-j", "DROP") in rules
    assert ("-o", "ksbr0", "-j", "DROP") in rules
    assert not any("ACCEPT" in r and r != rules[0] for r in rules)
    assert nat_rules(_net(False)) == []


def test_egress_nat_is_explicit_and_masquerades_only_the_node_subnet():
    assert nat_rules(_net(True)) == [
        ("-s", "192.168.60.0/24", "!", "-o", "ksbr0", "-j", "MASQUERADE")
    ]
    rules = forward_rules(_net(True))
    assert rules.index(("-i", "ksbr0", "-j", "ACCEPT")) < rules.index(("-i", "ksbr0", "-j", "DROP"))
