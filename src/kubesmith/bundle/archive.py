"""``bundle export`` / ``bundle import``: one tar file that carries a complete
bundle to a site without network, checked member by member on arrival.

The first member, ``kubesmith-bundle.json``, lists every other member with its
size and SHA-256 and the versions the bundle holds; import refuses a tar whose
members differ from it and installs nothing until every member has matched.
"""

import hashlib
import json
import shutil
import tarfile
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

from kubesmith import log
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.tarball import sha256_file
from kubesmith.errors import KubesmithError

MANIFEST_NAME = "kubesmith-bundle.json"
FORMAT = 1
BLOCK = 1 << 20
TOP_FILES = ("bundle.json", "image-checks.json")


def _reachable_blobs(layout: Path) -> list[str]:
    """Digests of every blob the indexed images use (manifests, configs, layers);
    reads the layout without touching it."""

    def read(digest: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((layout / "blobs/sha256" / digest[7:]).read_bytes())
        return data

    found: dict[str, None] = {}
    pending = [m["digest"] for m in json.loads((layout / "index.json").read_text())["manifests"]]
    while pending:
        digest = pending.pop()
        if digest in found:
            continue
        found[digest] = None
        document = read(digest)
        pending += [m["digest"] for m in document.get("manifests", [])]
        if "config" in document:
            found[document["config"]["digest"]] = None
            found.update(dict.fromkeys(layer["digest"] for layer in document["layers"]))
    return sorted(found)


def bundle_members(root: Path) -> list[str]:
    """The paths (relative to the bundle directory) that make up a complete bundle."""
    if not (root / "bundle.json").exists():
        raise KubesmithError(
            f"no complete bundle in {root}: run `kubesmith bundle fetch` or `bundle build` first"
        )
    files = sorted(p for p in (root / "files").rglob("*") if p.is_file())
    blobs = [
        f"oci/blobs/sha256/{d.removeprefix('sha256:')}" for d in _reachable_blobs(root / "oci")
    ]
    names = [str(p.relative_to(root)) for p in files]
    return [*TOP_FILES, *names, "oci/oci-layout", "oci/index.json", *blobs]


def export_bundle(target: Path) -> dict[str, object]:
    """Write the bundle into ``target`` (a tar file); return its manifest."""
    root = bundle_dir()
    started = time.monotonic()
    members = bundle_members(root)
    summary = json.loads((root / "bundle.json").read_text())
    log.info(f"export: checksumming {len(members)} members")
    manifest: dict[str, object] = {
        "format": FORMAT,
        "source": summary.get("source", "build"),
        "versions": summary["versions"],
        "members": {
            name: {"size": (root / name).stat().st_size, "sha256": sha256_file(root / name)}
            for name in members
        },
    }
    data = json.dumps(manifest, indent=2).encode() + b"\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        with tempfile.TemporaryFile() as buffer:
            buffer.write(data)
            buffer.seek(0)
            tar.addfile(info, buffer)
        for name in members:
            tar.add(root / name, arcname=name, recursive=False, filter=_plain)
    tmp.replace(target)
    size = target.stat().st_size
    log.info(
        f"exported {len(members)} members, {size / 2**20:.0f} MiB, to {target} "
        f"in {time.monotonic() - started:.1f}s"
    )
    return manifest


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise KubesmithError(f"refusing bundle member {name!r}: it points outside the bundle")
    return str(path)


def _read_manifest(tar: tarfile.TarFile, source: Path) -> dict[str, dict[str, object]]:
    first = tar.next()
    if first is None or first.name != MANIFEST_NAME or not first.isfile():
        raise KubesmithError(f"{source} is not a kubesmith bundle: {MANIFEST_NAME} must come first")
    handle = tar.extractfile(first)
    assert handle is not None
    manifest: dict[str, object] = json.loads(handle.read())
    if manifest.get("format") != FORMAT:
        raise KubesmithError(f"{source}: unknown bundle format {manifest.get('format')!r}")
    return manifest  # type: ignore[return-value]


def _unpack(tar: tarfile.TarFile, members: dict[str, dict[str, object]], into: Path) -> None:
    seen = set()
    for info in tar:
        if info.name == MANIFEST_NAME:
            continue  # read first, by _read_manifest
        name = _safe_name(info.name)
        expected = members.get(name)
        if expected is None or not info.isfile():
            raise KubesmithError(f"refusing bundle member {name!r}: not in {MANIFEST_NAME}")
        out = into / name
        out.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        handle = tar.extractfile(info)
        assert handle is not None
        with out.open("wb") as dst:
            while block := handle.read(BLOCK):
                digest.update(block)
                dst.write(block)
        out.chmod(info.mode & 0o755)
        if digest.hexdigest() != expected["sha256"] or info.size != expected["size"]:
            raise KubesmithError(
                f"bundle member {name} is damaged: the manifest says sha256 "
                f"{expected['sha256']}, the archive holds sha256 {digest.hexdigest()}; "
                "nothing was installed"
            )
        seen.add(name)
    missing = sorted(set(members) - seen)
    if missing:
        raise KubesmithError(
            f"the bundle lacks {len(missing)} member(s), e.g. {missing[0]}; nothing was installed"
        )


def import_bundle(source: Path, current: dict[str, str] | None = None) -> dict[str, object]:
    """Check every member of ``source`` and install the bundle where ``mirror serve`` reads it."""
    if not source.is_file():
        raise KubesmithError(f"{source}: no such bundle file")
    root = bundle_dir()
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=root, prefix=".import-") as tmp:
        staging = Path(tmp)
        with tarfile.open(source, "r|") as tar:
            manifest = _read_manifest(tar, source)
            members: dict[str, dict[str, object]] = manifest["members"]  # type: ignore[assignment]
            for name in members:
                _safe_name(name)
            log.info(f"import: checking {len(members)} members of {source}")
            _unpack(tar, members, staging)
        _install(staging, root)
    summary = json.loads((root / "bundle.json").read_text())
    summary["imported_from"] = str(source)
    (root / "bundle.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info(
        f"imported {len(members)} members ({summary.get('source', 'build')} bundle) into "
        f"{root} in {time.monotonic() - started:.1f}s"
    )
    _warn_versions(manifest["versions"], current or {})  # type: ignore[arg-type]
    return summary


def _install(staging: Path, root: Path) -> None:
    """Swap the checked tree in: files/ replaced, blobs added, index and summaries last."""
    (root / "bundle.json").unlink(missing_ok=True)
    old_files = staging / ".old-files"
    if (root / "files").exists():
        (root / "files").rename(old_files)
    (staging / "files").rename(root / "files")
    blobs = root / "oci/blobs/sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (staging / "oci/blobs/sha256").iterdir():
        blob.replace(blobs / blob.name)
    for name in ("oci/oci-layout", "oci/index.json", "image-checks.json", "bundle.json"):
        (staging / name).replace(root / name)
    shutil.rmtree(old_files, ignore_errors=True)


def _warn_versions(bundled: dict[str, str], current: dict[str, str]) -> None:
    differ = [
        f"{k} {bundled[k]} (versions.yml: {current[k]})"
        for k in sorted(bundled)
        if k in current and bundled[k] != current[k]
    ]
    if differ:
        log.info(
            "note: the imported bundle holds other versions than versions.yml: "
            + ", ".join(differ)
            + "; set these in the inventory's group_vars to use it"
        )
