"""``bundle ensure``: get a bundle the quickest way this machine allows.

An existing bundle for the pinned versions is used as it is; otherwise one
quick probe decides between fetching upstream's release files and images
(minutes) and building everything from the package registries (tens of
minutes). ``KUBESMITH_BUNDLE=fetch|build`` forces the choice.
"""

import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kubesmith import log
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.components import Versions
from kubesmith.errors import KubesmithError

PROBE_HOST = "dl.k8s.io"
PROBE_PORT = 443
PROBE_TIMEOUT = 3.0
CHOICES = ("fetch", "build")


@dataclass(frozen=True)
class Decision:
    action: str  # "use", "fetch" or "build"
    reason: str


def probe(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> str:
    """'' when a TCP connection to host:port opens within ``timeout`` seconds
    (name lookup included), else why not."""
    outcome: list[str] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append("")
        except OSError as err:
            outcome.append(str(err) or type(err).__name__)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g}s"


def probe_target(files_base: str) -> tuple[str, int]:
    """The host the files come from: dl.k8s.io upstream, else the files base's host."""
    parts = urlsplit(files_base)
    if not parts.hostname:
        return PROBE_HOST, PROBE_PORT
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def existing(versions: Versions) -> str:
    """What complete bundle is there for these versions ('' if none)."""
    path = bundle_dir() / "bundle.json"
    if not path.exists():
        return ""
    summary = json.loads(path.read_text())
    if summary.get("versions") != versions:
        return ""
    source = summary.get("source", "build")
    how = {"build": "built", "fetch": "fetched"}.get(source, source)
    if "imported_from" in summary:
        how = f"imported from {summary['imported_from']}"
    return f"a complete bundle for these versions is in {bundle_dir()} ({how})"


def decide(
    versions: Versions,
    files_base: str,
    forced: str = "",
    reach: Callable[[str, int], str] = probe,
) -> Decision:
    if forced:
        if forced not in CHOICES:
            raise KubesmithError(f"KUBESMITH_BUNDLE={forced!r}: use one of {', '.join(CHOICES)}")
        return Decision(forced, f"KUBESMITH_BUNDLE={forced}")
    if found := existing(versions):
        return Decision("use", found)
    host, port = probe_target(files_base)
    problem = reach(host, port)
    if not problem:
        return Decision(
            "fetch", f"{host}:{port} answered, so upstream's release files are reachable"
        )
    return Decision(
        "build",
        f"{host}:{port} is not reachable ({problem}); building from the package registries "
        "(tens of minutes; KUBESMITH_BUNDLE=fetch forces a fetch)",
    )


def ensure(
    versions: Versions,
    fetch: Callable[[], object],
    build: Callable[[], object],
    files_base: str = "https://",
    reach: Callable[[str, int], str] = probe,
) -> Decision:
    """Decide, say which and why, and do it."""
    decision = decide(versions, files_base, os.environ.get("KUBESMITH_BUNDLE", ""), reach)
    verb = {"use": "using the existing bundle", "fetch": "fetching", "build": "building"}
    log.info(f"bundle: {verb[decision.action]}: {decision.reason}")
    if decision.action == "fetch":
        fetch()
    elif decision.action == "build":
        build()
    return decision
