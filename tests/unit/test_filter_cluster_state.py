"""The node_dns role's one-line accounts of pods and nodes, for its error message."""

import importlib.util
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[2] / "roles/node_dns/filter_plugins/cluster_state.py"
spec = importlib.util.spec_from_file_location("kubesmith_cluster_state", PLUGIN)
assert spec and spec.loader
cluster_state = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cluster_state)

UNSCHEDULABLE = (
    "0/3 nodes are available: 1 node(s) had untolerated taint "
    "{node-role.kubernetes.io/control-plane: }, 2 node(s) had untolerated taint "
    "{node.kubernetes.io/disk-pressure: }."
)


def _node(name: str, **conditions: str) -> dict:
    reasons = {"DiskPressure": "kubelet has disk pressure", "Ready": "kubelet is posting ready"}
    return {
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {"type": t, "status": s, "message": reasons.get(t, "")}
                for t, s in conditions.items()
            ]
        },
    }


def test_pending_pod_says_why_it_is_not_scheduled():
    pod = {
        "metadata": {"name": "coredns-1"},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "message": UNSCHEDULABLE}],
        },
    }
    assert cluster_state.pod_state(pod) == f"coredns-1: Pending ({UNSCHEDULABLE})"


def test_waiting_container_is_named_with_its_reason():
    pod = {
        "metadata": {"name": "coredns-2"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "coredns",
                    "ready": False,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                }
            ],
        },
    }
    assert cluster_state.pod_state(pod) == "coredns-2: Running (coredns: CrashLoopBackOff)"


def test_running_ready_pod_is_just_its_phase():
    pod = {
        "metadata": {"name": "coredns-3"},
        "status": {
            "phase": "Running",
            "containerStatuses": [{"name": "coredns", "ready": True, "state": {}}],
        },
    }
    assert cluster_state.pod_state(pod) == "coredns-3: Running"


def test_node_pressure_and_not_ready_are_reported():
    sick = _node("worker1", Ready="True", DiskPressure="True", MemoryPressure="False")
    assert cluster_state.node_trouble(sick) == "worker1: DiskPressure (kubelet has disk pressure)"
    down = _node("worker2", Ready="Unknown", DiskPressure="False")
    assert cluster_state.node_trouble(down) == "worker2: NotReady (kubelet is posting ready)"


def test_healthy_node_is_silent():
    assert cluster_state.node_trouble(_node("cp1", Ready="True", DiskPressure="False")) == ""
