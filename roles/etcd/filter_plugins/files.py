"""kubesmith_files_digest: one sha256 over files on the controller, their modes
and contents (a missing file counts as missing), read in-process."""

import hashlib
import stat
from collections.abc import Callable, Iterable
from pathlib import Path


def _describe(path: Path) -> bytes:
    try:
        link = path.lstat()
    except FileNotFoundError:
        return b"missing"
    parts = [f"{link.st_mode:o}".encode()]
    if stat.S_ISLNK(link.st_mode):
        parts.append(str(path.readlink()).encode())
        if path.exists():
            parts.append(f"{path.stat().st_mode:o}".encode())
    if path.is_file():
        parts.append(hashlib.sha256(path.read_bytes()).hexdigest().encode())
    return b"\0".join(parts)


def files_digest(paths: Iterable[str]) -> str:
    """``['/pki/ca.key', '/pki/ca.crt']`` -> a sha256 hex digest that changes when
    any of them appears, disappears, or changes mode or content."""
    digest = hashlib.sha256()
    for name in paths:
        digest.update(name.encode() + b"\0" + _describe(Path(name)) + b"\n")
    return digest.hexdigest()


class FilterModule:
    def filters(self) -> dict[str, Callable[[Iterable[str]], str]]:
        return {"kubesmith_files_digest": files_digest}
