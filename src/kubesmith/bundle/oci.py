"""A local OCI image layout: content-addressed blobs shared by every image.

Layers are cached by a key the caller chooses (what went into them), so an
image whose inputs did not change is rebuilt from cached blobs in moments, and
layers that several images share (the Debian base) are stored once.
"""

import gzip
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kubesmith.bundle.tarball import Entry, sha256_file, write_tar

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_ANNOTATION = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    media_type: str

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class LayerBlob:
    blob: Blob
    diff_id: str


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    user: str = ""
    workdir: str = ""


class Layout:
    """An OCI image layout directory (``oci-layout``, ``index.json``, ``blobs/``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')
        self.cache = root / "layer-cache"
        self.cache.mkdir(exist_ok=True)

    def blob_path(self, digest: str) -> Path:
        return self.blobs / digest.removeprefix("sha256:")

    def put_bytes(self, data: bytes, media_type: str) -> Blob:
        hexdigest = hashlib.sha256(data).hexdigest()
        path = self.blobs / hexdigest
        if not path.exists():
            path.write_bytes(data)
        return Blob(f"sha256:{hexdigest}", len(data), media_type)

    def layer(self, key: str, entries: list[Entry]) -> LayerBlob:
        """The layer for ``key``, writing it from ``entries`` on a cache miss."""
        record = self.cache / f"{key}.json"
        if record.exists():
            data = json.loads(record.read_text())
            if self.blob_path(data["digest"]).exists():
                return LayerBlob(Blob(data["digest"], data["size"], LAYER), data["diff_id"])
        plain = self.root / f".{key}.tar"
        write_tar(plain, entries, compress=False)
        diff_id = f"sha256:{sha256_file(plain)}"
        packed = self.root / f".{key}.tar.gz"
        with plain.open("rb") as src, gzip.GzipFile(packed, "wb", mtime=0, compresslevel=6) as gz:
            shutil.copyfileobj(src, gz, 1 << 20)
        plain.unlink()
        digest = f"sha256:{sha256_file(packed)}"
        size = packed.stat().st_size
        packed.rename(self.blob_path(digest))
        record.write_text(json.dumps({"digest": digest, "size": size, "diff_id": diff_id}))
        return LayerBlob(Blob(digest, size, LAYER), diff_id)

    def image(self, ref: str, layers: list[LayerBlob], config: ImageConfig) -> Blob:
        """Write config and manifest for ``ref`` and record it in index.json."""
        image_config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                k: v
                for k, v in {
                    "Entrypoint": config.entrypoint,
                    "Cmd": config.cmd,
                    "Env": config.env,
                    "User": config.user,
                    "WorkingDir": config.workdir,
                }.items()
                if v
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        }
        config_blob = self.put_bytes(_canonical(image_config), CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": config_blob.descriptor(),
            "layers": [layer.blob.descriptor() for layer in layers],
        }
        manifest_blob = self.put_bytes(_canonical(manifest), MANIFEST)
        index = self.index()
        index["manifests"] = [
            m for m in index["manifests"] if m["annotations"][REF_ANNOTATION] != ref
        ]
        index["manifests"].append(
            {**manifest_blob.descriptor(), "annotations": {REF_ANNOTATION: ref}}
        )
        (self.root / "index.json").write_text(json.dumps(index, indent=2) + "\n")
        return manifest_blob

    def keep_only(self, refs: set[str]) -> None:
        """Drop index entries for images no longer built (blobs stay, content-addressed)."""
        index = self.index()
        index["manifests"] = [
            m
            for m in index["manifests"]
            if m["annotations"][REF_ANNOTATION] in refs  # type: ignore[index]
        ]
        (self.root / "index.json").write_text(json.dumps(index, indent=2) + "\n")

    def index(self) -> dict[str, list[dict[str, object]]]:
        path = self.root / "index.json"
        if path.exists():
            data: dict[str, list[dict[str, object]]] = json.loads(path.read_text())
            return data
        return {"schemaVersion": 2, "manifests": []}  # type: ignore[dict-item]

    def refs(self) -> dict[str, str]:
        """Image reference -> manifest digest, for every image in the layout."""
        return {
            m["annotations"][REF_ANNOTATION]: m["digest"]  # type: ignore[index]
            for m in self.index()["manifests"]
        }

    def image_bytes(self) -> int:
        """Size of the blobs the indexed images use, each shared blob once."""
        sizes: dict[str, int] = {}
        for digest in self.refs().values():
            manifest = self.read_json(digest)
            for blob in [manifest["config"], *manifest["layers"]]:  # type: ignore[list-item]
                sizes[blob["digest"]] = blob["size"]
        return sum(sizes.values())

    def read_json(self, digest: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.blob_path(digest).read_text())
        return data


def _canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
