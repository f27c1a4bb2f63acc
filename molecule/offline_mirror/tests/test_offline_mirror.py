"""The node runs what the offline mirror serves, and only that."""

import json
import urllib.request

import pytest

from kubesmith.bundle import versions
from kubesmith.bundle.build import bundle_dir
from kubesmith.bundle.skopeo import split_ref

MIRROR = "192.168.64.1:5000"
VERSIONS = versions.load()
CHECKS = json.loads((bundle_dir() / "image-checks.json").read_text())


def _catalog() -> set[str]:
    with urllib.request.urlopen(f"http://{MIRROR}/v2/_catalog?n=1000", timeout=10) as resp:
        return set(json.load(resp)["repositories"])


def test_every_image_is_in_the_registry_under_its_upstream_name():
    repos = _catalog()
    missing = [ref for ref in CHECKS if split_ref(ref)[0] not in repos]
    assert not missing
    assert len(CHECKS) >= 9


@pytest.mark.parametrize(
    ("binary", "args", "expected"),
    [
        ("containerd", "--version", VERSIONS["kube_containerd_version"]),
        ("runc", "--version", "runc version " + versions.bare(VERSIONS["kube_runc_version"])),
        ("crictl", "--version", "crictl version " + versions.bare(VERSIONS["kube_crictl_version"])),
    ],
)
def test_runtime_binaries_from_the_file_mirror(host, binary, args, expected):
    assert expected in host.check_output(f"{binary} {args}")


def test_containerd_running_with_mirror_config(host):
    assert host.service("containerd").is_running
    assert host.service("containerd").is_enabled
    for registry in ("registry.k8s.io", "docker.io", "quay.io"):
        hosts_toml = host.file(f"/etc/containerd/certs.d/{registry}/hosts.toml").content_string
        assert f'[host."http://{MIRROR}/v2/{registry}"]' in hosts_toml


@pytest.mark.parametrize("ref", sorted(CHECKS))
def test_image_pulls_through_the_mirror_and_runs(host, ref):
    check = CHECKS[ref]
    pull = host.run(f"ctr -n kubesmith-test images pull --hosts-dir /etc/containerd/certs.d {ref}")
    assert pull.rc == 0, pull.stderr
    name = "t-" + ref.rsplit("/", 1)[-1].replace(":", "-").replace(".", "-")
    run = host.run(f"ctr -n kubesmith-test run --rm {ref} {name} " + " ".join(check["args"]))
    assert check["expect"] in run.stdout + run.stderr, run.stdout + run.stderr


def test_image_missing_from_the_mirror_fails(host):
    """Negative control: a tag the mirror lacks cannot be pulled (no way around it)."""
    result = host.run(
        "ctr -n kubesmith-test images pull --hosts-dir /etc/containerd/certs.d "
        "registry.k8s.io/pause:0.0.0-not-in-the-mirror"
    )
    assert result.rc != 0
