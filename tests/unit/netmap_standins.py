"""Stand-ins for what `kubesmith map` talks to: an API server on the loopback address
that lists fixed objects, and an `ssh` first on PATH."""

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from kubesmith.netmap.api import ApiObjects


def api_lists(objects: ApiObjects) -> dict[str, list]:
    """Each list the map reads, by the path the Kubernetes client requests."""
    return {
        "/api/v1/nodes": objects.nodes,
        "/api/v1/pods": objects.pods,
        "/api/v1/services": objects.services,
        "/apis/discovery.k8s.io/v1/endpointslices": objects.endpoint_slices,
        "/apis/networking.k8s.io/v1/ingresses": objects.ingresses,
        "/apis/networking.k8s.io/v1/ingressclasses": objects.ingress_classes,
        "/apis/networking.k8s.io/v1/networkpolicies": objects.network_policies,
    }


@contextmanager
def stand_in_api(objects: ApiObjects) -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """(its URL, the requests it received as (method, path, Authorization))."""
    lists = api_lists(objects)
    received: list[tuple[str, str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            received.append(("GET", path, self.headers.get("Authorization", "")))
            if path not in lists:
                self.send_error(404)
                return
            body = json.dumps({"kind": "List", "items": lists[path]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def write_kubeconfig(path: Path, server: str) -> Path:
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


def stand_in_ssh(directory: Path, monkeypatch, body: str) -> Path:
    """An `ssh` first on PATH that records its arguments (NUL-separated) in
    ``directory/args``, then runs the shell ``body``; returns that file."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    ssh.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" > "{directory}/args"\n{body}\n')
    ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return directory / "args"
