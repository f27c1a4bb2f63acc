"""`bundle fetch` of a full-size bundle from a stand-in upstream on 127.0.0.1.

The stand-in serves the existing bundle's release files (laid out like
dl.k8s.io and GitHub releases, with their checksum files) and a docker-registry
holding its images under the upstream repository names. The fetch goes into a
temporary cache directory, so the existing bundle is only read. Prints the
first fetch's time and bytes, then a second fetch's (nothing to download).
The test image, which upstream does not publish, is copied from the existing
bundle instead of built (building it takes a debootstrap, see the README).
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests/unit"))

from bundle_standins import FileServer, StandInRegistry

from kubesmith.bundle import fetch, skopeo, upstream, versions
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.oci import Layout


def _copy(source: str, dest: str, **tls: skopeo.Registry) -> None:
    skopeo.copy(source, dest, what=f"copy {source}", **tls)


def main() -> int:
    existing = bundle_dir()
    if not (existing / "bundle.json").exists():
        print(f"no bundle in {existing}: build or fetch one first", file=sys.stderr)
        return 1
    pinned = versions.load()
    with tempfile.TemporaryDirectory(prefix="bench-fetch-", dir=existing.parent) as tmp:
        work = Path(tmp)
        files = FileServer(existing / "files").start()
        registry = StandInRegistry(work).start()
        try:
            stand_in = skopeo.Registry.parse(registry.endpoint)
            for image in upstream.images(pinned):
                if not image.local:
                    _copy(
                        skopeo.oci(existing / "oci", image.ref),
                        stand_in.transport(image.repository, image.tag),
                        dest_registry=stand_in,
                    )

            def testbox(layout: Layout, _: dict[str, str]) -> dict[str, str]:
                ref = next(i.ref for i in upstream.images(pinned) if i.local)
                _copy(skopeo.oci(existing / "oci", ref), skopeo.oci(layout.root, ref))
                return {ref: layout.refs()[ref]}

            source = fetch.Upstream(
                files.base,
                {name: stand_in for name in ("registry.k8s.io", "docker.io", "quay.io")},
            )
            os.environ["KUBESMITH_CACHE_DIR"] = str(work / "cache")
            runs = []
            for _ in range(2):
                started = time.monotonic()
                summary = fetch.fetch_bundle(pinned, source, local_images=testbox)
                runs.append((time.monotonic() - started, summary["downloaded_bytes"]))
            size = int(summary["files_bytes"]) + int(summary["images_bytes"])  # type: ignore[call-overload]
        finally:
            files.stop()
            registry.stop()
    print(json.dumps({"bundle_mib": round(size / 2**20)}))
    for label, (seconds, received) in zip(("first fetch", "second fetch"), runs, strict=True):
        print(f"{label}: {seconds:.1f}s, {received / 2**20:.0f} MiB downloaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
