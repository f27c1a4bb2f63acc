"""The Calico (Canal) engine's objects against the live cluster's API server.

The offline bundle cannot hold Calico's images, so this cluster runs
kube-network-policies; what can be proved here is that every object the
calico engine renders from this inventory (CustomResourceDefinitions first,
then RBAC, canal-config, calico-node, calico-kube-controllers) passes the API
server's validation in a server-side dry run, which creates nothing. The
negative control breaks one field and the same dry run refuses it. The molecule
scenario `canal` runs the engine for real where the images can be pulled."""

import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, ENGINE, INVENTORY, REPO, engine_scenarios_only, inventory_var, kubectl

# Controller-side: once, in `default` (the canal scenario applies them for real).
pytestmark = engine_scenarios_only
RENDER = REPO / "molecule" / "shared" / "render-pod-network.yml"


@pytest.fixture(scope="module")
def canal_manifests(tmp_path_factory) -> list[Path]:
    """The calico engine's manifests for this inventory, in apply order."""
    out = tmp_path_factory.mktemp("canal")
    engine = ("-e", "pod_network_policy_engine=calico", "-e", f"pod_network_render_dir={out}")
    playbook = [BIN / "ansible-playbook", "-i", INVENTORY, RENDER, *engine]
    result = subprocess.run(playbook, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    return sorted(out.glob("*.yaml"))


def dry_run(*manifests: Path) -> subprocess.CompletedProcess:
    """Server-side apply as the role does it, validated and not persisted."""
    args = ["apply", "--server-side", "--field-manager=kubesmith", "--dry-run=server"]
    for manifest in manifests:
        args += ["-f", str(manifest)]
    return kubectl(*args, check=False)


def test_rendered_from_this_inventory(canal_manifests):
    assert [m.name for m in canal_manifests] == ["01-calico-crds.yaml", "02-calico.yaml"]
    objects = [o for m in canal_manifests for o in yaml.safe_load_all(m.read_text()) if o]
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    assert sum(o["spec"]["group"] == "crd.projectcalico.org" for o in crds) == 22
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    mtu = inventory_var("pod_network_mtu", "1450")
    assert f'"mtu": {mtu}' in config["data"]["cni_network_config"]
    cluster = kubectl(
        "-n",
        "kube-system",
        "get",
        "cm",
        "kubeadm-config",
        "-o",
        "jsonpath={.data.ClusterConfiguration}",
    ).stdout
    assert config["data"]["pod_cidr"] == yaml.safe_load(cluster)["networking"]["podSubnet"]
    images = {
        c["image"]
        for o in objects
        if o["kind"] in ("DaemonSet", "Deployment")
        for c in o["spec"]["template"]["spec"].get("initContainers", [])
        + o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {
        f"quay.io/calico/{name}:v3.32.1" for name in ("cni", "node", "kube-controllers")
    }


def test_objects_pass_server_side_validation(canal_manifests):
    crds, rest = canal_manifests
    for manifest in (crds, rest):
        result = dry_run(manifest)
        assert result.returncode == 0, result.stderr
        assert "(server dry run)" in result.stdout
    if ENGINE != "calico":
        # Nothing was created.
        assert kubectl("get", "crd", "ippools.crd.projectcalico.org", check=False).returncode != 0
        assert kubectl("-n", "kube-system", "get", "ds", "calico-node", check=False).returncode != 0


def test_server_side_validation_can_fail(canal_manifests, tmp_path):
    """Negative control: calico-kube-controllers with replicas -1 is refused by
    the same dry run (a client-side check would let it through)."""
    objects = [o for o in yaml.safe_load_all(canal_manifests[1].read_text()) if o]
    for obj in objects:
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] = -1
    broken = tmp_path / "02-calico-broken.yaml"
    broken.write_text(yaml.safe_dump_all(objects))
    result = dry_run(broken)
    assert result.returncode != 0
    assert "Invalid value: -1: must be greater than or equal to 0" in result.stderr
