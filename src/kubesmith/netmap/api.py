"""Reading the cluster's objects from the API server with the admin kubeconfig.

`read_objects` only lists objects (no watch, no write); the functions below it
turn the API's JSON into the model, so they work on any such JSON.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubesmith.errors import KubesmithError
from kubesmith.netmap.model import (
    ClusterDns,
    Endpoint,
    Ingress,
    IngressController,
    IngressRule,
    NetworkPolicy,
    Node,
    Pod,
    Service,
    ServicePort,
    Vtep,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# (connect, read) seconds for each API request.
REQUEST_TIMEOUT = (5, 15)
FLANNEL_ANNOTATIONS = "flannel.alpha.coreos.com/"
ROLE_LABEL = "node-role.kubernetes.io/"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_SERVICE = ("kube-system", "kube-dns")

Obj = dict[str, Any]


@dataclass(frozen=True)
class ApiObjects:
    """The object lists the map is drawn from, as the API returned them."""

    server: str
    nodes: list[Obj]
    pods: list[Obj]
    services: list[Obj]
    endpoint_slices: list[Obj]
    ingresses: list[Obj]
    ingress_classes: list[Obj]
    network_policies: list[Obj]


def open_client(kubeconfig: Path) -> "ApiClient":
    """An API client from the admin kubeconfig (reads the file, contacts nothing)."""
    import kubernetes.client
    import kubernetes.config

    if not kubeconfig.is_file():
        raise KubesmithError(
            f"no admin kubeconfig at {kubeconfig}: playbooks/cluster.yml fetches it "
            "(or pass --kubeconfig FILE)"
        )
    # Straight to the API server: proxy variables in the environment are not followed
    # (a kubeconfig's own proxy-url still is).
    configuration = kubernetes.client.Configuration(proxy="")
    try:
        kubernetes.config.load_kube_config(
            config_file=str(kubeconfig),
            client_configuration=configuration,
            persist_config=False,
        )
    except kubernetes.config.ConfigException as exc:
        raise KubesmithError(f"cannot use the kubeconfig {kubeconfig}: {exc}") from exc
    configuration.retries = 1
    return kubernetes.client.ApiClient(configuration)


def read_objects(client: "ApiClient") -> ApiObjects:
    """List every object the map needs; errors name the API server and what failed."""
    import kubernetes.client
    import urllib3

    core = kubernetes.client.CoreV1Api(client)
    discovery = kubernetes.client.DiscoveryV1Api(client)
    networking = kubernetes.client.NetworkingV1Api(client)
    server = str(client.configuration.host)

    def items(what: str, call: Any) -> list[Obj]:
        try:
            response = call(_preload_content=False, _request_timeout=REQUEST_TIMEOUT)
        except kubernetes.client.ApiException as exc:
            raise KubesmithError(
                f"the API server {server} refused to list {what}: {exc.status} {exc.reason}"
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubesmithError(f"cannot reach the API server {server}: {exc}") from exc
        listed: list[Obj] = json.loads(response.data).get("items", [])
        return listed

    return ApiObjects(
        server=server,
        nodes=items("nodes", core.list_node),
        pods=items("pods", core.list_pod_for_all_namespaces),
        services=items("services", core.list_service_for_all_namespaces),
        endpoint_slices=items("endpoint slices", discovery.list_endpoint_slice_for_all_namespaces),
        ingresses=items("ingresses", networking.list_ingress_for_all_namespaces),
        ingress_classes=items("ingress classes", networking.list_ingress_class),
        network_policies=items(
            "network policies", networking.list_network_policy_for_all_namespaces
        ),
    )


def _meta(obj: Obj) -> Obj:
    meta: Obj = obj.get("metadata", {})
    return meta


def node(obj: Obj) -> Node:
    """A node as the API describes it (its own state is read over SSH)."""
    meta, spec, status = _meta(obj), obj.get("spec", {}), obj.get("status", {})
    labels, annotations = meta.get("labels", {}), meta.get("annotations", {})
    address = next(
        (a["address"] for a in status.get("addresses", []) if a.get("type") == "InternalIP"),
        None,
    )
    ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
    is_ready = ready is not None and ready.get("status") == "True"
    reason = ""
    if not is_ready:
        reason = (
            "no Ready condition"
            if ready is None
            else ": ".join(p for p in (ready.get("reason"), ready.get("message")) if p)
        )
    backend = _json_annotation(annotations.get(FLANNEL_ANNOTATIONS + "backend-data"))
    return Node(
        name=meta["name"],
        address=address,
        roles=tuple(sorted(k[len(ROLE_LABEL) :] for k in labels if k.startswith(ROLE_LABEL))),
        ready=is_ready,
        not_ready_reason=reason,
        pod_cidr=spec.get("podCIDR"),
        vtep=Vtep(
            mac=backend.get("VtepMAC"),
            public_ip=annotations.get(FLANNEL_ANNOTATIONS + "public-ip"),
            backend=annotations.get(FLANNEL_ANNOTATIONS + "backend-type"),
        ),
    )


def _json_annotation(value: str | None) -> Obj:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def pods(objs: list[Obj]) -> tuple[Pod, ...]:
    """Pods placed on a node and not finished, in namespace/name order."""
    found = []
    for obj in objs:
        meta, spec, status = _meta(obj), obj.get("spec", {}), obj.get("status", {})
        phase = status.get("phase", "")
        if phase in ("Succeeded", "Failed") or not spec.get("nodeName"):
            continue
        found.append(
            Pod(
                namespace=meta["namespace"],
                name=meta["name"],
                node=spec["nodeName"],
                ip=status.get("podIP"),
                host_network=bool(spec.get("hostNetwork")),
                phase=phase,
            )
        )
    return tuple(sorted(found, key=lambda p: (p.namespace, p.name)))


def _selector_text(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(f"{k}={v}" for k, v in sorted(labels.items()))


def _endpoints(slices: list[Obj], namespace: str, name: str) -> tuple[Endpoint, ...]:
    found = []
    for piece in slices:
        meta = _meta(piece)
        if meta.get("namespace") != namespace:
            continue
        if meta.get("labels", {}).get(SERVICE_NAME_LABEL) != name:
            continue
        for endpoint in piece.get("endpoints") or []:
            ready = endpoint.get("conditions", {}).get("ready")
            for address in endpoint.get("addresses", []):
                found.append(
                    Endpoint(
                        ip=address,
                        # The API leaves "ready" unset when it is unknown: count it as ready.
                        ready=ready is not False,
                        node=endpoint.get("nodeName"),
                        pod=(endpoint.get("targetRef") or {}).get("name"),
                    )
                )
    return tuple(sorted(set(found), key=lambda e: (e.ip, e.pod or "")))


def services(objs: list[Obj], slices: list[Obj]) -> tuple[Service, ...]:
    """Services with their ports and endpoints, in namespace/name order."""
    found = []
    for obj in objs:
        meta, spec = _meta(obj), obj.get("spec", {})
        found.append(
            Service(
                namespace=meta["namespace"],
                name=meta["name"],
                type=spec.get("type", "ClusterIP"),
                cluster_ip=spec.get("clusterIP"),
                ports=tuple(
                    ServicePort(
                        port=int(p["port"]),
                        protocol=p.get("protocol", "TCP"),
                        target_port=str(p.get("targetPort", p["port"])),
                        node_port=p.get("nodePort"),
                    )
                    for p in spec.get("ports") or []
                ),
                selector=_selector_text(spec.get("selector") or {}),
                endpoints=_endpoints(slices, meta["namespace"], meta["name"]),
            )
        )
    return tuple(sorted(found, key=lambda s: s.key))


def cluster_dns(found: tuple[Service, ...], configured: str | None) -> ClusterDns:
    """The cluster DNS address: the kube-dns Service, else the inventory's kube_dns_ip."""
    for service in found:
        if (service.namespace, service.name) == DNS_SERVICE and service.cluster_ip:
            return ClusterDns(service.cluster_ip, "service kube-system/kube-dns")
    if configured:
        return ClusterDns(configured, "inventory kube_dns_ip (no kube-dns Service)")
    return ClusterDns(None, "unknown")


def _backend(backend: Obj) -> tuple[str, str]:
    service = backend.get("service") or {}
    port = service.get("port") or {}
    return str(service.get("name", "")), str(port.get("number") or port.get("name") or "")


def ingresses(objs: list[Obj]) -> tuple[Ingress, ...]:
    found = []
    for obj in objs:
        meta, spec = _meta(obj), obj.get("spec", {})
        rules = []
        if spec.get("defaultBackend"):
            rules.append(IngressRule("*", "/", *_backend(spec["defaultBackend"])))
        for rule in spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths", []):
                rules.append(
                    IngressRule(
                        rule.get("host", "*"),
                        path.get("path", "/"),
                        *_backend(path.get("backend", {})),
                    )
                )
        found.append(
            Ingress(
                namespace=meta["namespace"],
                name=meta["name"],
                class_name=spec.get("ingressClassName")
                or meta.get("annotations", {}).get("kubernetes.io/ingress.class"),
                rules=tuple(rules),
            )
        )
    return tuple(sorted(found, key=lambda i: (i.namespace, i.name)))


def ingress_controller(
    namespace: str | None,
    classes: list[Obj],
    found_services: tuple[Service, ...],
    found_pods: tuple[Pod, ...],
) -> IngressController | None:
    """The controller in the inventory's ingress namespace, if anything runs there."""
    if not namespace:
        return None
    exposed = [s for s in found_services if s.namespace == namespace]
    running = [p.name for p in found_pods if p.namespace == namespace]
    if not exposed and not running:
        return None
    return IngressController(
        namespace=namespace,
        classes=tuple(sorted(_meta(c)["name"] for c in classes)),
        services=tuple(s.key for s in exposed),
        node_ports=tuple(sorted(p.node_port for s in exposed for p in s.ports if p.node_port)),
        pods=tuple(running),
    )


def _label_selector(selector: Obj | None) -> str:
    if not selector:
        return ""
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        values = ",".join(expression.get("values") or [])
        terms.append(f"{expression['key']} {expression['operator']} ({values})".strip())
    return ",".join(terms)


def _peer(peer: Obj, namespace: str) -> str:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        excepted = block.get("except") or []
        return block["cidr"] + (f" except {','.join(excepted)}" if excepted else "")
    pods = peer.get("podSelector")
    namespaces = peer.get("namespaceSelector")
    if namespaces is None:
        selected = _label_selector(pods)
        return f"pods of {namespace}" + (f" with {selected}" if selected else "")
    named = (namespaces.get("matchLabels") or {}).get(NAMESPACE_NAME_LABEL)
    where = (
        f"namespace {named}"
        if named and len(namespaces) == 1 and len(namespaces["matchLabels"]) == 1
        else f"namespaces with {_label_selector(namespaces)}"
        if _label_selector(namespaces)
        else "every namespace"
    )
    selected = _label_selector(pods)
    return f"pods with {selected} in {where}" if selected else where


def _ports(rule: Obj) -> str:
    ports = [f"{p.get('port', 'any')}/{p.get('protocol', 'TCP')}" for p in rule.get("ports") or []]
    return f" on {','.join(ports)}" if ports else ""


def _peers(rules: list[Obj], key: str, namespace: str) -> tuple[str, ...]:
    described: list[str] = []
    for rule in rules:
        peers = rule.get(key)
        suffix = _ports(rule)
        if not peers:
            described.append("anywhere" + suffix)
        described.extend(_peer(p, namespace) + suffix for p in peers or [])
    return tuple(described)


def network_policies(objs: list[Obj]) -> tuple[NetworkPolicy, ...]:
    found = []
    for obj in objs:
        meta, spec = _meta(obj), obj.get("spec", {})
        ingress, egress = spec.get("ingress") or [], spec.get("egress") or []
        types = spec.get("policyTypes") or (["Ingress", "Egress"] if egress else ["Ingress"])
        found.append(
            NetworkPolicy(
                namespace=meta["namespace"],
                name=meta["name"],
                pod_selector=_label_selector(spec.get("podSelector")),
                policy_types=tuple(types),
                admits=_peers(ingress, "from", meta["namespace"]) if "Ingress" in types else (),
                allows_egress_to=_peers(egress, "to", meta["namespace"])
                if "Egress" in types
                else (),
            )
        )
    return tuple(sorted(found, key=lambda p: (p.namespace, p.name)))
