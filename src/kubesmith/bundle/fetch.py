"""``bundle fetch``: the bundle from upstream's official release files and images.

Fills the layout ``bundle build`` writes (``files/`` shaped like the download
sites, ``oci/`` with images under their upstream names), so ``mirror serve``
serves either unchanged. Every file is checked against the checksum file its
upstream publishes before it enters ``files/``; images are copied by digest
with skopeo, which checks every blob against it. Interrupted downloads resume.
"""

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubesmith import log
from kubesmith.bundle import download, images, skopeo, upstream
from kubesmith.bundle.build import bundle_dir, tree_size
from kubesmith.bundle.components import Versions
from kubesmith.bundle.oci import Layout
from kubesmith.bundle.tarball import sha256_file
from kubesmith.bundle.upstream import Image, ReleaseFile
from kubesmith.errors import KubesmithError

LocalImages = Callable[[Layout, Versions], dict[str, str]]


class ChecksumMismatch(KubesmithError):
    """A downloaded file does not match its upstream checksum."""


@dataclass(frozen=True)
class Upstream:
    """Where to fetch from: the download sites' base and the registries.

    The defaults are the real upstreams; ``files_base`` and ``registries``
    point at a copy of them (a site's own mirror of dl.k8s.io and GitHub
    releases, a pull-through registry) without changing any path or name.
    """

    files_base: str = upstream.DEFAULT_FILES_BASE
    registries: dict[str, skopeo.Registry] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.files_base + path

    def registry(self, name: str) -> skopeo.Registry:
        return self.registries.get(name, skopeo.Registry(name))


def files_base(value: str) -> str:
    """``https://`` (upstream) or a base URL that ends in ``/``."""
    if not value.startswith(("https://", "http://")):
        raise KubesmithError(f"files base {value!r} must start with https:// or http://")
    return value if value.endswith("/") else value + "/"


def registry_map(items: list[str]) -> dict[str, skopeo.Registry]:
    """``registry.k8s.io=http://127.0.0.1:5001`` items -> upstream name -> endpoint."""
    found = {}
    for item in items:
        name, sep, endpoint = item.partition("=")
        if not sep or not name or not endpoint:
            raise KubesmithError(
                f"registry map {item!r} must look like REGISTRY=ENDPOINT, "
                "e.g. registry.k8s.io=https://registry.example.org"
            )
        found[name] = skopeo.Registry.parse(endpoint)
    return found


@dataclass
class Tally:
    """What one kind of artifact cost: fetched count and bytes, and how many were present."""

    fetched: int = 0
    fetched_bytes: int = 0
    present: int = 0

    def text(self, kind: str) -> str:
        return (
            f"{self.fetched} {kind} fetched ({self.fetched_bytes / 2**20:.1f} MiB), "
            f"{self.present} already present"
        )


def _verified(path: Path, checksum_file: Path, name: str) -> bool:
    if not (path.is_file() and checksum_file.is_file()):
        return False
    expected = upstream.expected_sha256(checksum_file.read_text(), name, str(checksum_file))
    return sha256_file(path) == expected


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def fetch_file(item: ReleaseFile, source: Upstream, files_root: Path, work: Path) -> int:
    """Download one release file and its checksum file into ``files_root`` once
    they match; return the bytes downloaded, or -1 when it was there already.
    A mismatch lands in quarantine."""
    target = files_root / item.path
    checksum_target = files_root / item.checksum_path
    if _verified(target, checksum_target, item.name):
        log.info(f"{item.path}: verified, already present")
        return -1
    target.unlink(missing_ok=True)
    checksum_url = source.url(item.checksum_path)
    checksum_text = download.read_small(checksum_url)
    expected = upstream.expected_sha256(checksum_text, item.name, checksum_url)
    part = work / "parts" / f"{item.path}.part"
    log.info(f"{item.path}: downloading")
    started = time.monotonic()
    got = download.download(source.url(item.path), part, item.path)
    actual = sha256_file(part)
    if actual != expected:
        quarantine = work / "quarantine" / item.path
        quarantine.parent.mkdir(parents=True, exist_ok=True)
        part.replace(quarantine)
        raise ChecksumMismatch(
            f"{item.path}: checksum mismatch, refused: {checksum_url} says sha256 {expected}, "
            f"the downloaded file has sha256 {actual} (kept in {quarantine}, not served)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    part.chmod(0o755)
    part.replace(target)
    _write(checksum_target, checksum_text)
    if item.checksum_path != f"{item.path}.sha256":
        _write(target.with_name(target.name + ".sha256"), f"{actual}  {item.name}\n")
    seconds = time.monotonic() - started
    size = got.resumed_at + got.received
    resumed = f", {got.resumed_at / 2**20:.1f} MiB of it from before" if got.resumed_at else ""
    log.info(f"{item.path}: {size / 2**20:.1f} MiB in {seconds:.1f}s{resumed}, sha256 verified")
    return got.received


def _blob_sizes(layout: Layout) -> int:
    return sum(p.stat().st_size for p in layout.blobs.iterdir() if p.is_file())


def _complete(layout: Layout, ref: str) -> bool:
    digest = layout.refs().get(ref)
    if not digest or not layout.blob_path(digest).exists():
        return False
    manifest = layout.read_json(digest)
    blobs = [manifest["config"], *manifest["layers"]]  # type: ignore[list-item]
    return all(layout.blob_path(b["digest"]).exists() for b in blobs)


def fetch_image(image: Image, source: Upstream, layout: Layout) -> tuple[str, int]:
    """Copy one image by digest into the layout; return the source digest and
    the bytes added ('' and -1 when the layout already holds it)."""
    if _complete(layout, image.ref):
        log.info(f"image {image.ref}: already present")
        return "", -1
    registry = source.registry(image.registry)
    log.info(f"image {image.ref}: looking up its digest on {registry.host}")
    digest = skopeo.digest(registry, image.repository, image.tag)
    before = _blob_sizes(layout)
    started = time.monotonic()
    skopeo.copy(
        registry.transport(image.repository, digest),
        skopeo.oci(layout.root, image.ref),
        what=f"copy {image.ref} ({digest}) from {registry.host}",
        src_registry=registry,
    )
    added = _blob_sizes(layout) - before
    log.info(
        f"image {image.ref}: {digest[:19]}, {added / 2**20:.1f} MiB in "
        f"{time.monotonic() - started:.1f}s"
    )
    return digest, added


def build_local_images(layout: Layout, versions: Versions) -> dict[str, str]:
    """The images upstream does not publish (the test image), built as ``bundle build`` does."""
    spec = images.testbox_spec(versions, images.netbase_layer())
    return images.build_images(layout, [spec])


def fetch_bundle(
    versions: Versions,
    source: Upstream | None = None,
    local_images: LocalImages | None = None,
) -> dict[str, object]:
    """Fetch every release file and image; return the summary written to bundle.json.

    ``local_images`` makes the images upstream does not publish (default: build them)."""
    source = source or Upstream()
    local_images = local_images or build_local_images
    started = time.monotonic()
    root = bundle_dir()
    root.mkdir(parents=True, exist_ok=True)
    sources = _previous_sources(root)
    (root / "bundle.json").unlink(missing_ok=True)
    files_root, work = root / "files", root / "fetch"
    file_tally, image_tally = Tally(), Tally()
    refused: list[str] = []
    wanted = upstream.release_files(versions)
    for item in wanted:
        try:
            received = fetch_file(item, source, files_root, work)
        except ChecksumMismatch as err:
            refused.append(str(err))
            continue
        _count(file_tally, received)
    layout = Layout(root / "oci")
    wanted_images = upstream.images(versions)
    for image in (i for i in wanted_images if not i.local):
        digest, added = fetch_image(image, source, layout)
        if digest:
            host = source.registry(image.registry).host
            sources[image.ref] = f"{host}/{image.repository}@{digest}"
        _count(image_tally, added)
    if refused:
        raise ChecksumMismatch(
            f"{len(refused)} file(s) refused:\n" + "\n".join(refused) + "\nThe bundle is "
            "incomplete and will not be served; run `kubesmith bundle fetch` again once "
            "upstream (or the files base) serves the right file."
        )
    local = [i.ref for i in wanted_images if i.local]
    log.info(f"not published upstream, built here: {', '.join(local)}")
    built = local_images(layout, versions)
    layout.keep_only({i.ref for i in wanted_images})
    images.write_checks(root / "image-checks.json", images.programs(versions))
    summary: dict[str, object] = {
        "source": "fetch",
        "versions": versions,
        "files": [f.path for f in wanted],
        "images": layout.refs(),
        "image_sources": sources,
        "local_images": sorted(built),
        "files_bytes": tree_size(files_root),
        "images_bytes": layout.image_bytes(),
        "downloaded_bytes": file_tally.fetched_bytes + image_tally.fetched_bytes,
        "seconds": round(time.monotonic() - started, 1),
    }
    (root / "bundle.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(work / "parts", ignore_errors=True)
    log.info(
        f"bundle fetched in {summary['seconds']}s: {file_tally.text('files')}; "
        f"{image_tally.text('images')}; {len(built)} built here"
    )
    return summary


def _count(tally: Tally, received: int) -> None:
    if received < 0:
        tally.present += 1
    else:
        tally.fetched += 1
        tally.fetched_bytes += received


def _previous_sources(root: Path) -> dict[str, str]:
    """Digests recorded by an earlier fetch (a re-run skips the images it has)."""
    path = root / "bundle.json"
    if not path.exists():
        return {}
    recorded: dict[str, str] = json.loads(path.read_text()).get("image_sources", {})
    return recorded
