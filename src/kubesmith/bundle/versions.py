"""The pinned versions, read from the same file the roles use."""

from pathlib import Path

import yaml

from kubesmith.errors import KubesmithError

VERSIONS_FILE = Path(__file__).resolve().parents[3] / "roles/kube/defaults/main/versions.yml"


def load(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """Variable name -> version string, e.g. ``kube_version`` -> ``v1.37.1``."""
    if not path.exists():
        raise KubesmithError(f"versions file {path} is missing")
    data = yaml.safe_load(path.read_text()) or {}
    return {str(k): str(v) for k, v in data.items()}


def bare(version: str) -> str:
    """``v1.2.3`` -> ``1.2.3`` (upstream file names use both forms)."""
    return version.removeprefix("v")
