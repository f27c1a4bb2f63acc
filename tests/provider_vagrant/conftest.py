import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture
def vagrant_inventory(repo: Path, tmp_path: Path) -> Path:
    """A private copy of inventory/vagrant that a test may break."""
    copy = tmp_path / "inventory"
    generated = shutil.ignore_patterns("vagrant-ssh.yml")
    shutil.copytree(repo / "inventory" / "vagrant", copy, ignore=generated)
    return copy


@pytest.fixture(scope="session")
def vagrant_exe() -> str:
    found = shutil.which("vagrant")
    if found is None:
        if os.environ.get("KUBESMITH_REQUIRE_VAGRANT") == "1":
            pytest.fail("vagrant is not installed; `make setup` installs Debian's vagrant package")
        pytest.skip("vagrant is not installed (make setup)")
    return found
