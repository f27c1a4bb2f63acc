"""Shared helpers for the cluster verification: kubectl from the controller
with the fetched admin kubeconfig, and hosts reached through Ansible."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import testinfra
import yaml

from kubesmith.bundle import versions
from kubesmith.bundle.build import bundle_dir

REPO = Path(__file__).resolve().parents[3]
# The scenario's own inventory (default: inventory/local; ha: three control
# planes that are also the etcd members, and one worker, on Debian 13).
INVENTORY = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", REPO / "molecule" / "default"))
INVENTORY = INVENTORY / "inventory"


def inventory_var(name: str, default: str) -> str:
    """A setting from the scenario inventory's group_vars/all, else its default."""
    for path in sorted((INVENTORY / "group_vars" / "all").glob("*.yml")):
        found = yaml.safe_load(path.read_text()) or {}
        if name in found:
            return str(found[name])
    return default


def inventory_hosts(group: str) -> dict[str, str]:
    """A group's hosts in the scenario's hosts.yml (child groups included), in
    the file's order -> address. A host in several groups may have its
    ansible_host under any one of them."""
    groups = yaml.safe_load((INVENTORY / "hosts.yml").read_text())["all"]["children"]
    addresses = {
        name: str(hostvars["ansible_host"])
        for entry in groups.values()
        for name, hostvars in ((entry or {}).get("hosts") or {}).items()
        if hostvars and "ansible_host" in hostvars
    }

    def members(name: str) -> list[str]:
        entry = groups.get(name) or {}
        found = list(entry.get("hosts") or {})
        for child in entry.get("children") or {}:
            found += [host for host in members(child) if host not in found]
        return found

    return {name: addresses.get(name, "") for name in members(group)}


ARTIFACTS = REPO / "artifacts" / inventory_var("kube_cluster_name", "kubesmith")
ADMIN_CONF = ARTIFACTS / "admin.conf"
VERSIONS = versions.load()
KUBECTL = (
    bundle_dir() / "files/dl.k8s.io/release" / VERSIONS["kube_version"] / "bin/linux/amd64/kubectl"
)
BIN = Path(sys.executable).parent
TESTBOX = f"docker.io/kubesmith/testbox:{VERSIONS['kube_busybox_version']}"
DNS_IP = "10.96.0.10"
PAGE = "app-v1: hello from production"
NODE_PORT = 30080
ETCD_HOSTS = tuple(inventory_hosts("etcd"))
CONTROL_PLANES = tuple(inventory_hosts("control_plane"))
WORKERS = tuple(inventory_hosts("workers"))
K8S_NODES = tuple(inventory_hosts("k8s_cluster"))
ADDRESSES = {**inventory_hosts("etcd"), **inventory_hosts("k8s_cluster")}
ETCD_CLIENT_CERT = (
    "--cert=/etc/etcd/pki/healthcheck-client.crt --key=/etc/etcd/pki/healthcheck-client.key"
)


def etcdctl_command(member: str, client_cert: bool = True) -> str:
    """etcdctl against one member over TLS; with the health-check client's
    certificate unless client_cert is false (a client the member must refuse)."""
    cert = f" {ETCD_CLIENT_CERT}" if client_cert else ""
    return (
        f"etcdctl --endpoints=https://{ADDRESSES[member]}:2379 --cacert=/etc/etcd/pki/ca.crt"
        f"{cert} --command-timeout=5s"
    )


# Two Kubernetes nodes for checks across nodes: the first worker, and the
# second worker where there is one (default), else another node (ha, whose
# one worker pairs with a control plane; every node runs the test pods).
NEAR = WORKERS[0]
FAR = next(name for name in (*WORKERS, *K8S_NODES) if name != NEAR)
# Scenarios that share these tests on other node images (ha, on Debian 13)
# run the cluster's own checks; checks of controller-side tooling and of
# behaviour that does not depend on the node OS run once, in `default`.
SCENARIO = os.environ.get("MOLECULE_SCENARIO_NAME", "default")
default_scenario_only = pytest.mark.skipif(
    SCENARIO != "default", reason="does not depend on the node OS: checked in default"
)
# Checks of a highly available control plane run where the inventory has one.
several_control_planes = pytest.mark.skipif(
    len(CONTROL_PLANES) < 2, reason="one control plane: the HA checks run in `ha`"
)


def kubectl(*args: str, check: bool = True, stdin: str | None = None):
    return subprocess.run(
        [KUBECTL, f"--kubeconfig={ADMIN_CONF}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=check,
        timeout=300,
    )


def kubectl_json(*args: str):
    return json.loads(kubectl(*args, "-o", "json").stdout)


def wait_for(predicate, timeout: float = 60, interval: float = 2):
    """Poll until predicate() is truthy; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def pod_exec(namespace: str, pod: str, *command: str):
    return kubectl("-n", namespace, "exec", pod, "--", *command, check=False)


TEST_WORKLOADS = f"""
apiVersion: v1
kind: Namespace
metadata:
  name: kubesmith-test
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: netcheck
  namespace: kubesmith-test
spec:
  selector:
    matchLabels: {{app: netcheck}}
  template:
    metadata:
      labels: {{app: netcheck}}
    spec:
      tolerations: [{{operator: Exists}}]
      containers:
        - name: httpd
          image: {TESTBOX}
          env:
            - name: NODE_NAME
              valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}
          command:
            - sh
            - -c
            - mkdir -p /www && echo "$NODE_NAME" > /www/index.html
              && exec busybox httpd -f -vv -p 8080 -h /www
---
apiVersion: v1
kind: Namespace
metadata:
  name: other
---
apiVersion: v1
kind: Pod
metadata:
  name: probe
  namespace: other
spec:
  containers:
    - {{name: probe, image: "{TESTBOX}", command: [sleep, "3600"]}}
---
apiVersion: v1
kind: Pod
metadata:
  name: probe
  namespace: production
spec:
  containers:
    - {{name: probe, image: "{TESTBOX}", command: [sleep, "3600"]}}
"""


@pytest.fixture(scope="session")
def workloads():
    """Test pods: a netcheck server on every node, probes in two namespaces."""
    kubectl("apply", "-f", "-", stdin=TEST_WORKLOADS)
    kubectl("-n", "kubesmith-test", "rollout", "status", "ds/netcheck", "--timeout=180s")
    for ns in ("other", "production"):
        kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/probe", "--timeout=180s")
    pods = kubectl_json("-n", "kubesmith-test", "get", "pods", "-l", "app=netcheck")["items"]
    yield {p["spec"]["nodeName"]: p for p in pods}
    kubectl("delete", "ns", "kubesmith-test", "other", "--wait=false", check=False)
    kubectl("-n", "production", "delete", "pod", "probe", "--wait=false", check=False)


@pytest.fixture(scope="session")
def nodes():
    """Node name -> {address, pod_cidr} from the API."""
    result = {}
    for item in kubectl_json("get", "nodes")["items"]:
        address = next(
            a["address"] for a in item["status"]["addresses"] if a["type"] == "InternalIP"
        )
        result[item["metadata"]["name"]] = {"address": address, "pod_cidr": item["spec"]["podCIDR"]}
    return result


def other(host, name):
    """Another inventory host, reached the same way as ``host``."""
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=host.backend.ansible_inventory)


def app_pod() -> dict:
    """The demo app's pod, as the API shows it now."""
    return kubectl_json("-n", "production", "get", "pods", "-l", "app=app-v1")["items"][0]


def serves_page(url: str) -> bool:
    """Whether ``url`` answers from this machine with the demo app's page."""
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.read().decode().strip() == PAGE
    except OSError:
        return False


def run_playbook(
    playbook: str, *args: str, inventory: Path = INVENTORY
) -> subprocess.CompletedProcess:
    """ansible-playbook with plain output (molecule forces colour on its children,
    which would wrap the recap's host names in escape codes)."""
    return subprocess.run(
        [BIN / "ansible-playbook", "-i", inventory, REPO / "playbooks" / playbook, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
    )


def kubesmith(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "kubesmith", "-i", INVENTORY, *args], capture_output=True, text=True, check=True
    )
