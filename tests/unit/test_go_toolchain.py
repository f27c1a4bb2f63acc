"""The bundle's Go toolchain check."""

import os
from pathlib import Path

import pytest

from kubesmith.bundle import gobuild
from kubesmith.errors import KubesmithError


@pytest.fixture(autouse=True)
def fresh_check():
    """require_go() remembers its answer; each test starts without it."""
    gobuild.require_go.cache_clear()
    yield
    gobuild.require_go.cache_clear()


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("go1.26.8", True),
        ("go1.26", True),
        ("go1.27rc1", True),
        ("go2.0.1", True),
        ("go1.25.9", False),
        ("go1.9", False),
        ("devel", False),
    ],
)
def test_go_at_least(version, ok):
    assert gobuild.go_at_least(version, "1.26") is ok


def test_installed_go_is_accepted():
    gobuild.require_go()


def test_missing_go_is_named(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KubesmithError, match=r"needs Go 1\.26 or newer and `go` is not on PATH"):
        gobuild.require_go()


def test_old_go_is_named(monkeypatch, tmp_path: Path):
    fake = tmp_path / "go"
    fake.write_text("#!/bin/sh\necho go1.22.2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(KubesmithError, match=r"needs Go 1\.26 or newer; .* is go1\.22\.2"):
        gobuild.require_go()
