"""Readiness from k8s_info listings, so that one listing answers for every node
or daemon set instead of one call each.

kubesmith_ready_nodes: names of the nodes whose Ready condition is True.
kubesmith_ready_daemonsets: ``namespace/name`` of the daemon sets with a ready
pod on ``count`` nodes.
"""

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]


def ready_nodes(nodes: list[Obj]) -> list[str]:
    return [
        node["metadata"]["name"]
        for node in nodes
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in node.get("status", {}).get("conditions", [])
        )
    ]


def ready_daemonsets(daemonsets: list[Obj], count: int) -> list[str]:
    return [
        f"{ds['metadata']['namespace']}/{ds['metadata']['name']}"
        for ds in daemonsets
        if int(ds.get("status", {}).get("numberReady", 0)) == int(count)
    ]


class FilterModule:
    def filters(self) -> dict[str, Callable[..., list[str]]]:
        return {
            "kubesmith_ready_nodes": ready_nodes,
            "kubesmith_ready_daemonsets": ready_daemonsets,
        }
