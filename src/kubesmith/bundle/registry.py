"""Pushing images from the OCI layout into a registry over its HTTP API."""

import json
import urllib.error
import urllib.request
from pathlib import Path

from kubesmith.bundle.oci import MANIFEST, Layout
from kubesmith.errors import KubesmithError


def split_ref(ref: str) -> tuple[str, str]:
    """``registry.k8s.io/pause:3.10.2`` -> (``registry.k8s.io/pause``, ``3.10.2``)."""
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag:
        raise KubesmithError(f"image reference {ref!r} has no tag")
    return name, tag


def _request(
    method: str, url: str, data: bytes | Path | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    body = data.read_bytes() if isinstance(data, Path) else data
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 - our registry
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()
    except urllib.error.URLError as err:
        raise KubesmithError(f"registry {url.split('/v2/')[0]} unreachable: {err.reason}") from err


class Registry:
    """A registry API v2 endpoint, e.g. ``http://192.168.60.1:5000``."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def has_blob(self, repo: str, digest: str) -> bool:
        status, _, _ = _request("HEAD", f"{self.base}/v2/{repo}/blobs/{digest}")
        return status == 200

    def push_blob(self, repo: str, digest: str, path: Path) -> None:
        if self.has_blob(repo, digest):
            return
        status, headers, body = _request("POST", f"{self.base}/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise KubesmithError(f"registry refused an upload to {repo}: {status} {body[:200]!r}")
        location = headers["Location"]
        if location.startswith("/"):
            location = self.base + location
        sep = "&" if "?" in location else "?"
        status, _, body = _request(
            "PUT",
            f"{location}{sep}digest={digest}",
            path,
            {"Content-Type": "application/octet-stream"},
        )
        if status != 201:
            raise KubesmithError(f"upload of {digest} to {repo} failed: {status} {body[:200]!r}")

    def manifest_digest(self, repo: str, tag: str) -> str:
        status, headers, _ = _request(
            "HEAD", f"{self.base}/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST}
        )
        return headers.get("Docker-Content-Digest", "") if status == 200 else ""

    def push_image(self, layout: Layout, ref: str, digest: str) -> bool:
        """Push one image; return False when the registry already had it."""
        repo, tag = split_ref(ref)
        if self.manifest_digest(repo, tag) == digest:
            return False
        manifest = layout.read_json(digest)
        blobs = [manifest["config"], *manifest["layers"]]  # type: ignore[list-item]
        for blob in blobs:
            self.push_blob(repo, blob["digest"], layout.blob_path(blob["digest"]))
        status, _, body = _request(
            "PUT",
            f"{self.base}/v2/{repo}/manifests/{tag}",
            layout.blob_path(digest),
            {"Content-Type": MANIFEST},
        )
        if status != 201:
            raise KubesmithError(f"registry rejected manifest {ref}: {status} {body[:300]!r}")
        return True

    def catalog(self) -> list[str]:
        status, _, body = _request("GET", f"{self.base}/v2/_catalog?n=1000")
        if status != 200:
            raise KubesmithError(f"registry catalog failed: {status}")
        repos: list[str] = json.loads(body)["repositories"]
        return repos
