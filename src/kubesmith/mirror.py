"""The offline mirror: the bundle's files over HTTP and its images in a registry.

Both listen on one address (for local nodes, the bridge's gateway address).
Nodes use ``http://ADDRESS:8080/`` as the download base URL and containerd
uses ``http://ADDRESS:5000`` as a mirror for every upstream registry.
"""

import shutil
import socket
import sys
import time
from pathlib import Path

from kubesmith import daemon, log
from kubesmith.bundle import skopeo
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.oci import Layout
from kubesmith.errors import KubesmithError
from kubesmith.paths import state_dir

FILES_PORT = 8080
REGISTRY_PORT = 5000


def _run_dir(address: str) -> Path:
    """One mirror instance per listen address (one per node bridge)."""
    return state_dir() / "mirror" / address


def _registry_config(address: str) -> str:
    storage = bundle_dir() / "registry"
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}:{REGISTRY_PORT}\n"
    )


def _wait_port(address: str, port: int, what: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError as err:
            if time.monotonic() > deadline:
                raise KubesmithError(f"{what} is not listening on {address}:{port}") from err
            time.sleep(0.2)


def require_bundle() -> None:
    """Serve only a complete bundle: build, fetch and import write bundle.json
    last, and a fetch that refused a file never writes it."""
    if (
        not (bundle_dir() / "bundle.json").exists()
        or not (bundle_dir() / "oci/index.json").exists()
    ):
        raise KubesmithError(
            f"no complete bundle in {bundle_dir()}: run `kubesmith bundle fetch`, "
            "`bundle build` (make bundle) or `bundle import FILE.tar`"
        )


def serve(address: str) -> None:
    """Start the file server and registry on ``address`` and push every image."""
    files = bundle_dir() / "files"
    layout_root = bundle_dir() / "oci"
    require_bundle()
    run_dir = _run_dir(address)
    run_dir.mkdir(parents=True, exist_ok=True)
    (bundle_dir() / "registry").mkdir(parents=True, exist_ok=True)
    (run_dir / "registry.yml").write_text(_registry_config(address))
    daemon.start(
        "docker-registry",
        ["docker-registry", "serve", str(run_dir / "registry.yml")],
        run_dir / "registry.pid",
        daemonizes=False,
        log_path=run_dir / "registry.log",
    )
    daemon.start(
        "file server",
        [
            sys.executable,
            "-m",
            "http.server",
            str(FILES_PORT),
            "--bind",
            address,
            "--directory",
            str(files),
        ],
        run_dir / "files.pid",
        daemonizes=False,
        log_path=run_dir / "files.log",
    )
    _wait_port(address, REGISTRY_PORT, "docker-registry")
    _wait_port(address, FILES_PORT, "the file server")
    registry = skopeo.Registry(f"{address}:{REGISTRY_PORT}", tls=False)
    layout = Layout(layout_root)
    pushed = 0
    for ref, digest in sorted(layout.refs().items()):
        if skopeo.push(layout_root, ref, digest, registry):
            pushed += 1
            log.info(f"pushed {ref}")
    log.info(
        f"mirror serving: files http://{address}:{FILES_PORT}/, registry "
        f"{address}:{REGISTRY_PORT} ({len(layout.refs())} images, {pushed} newly pushed)"
    )


def running() -> list[str]:
    """Addresses with a mirror instance running."""
    root = state_dir() / "mirror"
    if not root.exists():
        return []
    return sorted(d.name for d in root.iterdir() if daemon.pid_alive(d / "registry.pid"))


def stop(address: str | None = None) -> None:
    """Stop the file server and registry on ``address`` (default: every instance).

    The bundle and the registry's storage stay cached."""
    root = state_dir() / "mirror"
    addresses = [address] if address else sorted(p.name for p in root.glob("*") if p.is_dir())
    for addr in addresses:
        run_dir = _run_dir(addr)
        for name in ("files", "registry"):
            daemon.stop(run_dir / f"{name}.pid")
        shutil.rmtree(run_dir, ignore_errors=True)
        log.info(f"mirror on {addr} stopped")
