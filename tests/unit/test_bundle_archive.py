"""`bundle export` / `bundle import` carry a bundle in one tar, checked on arrival."""

import io
import json
import shutil
import tarfile

import pytest
from bundle_standins import build_testbox, fake_outputs

from kubesmith import cli, mirror
from kubesmith.bundle import archive, publish, versions
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.oci import Layout
from kubesmith.errors import KubesmithError

VERSIONS = versions.load()


@pytest.fixture
def small_bundle(tmp_path, monkeypatch):
    """A complete synthetic bundle, as `bundle build` lays it out."""
    monkeypatch.setenv("KUBESMITH_CACHE_DIR", str(tmp_path / "site-a"))
    root = bundle_dir()
    publish.publish(fake_outputs(tmp_path / "outputs"), root / "files", VERSIONS)
    layout = Layout(root / "oci")
    images = build_testbox(layout, VERSIONS)
    (root / "image-checks.json").write_text("{}\n")
    (root / "bundle.json").write_text(
        json.dumps({"source": "build", "versions": VERSIONS, "images": images}) + "\n"
    )
    return root


def tree(root):
    return {
        str(p.relative_to(root)): p.read_bytes()
        for sub in ("files", "oci/blobs")
        for p in (root / sub).rglob("*")
        if p.is_file()
    } | {"index.json": (root / "oci/index.json").read_bytes()}


def test_export_then_import_round_trips(small_bundle, tmp_path, monkeypatch, capsys):
    exported = tmp_path / "carry/bundle.tar"
    assert cli.main(["bundle", "export", str(exported)]) == 0
    before = tree(small_bundle)

    monkeypatch.setenv("KUBESMITH_CACHE_DIR", str(tmp_path / "site-b"))
    with pytest.raises(KubesmithError, match="no complete bundle"):
        mirror.require_bundle()
    assert cli.main(["bundle", "import", str(exported)]) == 0
    assert tree(bundle_dir()) == before
    summary = json.loads((bundle_dir() / "bundle.json").read_text())
    assert summary["source"] == "build"
    assert summary["imported_from"] == str(exported)
    mirror.require_bundle()
    with tarfile.open(exported) as tar:
        names = tar.getnames()
    assert names[0] == archive.MANIFEST_NAME
    assert "oci/layer-cache" not in " ".join(names), "only what the images use travels"


def _rewrite(source, target, change):
    """Copy a tar member by member, letting ``change(name, data)`` alter the bytes."""
    with tarfile.open(source) as src, tarfile.open(target, "w") as dst:
        for info in src:
            data = src.extractfile(info).read()
            data = change(info.name, data)
            if data is None:
                continue
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))


def test_a_damaged_member_is_refused_and_nothing_installed(small_bundle, tmp_path, monkeypatch):
    exported = tmp_path / "bundle.tar"
    archive.export_bundle(exported)
    victim = next(n for n in archive.bundle_members(small_bundle) if n.endswith("runc.amd64"))

    def flip(name, data):
        if name != victim:
            return data
        changed = bytearray(data)
        changed[0] ^= 0x01
        return bytes(changed)

    damaged = tmp_path / "damaged.tar"
    _rewrite(exported, damaged, flip)
    monkeypatch.setenv("KUBESMITH_CACHE_DIR", str(tmp_path / "site-b"))
    with pytest.raises(KubesmithError, match=f"member {victim} is damaged"):
        archive.import_bundle(damaged)
    assert not (bundle_dir() / "files").exists()
    assert not (bundle_dir() / "bundle.json").exists()
    # Control: the undamaged copy of the same tar installs.
    archive.import_bundle(exported)
    mirror.require_bundle()


def test_a_missing_or_foreign_member_is_refused(small_bundle, tmp_path, monkeypatch):
    exported = tmp_path / "bundle.tar"
    archive.export_bundle(exported)
    short = tmp_path / "short.tar"
    _rewrite(exported, short, lambda name, data: None if name == "oci/index.json" else data)
    foreign = tmp_path / "foreign.tar"
    shutil.copy(exported, foreign)
    with tarfile.open(foreign, "a") as tar:
        info = tarfile.TarInfo("../escape")
        tar.addfile(info)
    monkeypatch.setenv("KUBESMITH_CACHE_DIR", str(tmp_path / "site-b"))
    with pytest.raises(KubesmithError, match="lacks 1 member"):
        archive.import_bundle(short)
    with pytest.raises(KubesmithError, match="outside the bundle"):
        archive.import_bundle(foreign)
    assert not (bundle_dir() / "bundle.json").exists()


def test_export_needs_a_complete_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESMITH_CACHE_DIR", str(tmp_path))
    with pytest.raises(KubesmithError, match="no complete bundle"):
        archive.export_bundle(tmp_path / "x.tar")
