import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def pytest_collection_modifyitems(config, items):
    """Tests marked `nodes` need root and systemd-nspawn; skip loudly elsewhere."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    if shutil.which("systemd-nspawn") is None:
        missing.append("systemd-nspawn (make setup)")
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"needs {', '.join(missing)}")
    for item in items:
        if "nodes" in item.keywords:
            item.add_marker(skip)
