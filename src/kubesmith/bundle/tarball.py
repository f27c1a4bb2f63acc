"""Deterministic tar archives: the same inputs always give the same bytes, so
published checksums and image digests stay stable across rebuilds."""

import contextlib
import gzip
import hashlib
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SKIP_PREFIXES = (
    "dev/",
    "proc/",
    "sys/",
    "run/",
    "tmp/",
    "var/cache/apt/",
    "var/lib/apt/lists/",
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/locale/",
    "var/log/",
)


@dataclass(frozen=True)
class Entry:
    """One archive member: a file copied from ``source``, a directory, or a symlink."""

    name: str
    source: Path | None = None
    mode: int = 0o755
    link: str = ""
    uid: int = 0
    gid: int = 0


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _info(entry: Entry) -> tarfile.TarInfo:
    info = tarfile.TarInfo(entry.name)
    info.mtime = 0
    info.uid, info.gid = entry.uid, entry.gid
    info.uname = info.gname = ""
    info.mode = entry.mode
    if entry.link:
        info.type = tarfile.SYMTYPE
        info.linkname = entry.link
        info.mode = 0o777
    elif entry.source is None:
        info.type = tarfile.DIRTYPE
    else:
        info.size = entry.source.stat().st_size
    return info


def tree_entries(
    root: Path,
    prefix: str = "",
    skip: tuple[str, ...] = SKIP_PREFIXES,
) -> list[Entry]:
    """Entries for every directory, file and symlink below ``root`` (sorted)."""
    entries = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(f"{rel}/".startswith(s) and f"{rel}/" != s for s in skip):
            continue
        st = path.lstat()
        name = f"{prefix}{rel}"
        if path.is_symlink():
            entries.append(Entry(name, link=str(path.readlink()), uid=st.st_uid, gid=st.st_gid))
        elif path.is_dir():
            entries.append(Entry(name, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid))
        elif path.is_file():
            entries.append(
                Entry(name, source=path, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid)
            )
    return entries


def write_tar(target: Path, entries: Iterable[Entry], compress: bool = True) -> None:
    """Write ``entries`` in order as a tar archive (gzip with mtime 0 when compressed)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out, contextlib.ExitStack() as stack:
        stream: IO[bytes] = out
        if compress:
            stream = stack.enter_context(
                gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6)
            )
        with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for entry in entries:
                info = _info(entry)
                if entry.source is not None and not entry.link:
                    with entry.source.open("rb") as data:
                        tar.addfile(info, data)
                else:
                    tar.addfile(info)
