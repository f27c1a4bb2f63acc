"""Drawing a cluster map: Graphviz DOT (to SVG with `dot`), one HTML page, JSON, text.

The picture reads top to bottom along a packet's way: the ingress controller
and Services (kube-proxy's NAT) above, then each node on the node network with
its pods on cni0 (veth pairs), cni0, and flannel.1 with its routes to the other
nodes' pod ranges; VXLAN tunnels join the flannel.1 devices. Problems are red,
each with its one-line reason, and listed again at the top.
"""

import html
import json
import re
from collections import defaultdict
from collections.abc import Iterable

from kubesmith.netmap import checks
from kubesmith.netmap.model import (
    BRIDGE_DEVICE,
    FLANNEL_DEVICE,
    ClusterMap,
    Host,
    Node,
    Pod,
    Problem,
    Service,
    to_dict,
)
from kubesmith.proc import run

FONT = "DejaVu Sans"
RED = "#c62828"
GREY = "#616161"
VXLAN = "#1565c0"
BRIDGE = "#2e7d32"
SERVICE = "#6a1b9a"
INGRESS = "#ef6c00"
ISOLATED = "#ad1457"
NAMESPACE_FILLS = (
    "#e3f2fd",
    "#e8f5e9",
    "#fff3e0",
    "#f3e5f5",
    "#e0f7fa",
    "#fffde7",
    "#fbe9e7",
    "#ede7f6",
)
ROUTE_KINDS = (
    checks.ROUTE_MISSING,
    checks.ROUTE_WRONG,
    checks.FORWARDING_MISSING,
    checks.NEIGHBOUR_MISSING,
)
NODE_KINDS = (
    checks.NODE_UNREACHABLE,
    checks.NODE_NOT_READY,
    checks.NO_POD_CIDR,
    checks.CNI0_MISMATCH,
)


def _id(*parts: str) -> str:
    text = ":".join(parts)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _attrs(**attributes: str) -> str:
    """DOT attributes with quoted values."""
    return "[" + " ".join(f"{key}={_id(value)}" for key, value in attributes.items()) + "]"


def _table(rows: Iterable[str], color: str = GREY, border: int = 1) -> str:
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return (
        f'<<table border="{border}" cellborder="0" cellspacing="0" cellpadding="3" '
        f'color="{color}">{body}</table>>'
    )


# Graphviz measures text a little narrower than browsers and librsvg draw it: a few
# spaces at the end of each row keep long rows inside their box.
_ROW_SLACK = "&#160;" * 3


def _cell(text: str, color: str | None = None, bold: bool = False) -> str:
    content = (f"<b>{text}</b>" if bold else text) + _ROW_SLACK
    if color:
        content = f'<font color="{color}">{content}</font>'
    return f'<td align="left" balign="left">{content}</td>'


class _Problems:
    """Problems indexed by what they mark in the picture."""

    def __init__(self, problems: list[Problem]) -> None:
        self._by: dict[tuple[str, str], list[Problem]] = defaultdict(list)
        for problem in problems:
            self._by[(problem.kind, problem.subject)].append(problem)

    def of(self, subject: str, *kinds: str) -> list[Problem]:
        return [p for kind in kinds for p in self._by.get((kind, subject), [])]

    def between(self, subject: str, peer: str) -> list[Problem]:
        return [p for p in self.of(subject, *ROUTE_KINDS) if p.peer == peer]


def _namespace_fills(model: ClusterMap) -> dict[str, str]:
    namespaces = sorted({p.namespace for p in model.pods})
    return {ns: NAMESPACE_FILLS[i % len(NAMESPACE_FILLS)] for i, ns in enumerate(namespaces)}


def _pod_lines(pod: Pod, fill: str, isolated: bool) -> str:
    namespace = f"{pod.namespace} (isolated)" if isolated else pod.namespace
    label = f"{pod.name}\n{namespace} · {pod.ip or 'no IP yet'}"
    attributes = {"label": label, "fillcolor": fill}
    if isolated:
        attributes |= {"color": ISOLATED, "penwidth": "2"}
    return f"{_id('pod', pod.namespace, pod.name)} {_attrs(**attributes)};"


def _node_label(node: Node, problems: _Problems) -> str:
    roles = ", ".join(node.roles) or "node"
    state = "Ready" if node.ready else "NotReady"
    rows = [
        _cell(_e(node.name), bold=True)
        + _cell(f"{_e(node.address or '?')} · {_e(roles)} · {state}"),
    ]
    rows += [
        f'<td align="left" colspan="2"><font color="{RED}">{_e(p.message)}{_ROW_SLACK}</font></td>'
        for p in problems.of(node.name, *NODE_KINDS)
    ]
    return _table(rows, border=0)


def _host_label(node: Node, model: ClusterMap, problems: _Problems) -> str:
    host_pods = [p.name for p in model.pods_on(node.name) if p.host_network]
    rows = [_cell(f"host network {_e(node.address or '?')}", bold=True)]
    if node.state is not None:
        servers = ", ".join(node.state.nameservers()) or "none"
        dns = problems.of(node.name, checks.DNS_NOT_FIRST)
        rows.append(_cell(f"resolv.conf: nameserver {_e(servers)}", RED if dns else None))
        rows += [_cell(_e(p.message), RED) for p in dns]
    if host_pods:
        rows.append(_cell(f"host-network pods: {len(host_pods)}"))
    return _table(rows)


def _flannel_label(node: Node, model: ClusterMap, problems: _Problems) -> str:
    state = node.state
    device = state.flannel if state else None
    if state is None or device is None:
        return _table([_cell(f"{FLANNEL_DEVICE} missing", RED, bold=True)], RED)
    rows = [_cell(f"{FLANNEL_DEVICE}  VTEP {_e(device.mac)}", VXLAN, bold=True)]
    public = node.vtep.public_ip or device.local_ip or "?"
    rows.append(_cell(f"{_e(public)}:{device.port or '?'} · VNI {device.vni} · MTU {device.mtu}"))
    rows += [_cell(_e(p.message), RED) for p in problems.of(node.name, checks.VTEP_MISMATCH)]
    peers = {p.pod_cidr: p for p in model.nodes if p.name != node.name and p.pod_cidr}
    for cidr, peer in sorted(peers.items(), key=lambda item: item[1].name):
        route = state.route_to(cidr)
        trouble = problems.between(node.name, peer.name)
        if route is None:
            text = f"{cidr} ({peer.name}): no route"
        else:
            via = f"via {route.gateway} " if route.gateway else ""
            text = f"{cidr} ({peer.name}) {via}dev {route.device}"
        rows.append(_cell(_e(text), RED if trouble else None))
        rows += [_cell(_e(p.message), RED) for p in trouble if p.kind != checks.ROUTE_MISSING]
    known = set(peers) | {node.pod_cidr}
    for route in state.routes:
        if route.device == FLANNEL_DEVICE and route.destination not in known:
            rows.append(_cell(_e(f"{route.destination} via {route.gateway}: no node has it")))
    return _table(rows, VXLAN)


def _service_label(service: Service, problems: _Problems) -> str:
    ports = ", ".join(
        f"{p.port}/{p.protocol}→{p.target_port}" + (f" node {p.node_port}" if p.node_port else "")
        for p in service.ports
    )
    trouble = problems.of(service.key, checks.SERVICE_NO_ENDPOINTS)
    rows = [
        _cell(f"{_e(service.name)}.{_e(service.namespace)}", RED if trouble else SERVICE, True),
        _cell(f"{_e(service.type)} {_e(service.cluster_ip or '-')} {_e(ports)}"),
    ]
    rows += [_cell(_e(p.message), RED) for p in trouble]
    return _table(rows, RED if trouble else SERVICE)


def _problems_node(problems: list[Problem]) -> str:
    if not problems:
        rows = [_cell("no problems found", BRIDGE, bold=True)]
        return f"problems [shape=plain label={_table(rows, BRIDGE)}];"
    rows = [_cell(f"{len(problems)} problem{'s' if len(problems) > 1 else ''}", RED, bold=True)]
    rows += [_cell(_e(p.message), RED) for p in problems]
    return f"problems [shape=plain label={_table(rows, RED)}];"


def _policies_node(model: ClusterMap) -> str | None:
    if not model.network_policies:
        return None
    isolated = ", ".join(model.isolated_namespaces()) or "none"
    rows = [_cell(f"NetworkPolicies · isolated namespaces: {_e(isolated)}", ISOLATED, True)]
    for policy in model.network_policies:
        selects = policy.pod_selector or "all pods"
        types = "/".join(policy.policy_types)
        rows.append(
            _cell(f"{_e(policy.namespace)}/{_e(policy.name)}: {types} of {_e(selects)}", bold=True)
        )
        if policy.isolates_ingress():
            rows.append(_cell("admits: " + _e("; ".join(policy.admits) or "nothing")))
        if "Egress" in policy.policy_types:
            rows.append(_cell("egress to: " + _e("; ".join(policy.allows_egress_to) or "nothing")))
    return f"policies [shape=plain label={_table(rows, ISOLATED)}];"


def _ingress_lines(model: ClusterMap) -> list[str]:
    controller = model.ingress_controller
    if controller is None and not model.ingresses:
        return []
    lines = [
        "subgraph cluster_ingress {",
        f'label="ingress"; color="{INGRESS}"; fontcolor="{INGRESS}";',
    ]
    if controller is not None:
        classes = ", ".join(controller.classes) or "none"
        ports = ", ".join(str(p) for p in controller.node_ports) or "none"
        rows = [
            _cell(f"ingress controller · {_e(controller.namespace)}", INGRESS, True),
            _cell(f"IngressClass {_e(classes)} · NodePorts {_e(ports)}"),
            _cell(f"pods: {len(controller.pods)}"),
        ]
        lines.append(f"ingress_controller [shape=plain label={_table(rows, INGRESS)}];")
    for ingress in model.ingresses:
        rows = [_cell(f"Ingress {_e(ingress.namespace)}/{_e(ingress.name)}", INGRESS, True)]
        rows += [_cell(_e(f"{r.host}{r.path} → {r.service}:{r.port}")) for r in ingress.rules]
        lines.append(
            f"{_id('ingress', ingress.namespace, ingress.name)} "
            f"[shape=plain label={_table(rows, INGRESS)}];"
        )
    lines.append("}")
    for ingress in model.ingresses:
        if controller is not None:
            lines.append(
                f"ingress_controller -> {_id('ingress', ingress.namespace, ingress.name)} "
                f'[color="{INGRESS}"];'
            )
        for rule in ingress.rules:
            target = next(
                (
                    s
                    for s in model.services
                    if (s.namespace, s.name) == (ingress.namespace, rule.service)
                ),
                None,
            )
            if target is not None:
                lines.append(
                    f"{_id('ingress', ingress.namespace, ingress.name)} -> "
                    f'{_id("svc", target.key)} [color="{INGRESS}"];'
                )
    return lines


def _endpoint_edges(model: ClusterMap) -> list[str]:
    pods = {(p.namespace, p.name): p for p in model.pods if not p.host_network}
    drawn = {n.name for n in model.nodes}
    by_address = {n.address: n.name for n in model.nodes if n.address}
    lines = []
    for service in model.services:
        seen: set[str] = set()
        for endpoint in service.endpoints:
            pod = pods.get((service.namespace, endpoint.pod or ""))
            if pod is not None:
                target = _id("pod", pod.namespace, pod.name)
            elif (node := endpoint.node or by_address.get(endpoint.ip)) in drawn:
                target = _id("node", node or "", "host")
            else:
                continue
            if target in seen:
                continue
            seen.add(target)
            style = "dashed" if endpoint.ready else "dotted"
            lines.append(
                f"{_id('svc', service.key)} -> {target} "
                f'[color="{SERVICE}" style={style} arrowsize=0.6 constraint=false];'
            )
    return lines


def _tunnel_edges(model: ClusterMap, problems: _Problems) -> list[str]:
    """One VXLAN edge per pair of flannel.1 devices: blue both ways when both nodes route
    to each other, else red from the node that cannot, with its reason."""
    overlay = [n for n in model.nodes if n.state and n.state.flannel]
    lines = []
    for i, node in enumerate(overlay):
        for peer in overlay[i + 1 :]:
            ends = (_id("node", node.name, "flannel"), _id("node", peer.name, "flannel"))
            forward = problems.between(node.name, peer.name)
            backward = problems.between(peer.name, node.name)
            if not forward and not backward:
                lines.append(
                    f"{ends[0]} -> {ends[1]} "
                    f'[dir=both color="{VXLAN}" label="VXLAN" fontcolor="{VXLAN}" '
                    "constraint=false];"
                )
                continue
            tail, head = ends if forward else ends[::-1]
            reasons = "\n".join(_short(p) for p in (*forward, *backward))
            lines.append(
                f"{tail} -> {head} [dir={'both' if forward and backward else 'forward'} "
                f'color="{RED}" penwidth=2 label={_id(reasons)} fontcolor="{RED}" '
                "constraint=false];"
            )
    return lines


def _short(problem: Problem) -> str:
    return re.sub(r" \(expected .*\)$", "", problem.message)


def _node_cluster(
    node: Node, model: ClusterMap, found: _Problems, fills: dict[str, str], isolated: set[str]
) -> list[str]:
    """One node: its host network, its pods on cni0 through veth pairs, cni0, flannel.1."""
    trouble = found.of(node.name, *NODE_KINDS)
    host, bridge, flannel = (_id("node", node.name, part) for part in ("host", "cni0", "flannel"))
    lines = [
        f"subgraph {_id('cluster_node_' + node.name)} {{",
        f'label={_node_label(node, found)}; color="{RED if trouble else GREY}"; '
        f"penwidth={2 if trouble else 1};",
        f"{host} [shape=plain label={_host_label(node, model, found)}];",
        f"{flannel} [shape=plain label={_flannel_label(node, model, found)}];",
    ]
    cni0 = node.state.cni0 if node.state else None
    bridge_color = RED if found.of(node.name, checks.CNI0_MISMATCH) else BRIDGE
    label = f"{BRIDGE_DEVICE} {cni0 or '(none: no pods yet)'}"
    lines.append(f"{bridge} {_attrs(label=label, color=bridge_color, fontcolor=bridge_color)};")
    range_label = f"pod range {node.pod_cidr or '(none)'}"
    lines += [
        f"subgraph {_id('cluster_pods_' + node.name)} {{",
        f'label={_id(range_label)}; color="{BRIDGE}"; fontcolor="{BRIDGE}"; '
        "style=rounded; penwidth=1;",
    ]
    pods = [p for p in model.pods_on(node.name) if not p.host_network]
    ends = [_id("pod", p.namespace, p.name) for p in pods]
    lines += [_pod_lines(p, fills[p.namespace], p.namespace in isolated) for p in pods]
    if not pods:
        ends = [_id("node", node.name, "nopods")]
        lines.append(f'{ends[0]} [label="no pods" style=dotted];')
    lines.append("}")
    veth = f'[arrowhead=none color="{BRIDGE}" label="veth"]' if pods else "[style=invis]"
    lines += [f"{end} -> {bridge} {veth};" for end in ends]
    lines += [f'{bridge} -> {flannel} [arrowhead=none style=dotted label="routes"];', "}"]
    return lines


def _other_host(host: Host, found: _Problems) -> str:
    trouble = found.of(host.name, checks.NODE_NOT_JOINED)
    rows = [
        _cell(_e(host.name), RED if trouble else None, True),
        _cell(f"{_e(host.address or '?')} · {_e(', '.join(host.groups) or 'host')}"),
    ]
    rows += [_cell(_e(p.message), RED) for p in trouble]
    return f"{_id('host', host.name)} [shape=plain label={_table(rows, RED if trouble else GREY)}];"


def _services_cluster(model: ClusterMap, found: _Problems) -> list[str]:
    if not model.services:
        return []
    return [
        "subgraph cluster_services {",
        'label="Services · kube-proxy NAT from ClusterIP and NodePort to endpoints"; '
        f'color="{SERVICE}"; fontcolor="{SERVICE}";',
        *(
            f"{_id('svc', s.key)} [shape=plain label={_service_label(s, found)}];"
            for s in model.services
        ),
        "}",
    ]


def dot(model: ClusterMap, problems: list[Problem]) -> str:
    """The map as a Graphviz digraph."""
    found = _Problems(problems)
    fills = _namespace_fills(model)
    isolated = set(model.isolated_namespaces())
    title = (
        f'<<b>kubesmith map · cluster {_e(model.cluster)}</b><br align="left"/>'
        f"API {_e(model.api_server or '?')}"
        f" · cluster DNS {_e(model.dns.ip or '?')} ({_e(model.dns.source)})"
        f' · pod network {_e(model.pod_network or "?")}<br align="left"/>>'
    )
    network = f"node network {model.node_network}" if model.node_network else "node network"
    lines = [
        f"digraph {_id('kubesmith map ' + model.cluster)} {{",
        f'graph [fontname="{FONT}" fontsize=13 labelloc=t labeljust=l compound=true '
        f"newrank=true nodesep=0.3 ranksep=0.45 label={title}];",
        f'node [fontname="{FONT}" fontsize=10 shape=box style="rounded,filled" '
        f'fillcolor=white color="{GREY}"];',
        f'edge [fontname="{FONT}" fontsize=9 color="{GREY}"];',
        _problems_node(problems),
        *([policies] if (policies := _policies_node(model)) else []),
        *_ingress_lines(model),
        *_services_cluster(model, found),
        "subgraph cluster_node_network {",
        f"label={_id(network)}; style=dashed;",
    ]
    for node in model.nodes:
        lines += _node_cluster(node, model, found, fills, isolated)
    lines += [_other_host(host, found) for host in model.other_hosts]
    lines.append("}")
    lines += _layout_edges(model)
    lines += _endpoint_edges(model)
    lines += _tunnel_edges(model, found)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _layout_edges(model: ClusterMap) -> list[str]:
    """Invisible edges that stack the picture: problems and policies, Services, then the
    nodes side by side in name order, each with its host network above its pods."""
    top = ["problems", *(["policies"] if model.network_policies else [])]
    middle = [_id("svc", model.services[0].key)] if model.services else top
    hosts = [_id("node", n.name, "host") for n in model.nodes]
    hosts += [_id("host", h.name) for h in model.other_hosts]
    lines = [f"{a} -> {b} [style=invis];" for a in top for b in middle if a != b]
    if len(model.services) > 1:
        lines.append("{rank=same; " + " ".join(_id("svc", s.key) for s in model.services) + "}")
    lines += [f"{middle[0]} -> {host} [style=invis];" for host in hosts]
    if len(hosts) > 1:
        lines.append("{rank=same; " + " -> ".join(hosts) + " [style=invis];}")
    for node in model.nodes:
        pods = [p for p in model.pods_on(node.name) if not p.host_network]
        first = _id("pod", pods[0].namespace, pods[0].name) if pods else None
        below = first or _id("node", node.name, "nopods")
        lines.append(f"{_id('node', node.name, 'host')} -> {below} [style=invis];")
    return lines


def svg(dot_text: str) -> str:
    """Graphviz's SVG for a DOT text."""
    return run(["dot", "-Tsvg"], what="draw the map with Graphviz", input_text=dot_text).stdout


def text(model: ClusterMap, problems: list[Problem]) -> str:
    """The map in a terminal: nodes, services, ingress, policies, then the problems."""
    out = [
        f"cluster {model.cluster}  API {model.api_server or '?'}  "
        f"cluster DNS {model.dns.ip or '?'} ({model.dns.source})",
        f"nodes ({model.node_network or 'node network'}, pod network {model.pod_network or '?'}):",
    ]
    for node in model.nodes:
        state = "Ready" if node.ready else "NotReady"
        out.append(
            f"  {node.name}  {node.address or '?'}  {state}  "
            f"pods {node.pod_cidr or '-'}  "
            f"cni0 {node.state.cni0 if node.state and node.state.cni0 else '-'}"
        )
        if node.state is None:
            out.append(f"    not read: {node.state_error}")
            continue
        device = node.state.flannel
        if device is None:
            out.append(f"    {FLANNEL_DEVICE}: missing")
        else:
            out.append(
                f"    {FLANNEL_DEVICE}: VTEP {device.mac} at "
                f"{node.vtep.public_ip or device.local_ip or '?'}:{device.port} VNI {device.vni}"
            )
        overlay = [
            f"{r.destination} via {r.gateway}"
            for r in node.state.routes
            if r.device == FLANNEL_DEVICE
        ]
        out.append(f"    routes via {FLANNEL_DEVICE}: {', '.join(overlay) or 'none'}")
        out.append(f"    resolv.conf: nameserver {', '.join(node.state.nameservers()) or 'none'}")
        pods = model.pods_on(node.name)
        on_bridge = sum(1 for p in pods if not p.host_network)
        out.append(f"    pods: {on_bridge} on cni0, {len(pods) - on_bridge} on the host network")
    for host in model.other_hosts:
        out.append(f"  {host.name}  {host.address or '?'}  ({', '.join(host.groups)})")
    if model.services:
        out.append("services:")
    for service in model.services:
        ports = ", ".join(
            f"{p.port}/{p.protocol}" + (f" node {p.node_port}" if p.node_port else "")
            for p in service.ports
        )
        endpoints = ", ".join(
            f"{e.ip}{'' if e.ready else ' (not ready)'}" for e in service.endpoints
        )
        out.append(
            f"  {service.key}  {service.type} {service.cluster_ip or '-'}  {ports}  "
            f"endpoints: {endpoints or 'none'}"
        )
    if model.ingress_controller is not None:
        controller = model.ingress_controller
        out.append(
            f"ingress controller: {controller.namespace}  classes "
            f"{', '.join(controller.classes) or '-'}  NodePorts "
            f"{', '.join(str(p) for p in controller.node_ports) or '-'}"
        )
    for ingress in model.ingresses:
        rules = ", ".join(f"{r.host}{r.path} -> {r.service}:{r.port}" for r in ingress.rules)
        out.append(f"ingress {ingress.namespace}/{ingress.name}: {rules}")
    if model.network_policies:
        out.append(f"isolated namespaces: {', '.join(model.isolated_namespaces()) or 'none'}")
    for policy in model.network_policies:
        admits = "; ".join(policy.admits) or "nothing"
        out.append(f"  {policy.namespace}/{policy.name}: admits {admits}")
    if problems:
        out.append(f"problems ({len(problems)}):")
        out += [f"  - {p.message}" for p in problems]
    else:
        out.append("no problems found")
    return "\n".join(out) + "\n"


def as_json(model: ClusterMap, problems: list[Problem]) -> str:
    return json.dumps(to_dict(model, problems), indent=2) + "\n"


def html_page(model: ClusterMap, problems: list[Problem], svg_text: str) -> str:
    """One self-contained page: the picture inline, the problems and the text view."""
    inline = re.sub(r"^.*?(?=<svg)", "", svg_text, count=1, flags=re.DOTALL)
    if problems:
        items = "".join(f"<li>{_e(p.message)}</li>" for p in problems)
        listing = f'<h2 class="bad">{len(problems)} problem(s)</h2><ul class="bad">{items}</ul>'
    else:
        listing = '<h2 class="good">no problems found</h2>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kubesmith map: {_e(model.cluster)}</title>
<style>
body {{ font-family: "{FONT}", sans-serif; margin: 1.5em; color: #212121; }}
.bad {{ color: {RED}; }}
.good {{ color: {BRIDGE}; }}
.picture svg {{ max-width: 100%; height: auto; }}
pre {{ background: #f5f5f5; padding: 1em; overflow-x: auto; }}
</style>
</head>
<body>
<h1>kubesmith map: cluster {_e(model.cluster)}</h1>
{listing}
<div class="picture">
{inline}
</div>
<h2>As text</h2>
<pre>{_e(text(model, problems))}</pre>
</body>
</html>
"""
