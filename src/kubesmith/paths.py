"""Where kubesmith keeps caches (kept across runs) and node state (root-owned)."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """Build caches: node images, apt cache, offline bundle. Safe to delete."""
    if explicit := os.environ.get("KUBESMITH_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubesmith"


def state_dir() -> Path:
    """Live state of local nodes and host services."""
    return Path(os.environ.get("KUBESMITH_STATE_DIR", "/var/lib/kubesmith"))
