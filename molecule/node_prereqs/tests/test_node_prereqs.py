"""What node_prereqs leaves on every node, checked on the live nodes."""

import pytest

SYSCTLS = {
    "net.ipv4.ip_forward": 1,
    "net.bridge.bridge-nf-call-iptables": 1,
    "net.bridge.bridge-nf-call-ip6tables": 1,
}
GATEWAY = "192.168.61.1"
PEER = {"np1": "192.168.61.11", "np2": "192.168.61.10"}


@pytest.mark.parametrize("name", ["conntrack", "socat", "ipset", "iptables", "ethtool"])
def test_packages_installed(host, name):
    assert host.package(name).is_installed


@pytest.mark.parametrize(("key", "value"), SYSCTLS.items())
def test_kernel_settings_live_and_persisted(host, key, value):
    assert host.sysctl(key) == value
    assert f"{key}={value}" in host.file("/etc/sysctl.d/90-kubesmith.conf").content_string


def test_no_swap(host):
    swaps = host.file("/proc/swaps").content_string.strip().splitlines()
    assert len(swaps) == 1, swaps


def test_overlay_and_bridge_netfilter_available(host):
    assert "overlay" in host.file("/proc/filesystems").content_string
    assert host.file("/proc/sys/net/bridge/bridge-nf-call-iptables").exists


def test_reaches_peer_and_host(host):
    peer = PEER[host.backend.get_hostname()]
    assert host.run(f"ping -c1 -W2 {peer}").rc == 0
    assert host.run(f"ping -c1 -W2 {GATEWAY}").rc == 0


@pytest.mark.parametrize("outside", ["10.96.0.1", "192.0.2.1"])
def test_traffic_beyond_the_bridge_is_dropped(host, outside):
    # The same probe to the gateway above succeeds; here nothing may answer.
    assert host.run(f"ping -c1 -W2 {outside}").rc != 0
    result = host.run(f"curl -sS -m 3 -o /dev/null http://{outside}/")
    assert result.rc != 0


def test_packages_come_through_the_host_proxy(host):
    proxy = host.file("/etc/apt/apt.conf.d/01kubesmith-proxy").content_string
    assert f"http://{GATEWAY}:3142" in proxy
