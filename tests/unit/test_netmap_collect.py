"""`collect` with the real Kubernetes client against a stand-in API server on the
loopback address: which requests it makes (only lists), and what it does when the
server is gone. The inventory here has no nodes, so no SSH runs."""

import json
import socket
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from netmap_cluster import INVENTORY, OBJECTS
from netmap_standins import api_lists, stand_in_api, write_kubeconfig

from kubesmith.errors import KubesmithError
from kubesmith.netmap.collect import collect
from kubesmith.netmap.targets import map_target


@pytest.fixture
def api_server():
    with stand_in_api(OBJECTS) as (url, received):
        yield url, received


def no_node_target():
    """The inventory's settings with every host set aside: nothing to SSH to."""
    target = map_target(INVENTORY, Path("inventory/local"), {"kube_dns_ip": "10.96.0.10"})
    return replace(target, nodes=(), other_hosts=())


def test_collect_only_lists_objects_with_the_kubeconfig_credentials(
    api_server, tmp_path, monkeypatch
):
    # Straight to the API server, whatever proxy the environment names.
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "all_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    url, received = api_server
    model = collect(no_node_target(), write_kubeconfig(tmp_path / "admin.conf", url))
    listed = sorted(("GET", path, "Bearer stand-in") for path in api_lists(OBJECTS))
    assert sorted(received) == listed
    assert model.api_server == url
    assert [n.name for n in model.nodes] == ["cp1", "worker1", "worker2"]
    assert all(
        n.state_error == "not in the inventory, so not reached over SSH" for n in model.nodes
    )
    assert [s.key for s in model.services] == ["kube-system/kube-dns", "production/app-v1"]
    assert model.isolated_namespaces() == ("other", "production")
    json.dumps(asdict(model))


def test_an_unreachable_api_server_is_named(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(KubesmithError, match=rf"cannot reach the API server {closed}"):
        collect(no_node_target(), write_kubeconfig(tmp_path / "admin.conf", closed))
