"""The whole `kubesmith map` command, offline: a real inventory read by Ansible, the
real Kubernetes client against a stand-in API server, and one `ssh` per node that a
stand-in turns into the node script inside that node's network namespace (three
namespaces shaped like cp1, worker1 and worker2 by flannel). A route deleted in
worker1's namespace is exactly the problem, in the picture and the text, until
`ip route replace` restores it: the live negative control, without a cluster."""

import copy
import html
from contextlib import ExitStack
from dataclasses import replace

import pytest
import yaml
from netmap_cluster import NODES, OBJECTS, node_netns, pod_cidr
from netmap_standins import stand_in_api, stand_in_ssh, write_kubeconfig

from kubesmith import cli
from kubesmith.netmap.command import EXIT_PROBLEMS

# The stand-in's host argument is the namespace's name; it runs the command there.
SSH_INTO_NAMESPACE = """\
host=; last=
for arg; do host=$last; last=$arg; done
exec ip netns exec "$host" sh -c "$last"
"""


def ready_objects():
    """The API's objects with every endpoint ready (the shared ones have one that is not)."""
    slices = copy.deepcopy(OBJECTS.endpoint_slices)
    for piece in slices:
        for endpoint in piece["endpoints"]:
            endpoint["conditions"]["ready"] = True
    return replace(OBJECTS, endpoint_slices=slices)


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    with ExitStack() as stack:
        namespaces = {name: stack.enter_context(node_netns(name)) for name in NODES}
        url, received = stack.enter_context(stand_in_api(ready_objects()))
        stand_in_ssh(tmp_path, monkeypatch, SSH_INTO_NAMESPACE)
        artifacts = tmp_path / "artifacts"
        artifacts.mkdir()
        write_kubeconfig(artifacts / "admin.conf", url)
        inventory = tmp_path / "inventory"
        (inventory / "group_vars" / "all").mkdir(parents=True)
        hosts = {
            name: {"ansible_host": namespaces[name].name, "kube_node_ip": address}
            for name, (address, _, _) in NODES.items()
        }
        (inventory / "hosts.yml").write_text(
            yaml.safe_dump(
                {
                    "all": {
                        "children": {
                            "etcd": {"hosts": {"etcd1": {"ansible_host": "192.168.60.10"}}},
                            "control_plane": {"hosts": {"cp1": hosts["cp1"]}},
                            "workers": {"hosts": {n: hosts[n] for n in ("worker1", "worker2")}},
                            "k8s_cluster": {"children": {"control_plane": {}, "workers": {}}},
                        }
                    }
                }
            )
        )
        (inventory / "group_vars" / "all" / "cluster.yml").write_text(
            yaml.safe_dump(
                {
                    "kube_cluster_name": "local",
                    "kube_node_network": "192.168.60.0/24",
                    "kube_artifacts_dir": str(artifacts),
                }
            )
        )
        yield inventory, namespaces, received


def kubesmith_map(inventory, *args):
    return cli.main(["-i", str(inventory), "map", *args])


def test_map_of_the_namespaces_then_a_deleted_route_then_restored(cluster, tmp_path, capsys):
    inventory, namespaces, received = cluster
    picture = tmp_path / "map.svg"
    assert kubesmith_map(inventory, "--strict", "-o", str(picture)) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"kubesmith: wrote {picture} (3 nodes, 0 problems)"
    ]
    svg = html.unescape(picture.read_text())
    for name in NODES:
        assert f"pod range {pod_cidr(name)}" in svg
        assert f"{pod_cidr(name)} ({name}) via" in svg  # routed by its peers
    assert {method for method, _, _ in received} == {"GET"}

    worker1 = namespaces["worker1"]
    worker1("ip", "route", "del", pod_cidr("worker2"))
    page = tmp_path / "broken.html"
    assert kubesmith_map(inventory, "--strict", "-o", str(page)) == EXIT_PROBLEMS
    expected = (
        "worker1 has no route to worker2's pod range 10.244.2.0/24 "
        "(expected via 10.244.2.0 dev flannel.1)"
    )
    assert capsys.readouterr().out.splitlines()[1:] == [f"problem: {expected}"]
    content = html.unescape(page.read_text())
    svg = content[content.index("<svg") : content.index("</svg>")]
    assert expected in svg and "#c62828" in svg
    assert f"problems (1):\n  - {expected}\n" in content

    restore = "ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"
    worker1(*restore.split())
    assert kubesmith_map(inventory, "--strict") == 0
    assert capsys.readouterr().out.endswith("no problems found\n")
