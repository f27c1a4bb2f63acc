"""Reading a node: the script's sections, and the real iproute2 output of a node-shaped
network namespace (flannel.1, cni0, routes, VXLAN entries) parsed into the model.

The namespace test builds what flannel builds on worker1 of the local cluster, in a
throwaway namespace (no traffic is sent), then deletes one route as the live negative
control does: exactly that route is reported missing, and nothing once it is restored.
"""

from dataclasses import replace

import pytest
from netmap_cluster import DNS, healthy_map, node_netns
from netmap_standins import stand_in_ssh

from kubesmith.netmap import checks
from kubesmith.netmap.model import ForwardingEntry, Neighbour, NodeState, Route
from kubesmith.netmap.probe import NODE_SCRIPT, parse, probe_all, sections
from kubesmith.netmap.targets import SshTarget


def test_sections_split_by_marker_and_unavailable_ones_are_none():
    found = sections(
        "@@route\n[]\n@@fdb unavailable\n@@resolv\nnameserver 10.96.0.10\n@@resolved\n"
    )
    assert found == {"route": "[]", "fdb": None, "resolv": "nameserver 10.96.0.10", "resolved": ""}


def test_a_node_without_flannel():
    state = parse(
        "@@route\n"
        '[{"dst":"default","gateway":"192.168.60.1","dev":"host0"}]\n'
        "@@addr\n[]\n@@flannel\n\n@@fdb unavailable\n@@neigh unavailable\n"
        "@@resolv\nnameserver 192.168.60.1\n@@resolved\n"
    )
    assert state.flannel is None and state.cni0 is None
    assert state.forwarding is None and state.neighbours is None
    assert state.routes == (Route("default", "host0", "192.168.60.1"),)
    assert state.nameservers() == ("192.168.60.1",)


def test_ssh_runs_the_script_as_ansible_would_reach_the_host():
    target = SshTarget(
        name="worker1",
        host="192.168.60.21",
        node_ip="192.168.60.21",
        groups=("workers",),
        port=2222,
        user="root",
        key="/var/lib/kubesmith/ssh/id_ed25519",
        options=("-o", "StrictHostKeyChecking=yes"),
    )
    assert target.argv("true") == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        "-p",
        "2222",
        "-i",
        "/var/lib/kubesmith/ssh/id_ed25519",
        "-l",
        "root",
        "-o",
        "StrictHostKeyChecking=yes",
        "--",
        "192.168.60.21",
        "true",
    ]


def target(name: str) -> SshTarget:
    return SshTarget(name=name, host=f"{name}.example", node_ip=None, groups=("workers",))


def test_one_ssh_call_per_node_runs_the_script_in_sh(tmp_path, monkeypatch):
    # The stand-in runs the remote command here, read-only, as sshd would on the node.
    args = stand_in_ssh(tmp_path, monkeypatch, 'for last; do :; done\nexec sh -c "$last"')
    states = probe_all([target("worker1")])
    assert isinstance(states["worker1"], NodeState), states
    argv = args.read_text().split("\0")[:-1]
    assert argv[:4] == ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
    assert argv[-3:-1] == ["--", "worker1.example"]
    assert argv[-1].startswith("sh -c ")


def test_ssh_and_node_failures_are_reasons_not_errors(tmp_path, monkeypatch):
    stand_in_ssh(
        tmp_path,
        monkeypatch,
        'case "$*" in\n'
        '  *worker1*) echo "root@worker1: Permission denied (publickey)." >&2; exit 255;;\n'
        '  *) echo "ip (iproute2) is not installed" >&2; exit 3;;\n'
        "esac",
    )
    states = probe_all([target("worker1"), target("worker2")])
    assert states == {
        "worker1": "ssh to worker1.example failed: root@worker1: Permission denied (publickey).",
        "worker2": "reading worker2.example failed: ip (iproute2) is not installed",
    }


@pytest.fixture
def worker1_netns():
    """worker1's flannel state from the healthy map in a throwaway namespace."""
    with node_netns("worker1") as ns:
        yield ns


def read(ns) -> object:
    return parse(ns("sh", "-c", NODE_SCRIPT))


def test_real_iproute2_output_parses_into_the_node_state(worker1_netns):
    state = read(worker1_netns)
    expected = healthy_map().node("worker1").state
    assert state.cni0 == "10.244.1.1/24"
    assert state.flannel.mac == expected.flannel.mac
    assert (state.flannel.vni, state.flannel.port, state.flannel.mtu) == (1, 8472, 1450)
    assert state.flannel.local_ip == "192.168.60.21"
    assert state.flannel.address == "10.244.1.0/32"
    overlay = {r for r in state.routes if r.device == "flannel.1"}
    assert overlay == {
        Route("10.244.0.0/24", "flannel.1", "10.244.0.0"),
        Route("10.244.2.0/24", "flannel.1", "10.244.2.0"),
    }
    assert Route("10.244.1.0/24", "cni0") in state.routes
    assert set(expected.forwarding) <= {
        ForwardingEntry(e.mac, e.destination) for e in state.forwarding
    }
    assert set(expected.neighbours) == {Neighbour(n.ip, n.mac) for n in state.neighbours}
    assert state.nameservers() == (DNS, "192.168.60.1")


def test_a_route_deleted_in_the_namespace_is_exactly_the_problem_until_restored(worker1_netns):
    def problems():
        model = healthy_map()
        nodes = tuple(
            replace(n, state=read(worker1_netns)) if n.name == "worker1" else n for n in model.nodes
        )
        return [
            (p.kind, p.subject, p.peer) for p in checks.find_problems(replace(model, nodes=nodes))
        ]

    assert problems() == []
    worker1_netns("ip", "route", "del", "10.244.2.0/24")
    assert problems() == [(checks.ROUTE_MISSING, "worker1", "worker2")]
    worker1_netns(
        "ip", "route", "replace", "10.244.2.0/24", "via", "10.244.2.0", "dev", "flannel.1", "onlink"
    )  # fmt: skip
    assert problems() == []
