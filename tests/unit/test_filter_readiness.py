"""The pod_network role's readiness filters: one listing answers for every node
or daemon set."""

import importlib.util
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[2] / "roles/pod_network/filter_plugins/readiness.py"
spec = importlib.util.spec_from_file_location("kubesmith_readiness", PLUGIN)
assert spec and spec.loader
readiness = importlib.util.module_from_spec(spec)
spec.loader.exec_module(readiness)


def _node(name: str, ready: str | None) -> dict:
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def _daemonset(namespace: str, name: str, ready: int | None) -> dict:
    status = {} if ready is None else {"numberReady": ready}
    return {"metadata": {"namespace": namespace, "name": name}, "status": status}


def test_ready_nodes_are_those_whose_ready_condition_is_true():
    nodes = [_node("cp1", "True"), _node("worker1", "False"), _node("worker2", None)]
    assert readiness.ready_nodes(nodes) == ["cp1"]
    assert readiness.ready_nodes([{"metadata": {"name": "new"}}]) == []


def test_ready_daemonsets_have_a_ready_pod_on_every_node():
    daemonsets = [
        _daemonset("kube-flannel", "kube-flannel-ds", 3),
        _daemonset("kube-system", "kube-router", 2),
        _daemonset("kube-system", "kube-proxy", None),
    ]
    assert readiness.ready_daemonsets(daemonsets, 3) == ["kube-flannel/kube-flannel-ds"]
    assert readiness.ready_daemonsets(daemonsets, "2") == ["kube-system/kube-router"]
