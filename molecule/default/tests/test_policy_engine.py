"""Switching NetworkPolicy engines on a live cluster is refused before
anything is applied, with a message that says to reset; the engine that runs
passes the same check."""

import re

from conftest import ENGINE, OTHER_ENGINE, engine_scenarios_only, kubectl, run_playbook

pytestmark = engine_scenarios_only

# What the other engine would have created first.
OTHER_ENGINE_OBJECTS = {
    "calico": (
        ("crd", "ippools.crd.projectcalico.org"),
        ("-n", "kube-system", "ds", "calico-node"),
    ),
    "kube-network-policies": (
        ("clusterrole", "kube-network-policies"),
        ("-n", "kube-system", "ds", "kube-network-policies"),
    ),
}


def test_switching_engines_is_refused_before_anything_is_applied():
    result = run_playbook(
        "cluster.yml", "--tags", "pod_network", "-e", f"pod_network_policy_engine={OTHER_ENGINE}"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"pod_network_policy_engine is {OTHER_ENGINE}, but this cluster runs {ENGINE}" in output
    assert "run playbooks/reset.yml" in output
    for what in OTHER_ENGINE_OBJECTS[OTHER_ENGINE]:
        assert kubectl("get", *what, check=False).returncode != 0, f"{what} was applied"


def test_the_running_engine_passes_the_check():
    """Negative control: the same run with the engine the cluster runs goes
    through and changes nothing."""
    result = run_playbook("cluster.yml", "--tags", "pod_network")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "this cluster runs" not in output
    changed = re.findall(r"changed=(\d+)", output.split("PLAY RECAP", 1)[1])
    assert changed and set(changed) == {"0"}, output[-2000:]
