"""`bundle ensure` (what `make up` runs): use an existing bundle, fetch when
upstream answers, build otherwise. The probe only ever targets 127.0.0.1 here:
a listening socket stands in for a reachable upstream, an unused port for an
unreachable one."""

import json
import socket
import time

import pytest
from bundle_standins import free_port

from kubesmith.bundle import ensure, versions
from kubesmith.bundle.build import bundle_dir
from kubesmith.errors import KubesmithError

VERSIONS = versions.load()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBESMITH_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("KUBESMITH_BUNDLE", raising=False)
    return tmp_path


@pytest.fixture
def listening():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


def write_bundle(pinned, source="build"):
    bundle_dir().mkdir(parents=True, exist_ok=True)
    (bundle_dir() / "bundle.json").write_text(json.dumps({"source": source, "versions": pinned}))


def run(files_base):
    done = []
    decision = ensure.ensure(
        VERSIONS, lambda: done.append("fetch"), lambda: done.append("build"), files_base
    )
    return decision, done


def test_reachable_upstream_fetches(cache, listening):
    decision, done = run(listening)
    assert done == ["fetch"]
    assert "answered" in decision.reason


def test_unreachable_upstream_builds_and_fails_fast(cache, capsys):
    started = time.monotonic()
    decision, done = run(f"http://127.0.0.1:{free_port()}/")
    assert time.monotonic() - started < 2
    assert done == ["build"]
    assert "not reachable" in decision.reason
    assert "bundle: building: 127.0.0.1:" in capsys.readouterr().err


def test_an_existing_bundle_is_used_without_probing(cache):
    write_bundle(VERSIONS, "fetch")

    def no_probe(host, port):
        raise AssertionError("probed although a bundle exists")

    decision = ensure.decide(VERSIONS, "https://", reach=no_probe)
    assert decision.action == "use"
    assert "(fetched)" in decision.reason


def test_a_bundle_for_other_versions_is_not_used(cache, listening):
    write_bundle({**VERSIONS, "kube_version": "v1.0.0"})
    decision, done = run(listening)
    assert decision.action == "fetch"
    assert done == ["fetch"]


@pytest.mark.parametrize("forced", ["fetch", "build"])
def test_kubesmith_bundle_forces_the_choice(cache, monkeypatch, listening, forced):
    write_bundle(VERSIONS)
    monkeypatch.setenv("KUBESMITH_BUNDLE", forced)
    decision, done = run(listening)
    assert done == [forced]
    assert decision.reason == f"KUBESMITH_BUNDLE={forced}"


def test_an_unknown_forced_choice_is_refused(cache, monkeypatch):
    monkeypatch.setenv("KUBESMITH_BUNDLE", "download")
    with pytest.raises(KubesmithError, match="use one of fetch, build"):
        run("https://")


def test_the_probe_targets_the_files_base():
    assert ensure.probe_target("https://") == ("dl.k8s.io", 443)
    assert ensure.probe_target("http://127.0.0.1:8080/") == ("127.0.0.1", 8080)
    assert ensure.probe_target("https://mirror.example/") == ("mirror.example", 443)


def test_the_probe_gives_up_after_its_timeout(monkeypatch):
    def hang(address, timeout):
        time.sleep(2)
        raise OSError("too late")

    monkeypatch.setattr(ensure.socket, "create_connection", hang)
    started = time.monotonic()
    assert ensure.probe("127.0.0.1", 9, timeout=0.3) == "no answer within 0.3s"
    assert time.monotonic() - started < 1
