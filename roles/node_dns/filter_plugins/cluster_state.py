"""One-line accounts of pods and nodes (from k8s_info) for error messages.

kubesmith_pod_state: ``coredns-x: Pending (0/3 nodes are available: ...)``.
kubesmith_node_trouble: ``worker1: DiskPressure (kubelet has disk pressure)``,
or ``''`` for a node that is Ready with no pressure.
"""

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def _why(condition: Obj) -> str:
    return str(condition.get("message") or condition.get("reason") or "")


def pod_state(pod: Obj) -> str:
    name = pod.get("metadata", {}).get("name", "?")
    status = pod.get("status", {})
    phase = status.get("phase", "Unknown")
    detail = ""
    if phase == "Pending":
        conditions = status.get("conditions", [])
        detail = _why(next((c for c in conditions if c.get("type") == "PodScheduled"), {}))
    for container in status.get("containerStatuses", []):
        waiting = container.get("state", {}).get("waiting")
        if waiting:
            detail = f"{container.get('name')}: {waiting.get('reason', '')}".strip()
        elif not container.get("ready", False) and phase == "Running":
            detail = f"{container.get('name')} not ready"
    return f"{name}: {phase} ({detail})" if detail else f"{name}: {phase}"


def node_trouble(node: Obj) -> str:
    name = node.get("metadata", {}).get("name", "?")
    troubles = []
    for cond in node.get("status", {}).get("conditions", []):
        kind, status = cond.get("type"), cond.get("status")
        if (kind == "Ready" and status != "True") or (kind in PRESSURE and status == "True"):
            state = kind if status == "True" else f"Not{kind}"
            troubles.append(f"{state} ({_why(cond)})")
    return f"{name}: {', '.join(troubles)}" if troubles else ""


class FilterModule:
    def filters(self) -> dict[str, Callable[[Obj], str]]:
        return {"kubesmith_pod_state": pod_state, "kubesmith_node_trouble": node_trouble}
