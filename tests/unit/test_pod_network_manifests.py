"""What the pod_network role would apply, rendered from each shipped inventory
for each NetworkPolicy engine (the role's `render` entry point, applying
nothing): the objects parse, carry the inventory's network settings and the
pinned images, and keep the facts each engine depends on."""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
ENGINES = ("calico", "kube-network-policies")
INVENTORIES = ("local", "vagrant", "sample")
# (inventory, first control plane's address, pod MTU, pod network)
EXPECTED = {
    "local": ("192.168.60.11", 1450, "10.244.0.0/16"),
    "vagrant": ("192.168.56.11", 1450, "10.244.0.0/16"),
    "sample": ("10.10.0.11", 1450, "10.244.0.0/16"),
}


@pytest.fixture(scope="module")
def rendered(repo, tmp_path_factory) -> dict[tuple[str, str], list[dict]]:
    """(engine, inventory) -> the objects, in apply order."""

    def render(case: tuple[str, str]) -> tuple[tuple[str, str], list[dict]]:
        engine, inventory = case
        out = tmp_path_factory.mktemp(f"{engine}-{inventory}")
        result = subprocess.run(
            [
                BIN / "ansible-playbook",
                "-i",
                repo / "inventory" / inventory,
                repo / "molecule" / "shared" / "render-pod-network.yml",
                "-e",
                f"pod_network_policy_engine={engine}",
                "-e",
                f"pod_network_render_dir={out}",
            ],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(out), "ANSIBLE_NOCOLOR": "1"},
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        objects = [
            obj
            for path in sorted(out.glob("*.yaml"))
            for obj in yaml.safe_load_all(path.read_text())
            if obj
        ]
        return case, objects

    cases = [(e, i) for e in ENGINES for i in INVENTORIES]
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(render, cases))


@pytest.fixture(scope="module")
def versions(repo) -> dict:
    return yaml.safe_load((repo / "roles/kube/defaults/main/versions.yml").read_text())


def find(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def containers(workload: dict) -> dict[str, dict]:
    spec = workload["spec"]["template"]["spec"]
    return {c["name"]: c for c in spec.get("initContainers", []) + spec["containers"]}


def env(container: dict) -> dict[str, object]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_calico_is_canal_in_policy_only_mode(rendered, versions, inventory):
    objects = rendered[("calico", inventory)]
    api, mtu, pods = EXPECTED[inventory]
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    assert objects[: len(crds)] == crds, "CustomResourceDefinitions come first"
    calico_crds = [c for c in crds if c["spec"]["group"] == "crd.projectcalico.org"]
    assert len(calico_crds) == 22
    for crd in crds:
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert schema == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert {c["metadata"]["name"] for c in crds} >= {
        "ippools.crd.projectcalico.org",
        "felixconfigurations.crd.projectcalico.org",
        "networkpolicies.crd.projectcalico.org",
        "clusternetworkpolicies.policy.networking.k8s.io",
    }

    config = find(objects, "ConfigMap", "canal-config")["data"]
    assert config["pod_cidr"] == pods
    cni = json.loads(config["cni_network_config"])
    calico, portmap = cni["plugins"]
    assert calico["type"] == "calico" and calico["mtu"] == mtu
    assert calico["ipam"] == {"type": "host-local", "subnet": "usePodCidr"}
    assert portmap["type"] == "portmap"

    node = containers(find(objects, "DaemonSet", "calico-node"))
    version = versions["kube_calico_version"]
    assert node["install-cni"]["image"] == f"quay.io/calico/cni:{version}"
    assert node["calico-node"]["image"] == f"quay.io/calico/node:{version}"
    install, felix = env(node["install-cni"]), env(node["calico-node"])
    assert install["CNI_CONF_NAME"] == "10-canal.conflist"
    assert "host-local" in install["SKIP_CNI_BINARIES"].split(",")
    assert felix["CALICO_NETWORKING_BACKEND"] == "none"
    assert felix["CLUSTER_TYPE"] == "k8s,canal"
    assert felix["USE_POD_CIDR"] == "true"
    assert felix["IP"] == ""
    assert felix["FELIX_DEFAULTENDPOINTTOHOSTACTION"] == "ACCEPT"
    assert felix["KUBERNETES_SERVICE_HOST"] == install["KUBERNETES_SERVICE_HOST"] == api

    controllers = containers(find(objects, "Deployment", "calico-kube-controllers"))
    assert controllers["calico-kube-controllers"]["image"] == (
        f"quay.io/calico/kube-controllers:{version}"
    )
    for role in ("calico-node", "calico-cni-plugin", "calico-kube-controllers"):
        binding = find(objects, "ClusterRoleBinding", role)
        assert binding["roleRef"]["name"] == role
        assert binding["subjects"][0]["name"] == role
        find(objects, "ServiceAccount", role)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_kube_network_policies_as_upstream_installs_it(rendered, versions, inventory):
    objects = rendered[("kube-network-policies", inventory)]
    assert not [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    daemonset = find(objects, "DaemonSet", "kube-network-policies")
    spec = daemonset["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    netpol = containers(daemonset)["kube-network-policies"]
    version = versions["kube_network_policies_version"]
    assert netpol["image"] == f"registry.k8s.io/networking/kube-network-policies:{version}"
    assert netpol["command"] == ["/bin/netpol"]
    assert netpol["args"] == [
        "--hostname-override=$(MY_NODE_NAME)",
        "--v=2",
        "--nfqueue-id=98",
    ], "fail-closed: no --fail-open"
    assert netpol["securityContext"]["privileged"] is True
    assert "NET_ADMIN" in netpol["securityContext"]["capabilities"]["add"]
    assert env(netpol)["KUBERNETES_SERVICE_HOST"] == EXPECTED[inventory][0]
    mounts = {m["mountPath"] for m in netpol["volumeMounts"]}
    assert mounts == {"/var/run/nri", "/var/run/netns"}
    rules = find(objects, "ClusterRole", "kube-network-policies")["rules"]
    granted = {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    for group, resource in (
        ("", "pods"),
        ("", "namespaces"),
        ("networking.k8s.io", "networkpolicies"),
    ):
        assert {(group, resource, "list"), (group, resource, "watch")} <= granted


def test_every_pod_network_setting_is_in_the_argument_specs(repo):
    defaults = yaml.safe_load((repo / "roles/pod_network/defaults/main.yml").read_text())
    specs = yaml.safe_load((repo / "roles/pod_network/meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(defaults) <= set(options)
    for name, value in defaults.items():
        assert options[name]["default"] == value, name
    assert options["pod_network_policy_engine"]["choices"] == list(ENGINES)
