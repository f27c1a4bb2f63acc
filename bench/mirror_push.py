"""What `mirror serve` spends pushing the bundle's images with skopeo: into an
empty registry, then again when the registry holds them all. Reads the bundle,
writes nothing into it; each run gets its own docker-registry on a free
127.0.0.1 port."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kubesmith.bundle import skopeo
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.oci import Layout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _timed(name: str, push: Callable[[Layout, str], None], layout: Layout) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        port = _free_port()
        config = Path(tmp) / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\n"
            f"storage:\n  filesystem:\n    rootdirectory: {tmp}/data\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
        registry = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            started = time.monotonic()
            push(layout, f"127.0.0.1:{port}")
            first = time.monotonic() - started
            started = time.monotonic()
            push(layout, f"127.0.0.1:{port}")
            again = time.monotonic() - started
        finally:
            registry.terminate()
            registry.wait()
    print(f"{name}: {first:.1f}s into an empty registry, {again:.1f}s again (all present)")
    return first


def _with_skopeo(layout: Layout, address: str) -> None:
    registry = skopeo.Registry(address, tls=False)
    for ref, digest in sorted(layout.refs().items()):
        skopeo.push(layout.root, ref, digest, registry)


def main() -> int:
    source = bundle_dir() / "oci"
    if not (source / "index.json").exists():
        print(f"no images in {source}: build or fetch the bundle first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-oci-", dir=bundle_dir().parent) as tmp:
        # Hard links: the bundle itself stays untouched.
        shutil.copytree(
            source, Path(tmp) / "oci", copy_function=os.link, ignore=lambda *_: ["layer-cache"]
        )
        layout = Layout(Path(tmp) / "oci")
        print(f"{len(layout.refs())} images, {layout.image_bytes() / 2**20:.0f} MiB")
        _timed("skopeo copy", _with_skopeo, layout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
