"""`bundle fetch` against a stand-in upstream on 127.0.0.1: it fills an empty
mirror layout, refuses a corrupted file by name, downloads nothing the second
time, and resumes an interrupted download."""

import hashlib
import json
import os
import re

import pytest
import yaml
from bundle_standins import (
    BIG,
    FileServer,
    StandInRegistry,
    build_testbox,
    fake_outputs,
    free_port,
    tools_missing,
    upstream_images,
)
from jinja2 import Environment

from kubesmith import cli, mirror
from kubesmith.bundle import build as build_module
from kubesmith.bundle import fetch as fetch_module
from kubesmith.bundle import images, publish, skopeo, upstream, versions
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.fetch import Upstream, fetch_bundle, registry_map
from kubesmith.bundle.oci import Layout
from kubesmith.bundle.tarball import sha256_file
from kubesmith.errors import KubesmithError

VERSIONS = versions.load()
REGISTRIES = ("registry.k8s.io", "docker.io")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """The release files `bundle build` publishes, served like the download sites,
    and tiny images in a registry under the upstream names."""
    missing = tools_missing()
    if missing:
        if os.environ.get("KUBESMITH_REQUIRE_BUNDLE") == "1":
            pytest.fail(f"missing {', '.join(missing)} (make setup)")
        pytest.skip(f"needs {', '.join(missing)} (make setup)")
    work = tmp_path_factory.mktemp("upstream")
    tree = work / "sites"
    publish.publish(fake_outputs(work / "outputs"), tree, VERSIONS)
    files = FileServer(tree).start()
    registry = StandInRegistry(work).start()
    try:
        digests = upstream_images(VERSIONS, registry, work)
        yield files, registry, digests
    finally:
        files.stop()
        registry.stop()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESMITH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def source_for(files, registry) -> Upstream:
    return Upstream(files.base, registry_map([f"{r}={registry.endpoint}" for r in REGISTRIES]))


def fetch(files, registry):
    return fetch_bundle(VERSIONS, source_for(files, registry), local_images=build_testbox)


def relative_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_upstream_paths_are_the_roles_download_urls(repo):
    """fetch derives the URLs the roles download from (downloads.yml, online)."""
    defaults = yaml.safe_load((repo / "roles/kube/defaults/main/downloads.yml").read_text())
    env = Environment(autoescape=False)
    env.filters["regex_replace"] = lambda value, pattern, repl: re.sub(pattern, repl, value)
    context = {**VERSIONS, **defaults}
    for _ in range(5):
        context = {
            k: env.from_string(v).render(context) if isinstance(v, str) else v
            for k, v in context.items()
        }
    urls = [f"{context['kube_binaries_url']}/{c}" for c in publish.K8S_COMMANDS]
    checksum_urls = [f"{u}.sha256" for u in urls]
    for name in ("etcd", "containerd", "runc", "cni_plugins", "crictl"):
        urls.append(context[f"kube_{name}_url"])
        checksum_urls.append(context[f"kube_{name}_checksum_url"])
    wanted = upstream.release_files(VERSIONS)
    assert [f"https://{f.path}" for f in wanted] == urls
    assert [f"https://{f.checksum_path}" for f in wanted] == checksum_urls


def test_fetch_fills_an_empty_mirror(standin, cache):
    files, registry, digests = standin
    summary = fetch(files, registry)

    served = bundle_dir() / "files"
    assert relative_files(served) == relative_files(files.root), "the layout `bundle build` writes"
    for item in upstream.release_files(VERSIONS):
        assert sha256_file(served / item.path) == sha256_file(files.root / item.path), item.path
    layout = Layout(bundle_dir() / "oci")
    refs = layout.refs()
    assert set(refs) == {i.ref for i in upstream.images(VERSIONS)}
    for ref, digest in digests.items():
        assert refs[ref] == digest, f"{ref} copied by digest, unchanged"
        host_repo = f"127.0.0.1:{registry.port}/{ref.split('/', 1)[1].rpartition(':')[0]}"
        assert summary["image_sources"][ref] == f"{host_repo}@{digest}"
    assert summary["local_images"] == [
        "docker.io/kubesmith/testbox:" + VERSIONS["kube_busybox_version"]
    ]
    checks = json.loads((bundle_dir() / "image-checks.json").read_text())
    assert set(checks) == set(refs)
    mirror.require_bundle()


def test_a_corrupted_file_is_refused_by_name_and_nothing_is_served(standin, cache, capsys):
    files, registry, _ = standin
    item = next(f for f in upstream.release_files(VERSIONS) if f.name == "runc.amd64")
    original = (files.root / item.path).read_bytes()
    corrupted = bytearray(original)
    corrupted[len(corrupted) // 2] ^= 0x01
    (files.root / item.path).write_bytes(bytes(corrupted))
    try:
        code = cli.main(
            [
                "bundle",
                "fetch",
                "--files-base",
                files.base,
                *[f"--registry-map={r}={registry.endpoint}" for r in REGISTRIES],
            ]
        )
    finally:
        (files.root / item.path).write_bytes(original)
    err = capsys.readouterr().err
    assert code == 1
    assert f"{item.path}: checksum mismatch, refused" in err
    upstream_sum = sha256_file(files.root / item.path)
    assert upstream_sum in err
    assert hashlib.sha256(bytes(corrupted)).hexdigest() in err
    assert not (bundle_dir() / "files" / item.path).exists(), "the bad file is not served"
    assert (bundle_dir() / "fetch/quarantine" / item.path).read_bytes() == bytes(corrupted)
    with pytest.raises(KubesmithError, match="no complete bundle"):
        mirror.require_bundle()
    # Control: the other files verified and are in place; once upstream is right again,
    # the next fetch completes and fetches only the refused file.
    others = [f for f in upstream.release_files(VERSIONS) if f != item]
    assert all((bundle_dir() / "files" / f.path).is_file() for f in others)
    files.reset()
    fetch(files, registry)
    assert [p for p, _ in files.requests] == [item.checksum_path, item.path]
    mirror.require_bundle()


def test_a_second_fetch_downloads_nothing(standin, cache):
    files, registry, _ = standin
    fetch(files, registry)
    files.reset()
    unreachable = f"http://127.0.0.1:{free_port()}"
    no_registry = Upstream(files.base, registry_map([f"{r}={unreachable}" for r in REGISTRIES]))
    summary = fetch_bundle(VERSIONS, no_registry, local_images=build_testbox)
    assert files.requests == []
    assert summary["downloaded_bytes"] == 0
    # Control: a file that went missing is downloaded again, and only it.
    item = upstream.release_files(VERSIONS)[0]
    (bundle_dir() / "files" / item.path).unlink()
    summary = fetch_bundle(VERSIONS, no_registry, local_images=build_testbox)
    assert [p for p, _ in files.requests] == [item.checksum_path, item.path]
    assert summary["downloaded_bytes"] == (files.root / item.path).stat().st_size


def test_an_interrupted_fetch_resumes(standin, cache):
    files, registry, _ = standin
    item = next(f for f in upstream.release_files(VERSIONS) if f.name == BIG)
    size = (files.root / item.path).stat().st_size
    files.reset()
    files.cut_after[item.path] = 1 << 20
    with pytest.raises(KubesmithError, match="run the same command again to resume"):
        fetch(files, registry)
    assert (files.root / item.path).stat().st_size == size
    assert not (bundle_dir() / "files" / item.path).exists()
    assert (bundle_dir() / "fetch/parts" / f"{item.path}.part").stat().st_size == 1 << 20
    assert (item.path, "") in files.requests, "the first try asked for the whole file"
    files.reset()
    fetch(files, registry)
    assert (item.path, f"bytes={1 << 20}-") in files.requests
    assert files.sent[item.path] == size - (1 << 20), "only the rest was sent"
    assert sha256_file(bundle_dir() / "files" / item.path) == sha256_file(files.root / item.path)


def test_a_bad_registry_map_is_refused():
    with pytest.raises(KubesmithError, match="REGISTRY=ENDPOINT"):
        registry_map(["registry.k8s.io"])


def test_checksum_file_shapes():
    digest = "a" * 64
    assert upstream.expected_sha256(f"{digest}\n", "kubeadm", "x") == digest
    listing = f"{'b' * 64}  runc.arm64\n{digest}  runc.amd64\n"
    assert upstream.expected_sha256(listing, "runc.amd64", "x") == digest
    with pytest.raises(KubesmithError, match="no SHA-256 entry for etcd"):
        upstream.expected_sha256(listing, "etcd", "x")


def test_mirror_serve_pushes_the_fetched_images_under_upstream_names(standin, cache, tmp_path):
    """What `mirror serve` does with the layout: every image pushed with skopeo under
    its full upstream name, unchanged; a second push finds each one present."""
    files, registry, _ = standin
    fetch(files, registry)
    layout = Layout(bundle_dir() / "oci")
    target = StandInRegistry(tmp_path).start()
    try:
        endpoint = skopeo.Registry(f"127.0.0.1:{target.port}", tls=False)
        refs = layout.refs()
        assert all(skopeo.push(layout.root, ref, d, endpoint) for ref, d in refs.items())
        for ref, digest in refs.items():
            repository, tag = skopeo.split_ref(ref)
            assert skopeo.digest(endpoint, repository, tag) == digest
        assert not any(skopeo.push(layout.root, ref, d, endpoint) for ref, d in refs.items())
        assert skopeo.digest(endpoint, "registry.k8s.io/absent", "v1", missing_ok=True) == ""
    finally:
        target.stop()


def test_bundle_ensure_fetches_when_the_files_base_answers(standin, cache, monkeypatch, capsys):
    """`make up`'s verb end to end: no bundle, the (stand-in) upstream answers -> fetch;
    then the bundle exists -> used as it is, nothing requested."""
    files, registry, _ = standin
    monkeypatch.delenv("KUBESMITH_BUNDLE", raising=False)
    monkeypatch.setattr(fetch_module, "build_local_images", build_testbox)
    monkeypatch.setattr(build_module, "build_bundle", lambda *_: pytest.fail("built"))
    argv = [
        "bundle",
        "ensure",
        "--files-base",
        files.base,
        *[f"--registry-map={r}={registry.endpoint}" for r in REGISTRIES],
    ]
    assert cli.main(argv) == 0
    assert f"bundle: fetching: 127.0.0.1:{files.port} answered" in capsys.readouterr().err
    mirror.require_bundle()
    files.reset()
    assert cli.main(argv) == 0
    assert "bundle: using the existing bundle" in capsys.readouterr().err
    assert files.requests == []


def test_bundle_ensure_builds_when_nothing_answers(cache, monkeypatch, capsys):
    monkeypatch.delenv("KUBESMITH_BUNDLE", raising=False)
    built = []
    monkeypatch.setattr(build_module, "build_bundle", lambda versions: built.append(versions))
    dead = f"http://127.0.0.1:{free_port()}/"
    assert cli.main(["bundle", "ensure", "--files-base", dead]) == 0
    assert built == [VERSIONS]
    assert "bundle: building: 127.0.0.1:" in capsys.readouterr().err


def test_fetch_takes_the_images_bundle_build_assembles(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "netbase_layer", lambda: images.LayerSpec("net", list))
    outputs = {}
    for component, binary in (
        ("kubernetes", None),
        ("pause", "pause"),
        ("coredns", "coredns"),
        ("flannel", "flanneld"),
        ("kube-router", "kube-router"),
    ):
        out = tmp_path / component
        out.mkdir()
        for name in publish.K8S_COMMANDS if binary is None else (binary,):
            (out / name).write_text(name)
        outputs[component] = out
    built = {s.ref for s in images.image_specs(VERSIONS, outputs, tmp_path / "work")}
    assert built == {i.ref for i in upstream.images(VERSIONS)}
    assert [i.ref for i in upstream.images(VERSIONS) if i.local] == [images.testbox_ref(VERSIONS)]
