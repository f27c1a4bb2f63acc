"""`collect` with the real Kubernetes client against a stand-in API server on the
loopback address: which requests it makes (only lists), and what it does when the
server is gone. The inventory here has no nodes, so no SSH runs."""

import json
import socket
import threading
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from netmap_cluster import INVENTORY, OBJECTS

from kubesmith.errors import KubesmithError
from kubesmith.netmap.collect import collect
from kubesmith.netmap.targets import map_target

LISTS = {
    "/api/v1/nodes": OBJECTS.nodes,
    "/api/v1/pods": OBJECTS.pods,
    "/api/v1/services": OBJECTS.services,
    "/apis/discovery.k8s.io/v1/endpointslices": OBJECTS.endpoint_slices,
    "/apis/networking.k8s.io/v1/ingresses": OBJECTS.ingresses,
    "/apis/networking.k8s.io/v1/ingressclasses": OBJECTS.ingress_classes,
    "/apis/networking.k8s.io/v1/networkpolicies": OBJECTS.network_policies,
}


class StandInApi(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str, str]]] = []

    def do_GET(self):
        path = self.path.split("?")[0]
        self.requests.append(("GET", path, self.headers.get("Authorization", "")))
        if path not in LISTS:
            self.send_error(404)
            return
        body = json.dumps({"kind": "List", "items": LISTS[path]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "local", "cluster": {"server": server}}],
                "users": [{"name": "admin", "user": {"token": "stand-in"}}],
                "contexts": [{"name": "admin", "context": {"cluster": "local", "user": "admin"}}],
                "current-context": "admin",
            }
        )
    )
    return path


@pytest.fixture
def api_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInApi)
    StandInApi.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


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
    model = collect(no_node_target(), kubeconfig(tmp_path / "admin.conf", api_server))
    assert sorted(StandInApi.requests) == sorted(("GET", path, "Bearer stand-in") for path in LISTS)
    assert model.api_server == api_server
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
        collect(no_node_target(), kubeconfig(tmp_path / "admin.conf", closed))
