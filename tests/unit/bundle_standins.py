"""A stand-in upstream on 127.0.0.1: a file server laid out like dl.k8s.io and
GitHub releases (the files `bundle build` publishes, with their checksum
files) and a docker-registry holding tiny images under the upstream names."""

import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kubesmith.bundle import upstream
from kubesmith.bundle.components import K8S_COMMANDS
from kubesmith.bundle.oci import ImageConfig, Layout
from kubesmith.bundle.tarball import Entry

# The binaries each published component's output holds (as `bundle build` leaves them).
OUTPUTS = {
    "kubernetes": K8S_COMMANDS,
    "etcd": ("etcd", "etcdctl", "etcdutl"),
    "containerd": ("containerd", "containerd-shim-runc-v2", "ctr"),
    "runc": ("runc",),
    "cni-plugins": ("bridge", "host-local", "loopback", "portmap"),
    "crictl": ("crictl",),
}
BIG = "kubelet"
BIG_SIZE = 3 << 20


def fake_outputs(into: Path) -> dict[str, Path]:
    """Small stand-ins for the built binaries; the kubelet is big enough to interrupt."""
    outputs = {}
    for component, binaries in OUTPUTS.items():
        out = into / component
        out.mkdir(parents=True)
        for name in binaries:
            body = f"#!/bin/sh\necho {name} stand-in\n".encode()
            if name == BIG:
                body += os.urandom(BIG_SIZE)
            (out / name).write_bytes(body)
        outputs[component] = out
    return outputs


@dataclass
class FileServer:
    """Serves ``root`` with Range support; records requests; can cut a response short."""

    root: Path
    requests: list[tuple[str, str]] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "FileServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.lstrip("/")
                server.requests.append((path, self.headers.get("Range", "")))
                target = server.root / path
                if not target.is_file():
                    self.send_error(404)
                    return
                size = target.stat().st_size
                start = 0
                if rng := self.headers.get("Range"):
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= size:
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(size - start))
                self.end_headers()
                limit = server.cut_after.pop(path, None)
                if limit is not None:
                    self.close_connection = True
                remaining = size - start if limit is None else limit
                with target.open("rb") as data:
                    data.seek(start)
                    while remaining > 0 and (block := data.read(min(remaining, 1 << 20))):
                        self.wfile.write(block)
                        remaining -= len(block)
                        server.sent[path] = server.sent.get(path, 0) + len(block)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        self.requests.clear()
        self.sent.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class StandInRegistry:
    """Debian's docker-registry on a free 127.0.0.1 port, storage in ``root``."""

    root: Path
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "StandInRegistry":
        self.port = free_port()
        config = self.root / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def push(self, layout: Layout, ref: str, repository: str, tag: str) -> None:
        subprocess.run(
            [
                "skopeo",
                "copy",
                "--quiet",
                "--dest-tls-verify=false",
                f"oci:{layout.root}:{ref}",
                f"docker://127.0.0.1:{self.port}/{repository}:{tag}",
            ],
            check=True,
            capture_output=True,
        )


def tiny_image(layout: Layout, ref: str, workdir: Path) -> str:
    """A one-file image named after ``ref``; return its manifest digest."""
    source = workdir / ref.replace("/", "_")
    source.write_text(f"{ref}\n")
    layer = layout.layer(f"tiny-{source.name}", [Entry("hello", source, 0o644)])
    return layout.image(ref, [layer], ImageConfig(cmd=["/hello"])).digest


def upstream_images(versions: dict[str, str], registry: StandInRegistry, workdir: Path) -> dict:
    """Push a tiny image for every image upstream publishes; return ref -> digest."""
    layout = Layout(workdir / "upstream-oci")
    digests = {}
    for image in upstream.images(versions):
        if image.local:
            continue
        digests[image.ref] = tiny_image(layout, image.ref, workdir)
        registry.push(layout, image.ref, image.repository, image.tag)
    return digests


def build_testbox(layout: Layout, versions: dict[str, str]) -> dict[str, str]:
    """Stands in for building the test image from Debian packages (no network in tests)."""
    ref = next(i.ref for i in upstream.images(versions) if i.local)
    work = layout.root.parent / "testbox-work"
    work.mkdir(exist_ok=True)
    return {ref: tiny_image(layout, ref, work)}


def tools_missing() -> list[str]:
    return [t for t in ("skopeo", "docker-registry") if shutil.which(t) is None]
