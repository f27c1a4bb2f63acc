"""The files written into each node's root filesystem."""

import ipaddress

from kubesmith.inventory import LocalNetwork, NodeSpec
from kubesmith.local.node import NodeConfig, render_files


def test_node_files_point_at_the_host_bridge_only():
    net = LocalNetwork("ksbr0", ipaddress.IPv4Interface("192.168.60.1/24"), False)
    spec = NodeSpec("cp1", ipaddress.IPv4Address("192.168.60.11"), ("control_plane",))
    files = render_files(
        NodeConfig(spec, net, {"cp1": "192.168.60.11", "w1": "192.168.60.21"}, "k")
    )
    assert files["etc/hostname"] == "cp1\n"
    assert files["etc/resolv.conf"] == "nameserver 192.168.60.1\n"
    assert "Address=192.168.60.11/24" in files["etc/systemd/network/10-host0.network"]
    assert "Gateway=192.168.60.1" in files["etc/systemd/network/10-host0.network"]
    assert "192.168.60.21 w1" in files["etc/hosts"]
    assert "http://192.168.60.1:3142" in files["etc/apt/apt.conf.d/01kubesmith-proxy"]
