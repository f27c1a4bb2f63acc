"""Rules the argument specs cannot express: ranges, patterns and cross-field checks.

Each check reads one host's view of the settings (its typed, effective values)
and appends messages that name the variable and the fix. A value that could not
be evaluated is absent from the view and its rules are skipped (the evaluation
error is reported instead).
"""

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REQUIRED_GROUPS = ("etcd", "control_plane", "workers")
NODE_PORT_RANGE = (30000, 32767)
NODE_PORT_SETTINGS = (
    "kube_ingress_http_node_port",
    "kube_ingress_https_node_port",
    "demo_app_node_port",
)
PORT_SETTINGS = ("kube_api_port", "etcd_client_port", "etcd_peer_port", "pod_network_vxlan_port")
VXLAN_OVERHEAD = 50
# The kubelet runs up to 110 pods a node by default; each needs an address.
MAX_PODS_PER_NODE = 110
# Object names that must be DNS labels (RFC 1123): namespaces, Service names,
# and the cluster name (kubeconfig context, file names, etcd token).
DNS_LABEL_SETTINGS = (
    "kube_cluster_name",
    "kube_ingress_namespace",
    "demo_app_namespace",
    "demo_app_name",
)
DNS_LABEL_LIST_SETTINGS = (
    "network_policies_isolated_namespaces",
    "network_policies_allow_from_namespaces",
)
DNS_SUBDOMAIN_SETTINGS = ("ingress_class", "demo_app_ingress_class", "demo_app_ingress_host")
CIDR_LIST_SETTINGS = ("network_policies_allow_cidrs",)
POSITIVE_INT_SETTINGS = ("demo_app_replicas", "ingress_replicas", "api_loadbalancer_check_interval")
ABSOLUTE_PATH_SUFFIXES = ("_dir", "_path")
PROXY_SETTINGS = ("containerd_http_proxy", "containerd_https_proxy")

VERSION_RE = re.compile(r"^v?\d+\.\d+(\.\d+)?(-[0-9A-Za-z.-]+)?$")
LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
DNS_LABEL_RE = re.compile(rf"^{LABEL}$")
DNS_SUBDOMAIN_RE = re.compile(rf"^{LABEL}(\.{LABEL})*$")
HOST_RE = re.compile(rf"^({LABEL}(\.{LABEL})*|\d{{1,3}}(\.\d{{1,3}}){{3}})$", re.IGNORECASE)
URL_RE = re.compile(r"^(?P<scheme>https?)://(?P<host>[^/:]+)(:(?P<port>\d+))?(?P<path>/.*)?$")
GO_DURATION_RE = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")
RELATIVE_TIME_RE = re.compile(r"^\+\d+[wdhms]$")
IFNAME_RE = re.compile(r"^[^/\s:]{1,15}$")
# keepalived's configuration syntax ends a word at whitespace and a comment at
# '#' or '!'; VRRPv2 carries at most 8 characters of password.
VRRP_PASSWORD_RE = re.compile(r"^[^\s#!\"'{}]{1,8}$")
DURATION_SETTINGS = ("worker_token_ttl", "control_plane_join_token_ttl")


@dataclass(frozen=True)
class Node:
    name: str
    address: str


@dataclass(frozen=True)
class View:
    """The inventory as one host sees it: groups, node addresses, typed settings."""

    groups: Mapping[str, Sequence[str]]
    nodes: Sequence[Node]
    settings: Mapping[str, Any]

    def get(self, name: str) -> Any:
        return self.settings.get(name)

    def has(self, name: str) -> bool:
        return self.settings.get(name) is not None


Check = Callable[[View, list[str]], None]


def _network(value: object, var: str, errors: list[str]) -> ipaddress.IPv4Network | None:
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        errors.append(
            f"{var}: '{value}' is not a network in CIDR form with host bits zero "
            f"(e.g. 10.244.0.0/16)"
        )
        return None
    if not isinstance(net, ipaddress.IPv4Network):
        errors.append(f"{var}: '{value}' is IPv6; kubesmith builds IPv4 clusters")
        return None
    return net


def _port(value: object) -> int | None:
    try:
        port = int(str(value))
    except ValueError:
        return None
    return port if 1 <= port <= 65535 else None


def check_groups(view: View, errors: list[str]) -> None:
    groups = view.groups
    for name in REQUIRED_GROUPS:
        if name not in groups:
            errors.append(
                f"group '{name}' is missing: add it to hosts.yml (see inventory/sample/hosts.yml)"
            )
    for name in ("etcd", "control_plane"):
        if name in groups and not groups[name]:
            errors.append(f"group '{name}' has no hosts: add at least one")
    etcd = groups.get("etcd", [])
    if etcd and len(etcd) % 2 == 0:
        errors.append(
            f"group 'etcd' has {len(etcd)} hosts: etcd needs an odd number (1, 3 or 5) "
            f"to keep quorum; add or remove one"
        )
    both = set(groups.get("control_plane", [])) & set(groups.get("workers", []))
    for host in sorted(both):
        errors.append(f"host '{host}' is in both control_plane and workers: keep it in one")


def _networks(view: View, errors: list[str]) -> dict[str, ipaddress.IPv4Network]:
    nets: dict[str, ipaddress.IPv4Network] = {}
    for var in ("kube_pod_subnet", "kube_service_subnet", "kube_node_network"):
        if view.get(var):
            net = _network(view.get(var), var, errors)
            if net is not None:
                nets[var] = net
    return nets


def check_networks(view: View, errors: list[str]) -> None:
    nets = _networks(view, errors)
    named = list(nets.items())
    for i, (name_a, a) in enumerate(named):
        for name_b, b in named[i + 1 :]:
            if a.overlaps(b):
                errors.append(
                    f"{name_a} {a} overlaps {name_b} {b}: choose ranges that do not overlap"
                )
    _check_pod_capacity(view, nets.get("kube_pod_subnet"), errors)
    svc = nets.get("kube_service_subnet")
    if svc is not None and svc.prefixlen > 28:
        errors.append(f"kube_service_subnet {svc} is too small: use at most a /28 (e.g. /12)")
    if svc is not None and svc.prefixlen < 12:
        errors.append(
            f"kube_service_subnet {svc} is too large: kube-apiserver accepts at most a /12"
        )
    _check_dns_ip(view, svc, errors)


def _check_pod_capacity(view: View, pod: ipaddress.IPv4Network | None, errors: list[str]) -> None:
    prefix = view.get("kube_node_pod_prefix")
    if pod is None or prefix is None:
        return
    if pod.prefixlen >= prefix:
        errors.append(
            f"kube_pod_subnet {pod} is too small: each node gets a /{prefix}, so the pod "
            f"network needs a prefix shorter than /{prefix} (e.g. /16)"
        )
        return
    usable = 2 ** (32 - prefix) - 2
    if usable < MAX_PODS_PER_NODE:
        errors.append(
            f"kube_node_pod_prefix /{prefix} gives each node {usable} pod addresses, fewer "
            f"than the kubelet's {MAX_PODS_PER_NODE} pods per node: use /25 or shorter (e.g. /24)"
        )
    ranges = 2 ** (prefix - pod.prefixlen)
    nodes = len(view.groups.get("k8s_cluster", [])) or len(
        set(view.groups.get("control_plane", [])) | set(view.groups.get("workers", []))
    )
    if nodes > ranges:
        errors.append(
            f"kube_pod_subnet {pod} holds {ranges} node ranges of /{prefix} but the cluster has "
            f"{nodes} nodes: widen kube_pod_subnet or lengthen kube_node_pod_prefix"
        )


def _check_dns_ip(view: View, svc: ipaddress.IPv4Network | None, errors: list[str]) -> None:
    if not view.has("kube_dns_ip"):
        return
    try:
        dns = ipaddress.ip_address(str(view.get("kube_dns_ip")))
    except ValueError:
        errors.append(f"kube_dns_ip: '{view.get('kube_dns_ip')}' is not an IP address")
        return
    if svc is None:
        return
    if dns not in svc:
        errors.append(
            f"kube_dns_ip {dns} is outside kube_service_subnet {svc}: pick an address "
            f"inside it (by convention the tenth, e.g. {svc.network_address + 10})"
        )
    elif dns in (svc.network_address, svc.network_address + 1, svc.broadcast_address):
        errors.append(
            f"kube_dns_ip {dns} is reserved in {svc} (network, broadcast or the API "
            f"service's first address): use e.g. {svc.network_address + 10}"
        )


def check_hosts(view: View, errors: list[str]) -> None:
    quiet: list[str] = []
    nets = _networks(view, quiet)
    seen_ip: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, str] = {}
    seen_name: dict[str, str] = {}
    for node in view.nodes:
        short = node.name.split(".")[0].lower()
        if not DNS_LABEL_RE.match(short):
            errors.append(
                f"host '{node.name}': not a valid node name (lowercase letters, digits and '-')"
            )
        if short in seen_name:
            errors.append(
                f"host '{node.name}': node name '{short}' is used by '{seen_name[short]}' too; "
                f"node names must be unique"
            )
        seen_name.setdefault(short, node.name)
        try:
            addr = ipaddress.ip_address(node.address)
        except ValueError:
            errors.append(
                f"host '{node.name}': address '{node.address}' is not an IP; set ansible_host "
                f"or kube_node_ip to the node's private IP"
            )
            continue
        if addr in seen_ip:
            errors.append(
                f"host '{node.name}': address {addr} is used by '{seen_ip[addr]}' too; "
                f"every node needs its own IP (ansible_host / kube_node_ip)"
            )
        seen_ip.setdefault(addr, node.name)
        for var in ("kube_pod_subnet", "kube_service_subnet"):
            if var in nets and addr in nets[var]:
                errors.append(
                    f"host '{node.name}': address {addr} is inside {var} {nets[var]}: "
                    f"move one of them"
                )
        node_net = nets.get("kube_node_network")
        if node_net is not None and addr not in node_net:
            errors.append(
                f"host '{node.name}': address {addr} is outside kube_node_network {node_net}"
            )


def builtin_load_balancer(view: View) -> bool:
    """Whether kubesmith runs keepalived and haproxy for the endpoint: as the
    inventory says, else whenever there is more than one control plane."""
    enabled = view.get("api_loadbalancer_enabled")
    if enabled is None:
        return len(view.groups.get("control_plane", [])) > 1
    return bool(enabled)


def check_control_plane_endpoint(view: View, errors: list[str]) -> None:
    endpoint = view.get("kube_control_plane_endpoint") or ""
    cps = view.groups.get("control_plane", [])
    builtin = builtin_load_balancer(view)
    if len(cps) > 1 and not endpoint:
        errors.append(
            "kube_control_plane_endpoint is empty but control_plane has "
            f"{len(cps)} hosts: set it to the load balancer or VIP "
            "address (host:port) in front of them"
        )
    elif builtin and not endpoint:
        errors.append(
            "kube_control_plane_endpoint is empty but api_loadbalancer_enabled is true: set it "
            "to the virtual IP and port keepalived and haproxy serve (e.g. 192.168.60.100:8443)"
        )
    if not endpoint:
        return
    host, _, port = str(endpoint).rpartition(":")
    if not host or not HOST_RE.match(host) or _port(port) is None:
        errors.append(
            f"kube_control_plane_endpoint: '{endpoint}' is not host:port (e.g. 192.168.60.100:8443)"
        )
        return
    _check_endpoint_address(view, host, int(port), builtin, errors)


def _check_endpoint_address(
    view: View, host: str, port: int, builtin: bool, errors: list[str]
) -> None:
    """The endpoint's address is never in the pod or service network; as the
    virtual IP of the built-in load balancer it is also a free address of the
    node network, on another port than the API servers' own."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if builtin:
            errors.append(
                f"kube_control_plane_endpoint: '{host}' is a name, but keepalived holds an "
                f"address: write the virtual IP (e.g. 192.168.60.100:{port}), or set "
                f"api_loadbalancer_enabled: false to use your own load balancer"
            )
        return
    nets = _networks(view, [])
    for var in ("kube_pod_subnet", "kube_service_subnet"):
        if var in nets and address in nets[var]:
            errors.append(
                f"kube_control_plane_endpoint: {address} is inside {var} {nets[var]}: the "
                f"API endpoint must be an address the nodes reach on their own network"
            )
            return
    if not builtin:
        return
    node_net = nets.get("kube_node_network")
    if node_net is not None and address not in node_net:
        errors.append(
            f"kube_control_plane_endpoint: the virtual IP {address} is outside "
            f"kube_node_network {node_net}: keepalived moves it between the control planes "
            f"on that network, so pick a free address inside it"
        )
    elif node_net is not None and address in (node_net.network_address, node_net.broadcast_address):
        errors.append(
            f"kube_control_plane_endpoint: the virtual IP {address} is the network or "
            f"broadcast address of kube_node_network {node_net}: pick a free host address"
        )
    for node in view.nodes:
        if node.address == str(address):
            errors.append(
                f"kube_control_plane_endpoint: the virtual IP {address} is the address of host "
                f"'{node.name}': pick an address no machine uses"
            )
    api_port = view.get("kube_api_port")
    if api_port is not None and _port(api_port) == port:
        errors.append(
            f"kube_control_plane_endpoint: port {port} is kube_api_port too, but haproxy runs "
            f"beside each API server: give the endpoint another port (e.g. 8443)"
        )


def check_api_loadbalancer(view: View, errors: list[str]) -> None:
    ranges = (
        ("api_loadbalancer_virtual_router_id", 1, 255),
        ("api_loadbalancer_priority", 1, 254),
        ("api_loadbalancer_advert_interval", 1, 255),
    )
    for var, low, high in ranges:
        value = view.get(var)
        if value is not None and not low <= int(value) <= high:
            errors.append(f"{var}: {value} is outside {low}-{high}")
    check_interface_name(view, "api_loadbalancer_vip_interface", errors)
    password = view.get("api_loadbalancer_auth_pass")
    if password and not VRRP_PASSWORD_RE.match(str(password)):
        errors.append(
            "api_loadbalancer_auth_pass: use 1-8 characters without spaces, quotes, braces, "
            "'#' or '!' (VRRPv2 carries 8; keepalived's syntax ends a word there); the value "
            "is not shown"
        )


def check_names(view: View, errors: list[str]) -> None:
    if view.has("kube_cluster_domain") and not DNS_SUBDOMAIN_RE.match(
        str(view.get("kube_cluster_domain"))
    ):
        errors.append(
            f"kube_cluster_domain: '{view.get('kube_cluster_domain')}' is not a DNS domain "
            f"(e.g. cluster.local)"
        )
    for var in DNS_LABEL_SETTINGS:
        value = view.get(var)
        if value is not None and not DNS_LABEL_RE.match(str(value)):
            errors.append(
                f"{var}: '{value}' is not a DNS label (lowercase letters, digits and '-', "
                f"at most 63, starting and ending with a letter or digit)"
            )
    for var in DNS_LABEL_LIST_SETTINGS:
        for value in view.get(var) or []:
            if not DNS_LABEL_RE.match(str(value)):
                errors.append(
                    f"{var}: '{value}' is not a valid namespace name (a DNS label: lowercase "
                    f"letters, digits and '-')"
                )
    for var in DNS_SUBDOMAIN_SETTINGS:
        value = view.get(var)
        if value is not None and not DNS_SUBDOMAIN_RE.match(str(value)):
            errors.append(
                f"{var}: '{value}' is not a DNS name (lowercase letters, digits, '-' and '.')"
            )


def check_versions(view: View, errors: list[str], defaults: Mapping[str, Any]) -> None:
    """Versions look like versions, written the way upstream tags them: with a
    leading v where the default has one (v1.37.1), without where it has none (3.10.2)."""
    for var in sorted(n for n in view.settings if n.endswith("_version")):
        value = str(view.get(var))
        if not VERSION_RE.match(value):
            errors.append(f"{var}: '{value}' is not a version like 1.2.3 or v1.2.3")
            continue
        default = defaults.get(var)
        if not isinstance(default, str) or not VERSION_RE.match(default):
            continue
        if default.startswith("v") and not value.startswith("v"):
            errors.append(
                f"{var}: '{value}' needs the leading 'v' that upstream's tags and download "
                f"URLs use: write 'v{value}'"
            )
        elif not default.startswith("v") and value.startswith("v"):
            errors.append(
                f"{var}: '{value}' has a leading 'v' that upstream's tags for it do not: "
                f"write '{value[1:]}'"
            )
    kube_version = view.get("kube_version")
    if kube_version and (m := re.match(r"^v?(\d+)\.(\d+)", str(kube_version))):
        major, minor = int(m.group(1)), int(m.group(2))
        if (major, minor) < (1, 31):
            errors.append(
                f"kube_version: '{kube_version}' is older than v1.31, the first release whose "
                f"kubeadm reads the v1beta4 configuration kubesmith writes"
            )


def check_ports(view: View, errors: list[str]) -> None:
    for var in PORT_SETTINGS:
        value = view.get(var)
        if value is not None and _port(value) is None:
            errors.append(f"{var}: '{value}' is not a port number (1-65535)")
    low, high = NODE_PORT_RANGE
    seen: dict[int, str] = {}
    for var in NODE_PORT_SETTINGS:
        value = view.get(var)
        if value is None:
            continue
        port = _port(value)
        if port is None or not low <= port <= high:
            errors.append(
                f"{var}: '{value}' is outside the NodePort range {low}-{high}: pick a port in it"
            )
            continue
        if port in seen:
            errors.append(f"{var}: NodePort {port} is used by {seen[port]} too: pick another")
        seen.setdefault(port, var)
    if view.has("etcd_client_port") and view.get("etcd_client_port") == view.get("etcd_peer_port"):
        errors.append("etcd_peer_port: equals etcd_client_port; etcd needs two different ports")
    vni = view.get("pod_network_vxlan_vni")
    if vni is not None and not 1 <= int(vni) <= 2**24 - 1:
        errors.append(f"pod_network_vxlan_vni: {vni} is not a VXLAN network id (1-16777215)")


def check_interface_name(view: View, var: str, errors: list[str]) -> None:
    iface = view.get(var)
    if iface and not IFNAME_RE.match(str(iface)):
        errors.append(
            f"{var}: '{iface}' is not a Linux interface name "
            f"(1-15 characters, no '/', ':' or spaces)"
        )


def check_pod_network(view: View, errors: list[str]) -> None:
    mtu = view.get("pod_network_mtu")
    if mtu is not None and not 576 <= int(mtu) <= 9000 - VXLAN_OVERHEAD:
        errors.append(
            f"pod_network_mtu: {mtu} is outside 576-{9000 - VXLAN_OVERHEAD}: use the node "
            f"link's MTU minus {VXLAN_OVERHEAD} (1450 on a 1500 link)"
        )
    check_interface_name(view, "pod_network_iface", errors)
    for var in CIDR_LIST_SETTINGS:
        for value in view.get(var) or []:
            try:
                ipaddress.ip_network(str(value), strict=True)
            except ValueError:
                errors.append(
                    f"{var}: '{value}' is not a network in CIDR form (e.g. 192.168.60.1/32)"
                )


def check_mirrors(view: View, errors: list[str]) -> None:
    files = view.get("kube_files_mirror")
    if files:
        match = URL_RE.match(str(files))
        if not match or not str(files).endswith("/") or not HOST_RE.match(match["host"]):
            errors.append(
                f"kube_files_mirror: '{files}' is not an http(s) base URL ending in '/' "
                f"(e.g. http://192.168.60.1:8080/)"
            )
        elif match["port"] and _port(match["port"]) is None:
            errors.append(f"kube_files_mirror: '{files}' has an invalid port")
    registry = view.get("kube_registry_mirror")
    if registry:
        host, _, port = str(registry).partition(":")
        if "/" in str(registry) or not HOST_RE.match(host) or (port and _port(port) is None):
            errors.append(
                f"kube_registry_mirror: '{registry}' is not host or host:port without a "
                f"scheme or path (e.g. 192.168.60.1:5000)"
            )
    for upstream, endpoint in (view.get("kube_registry_upstreams") or {}).items():
        if not HOST_RE.match(str(upstream)) or not URL_RE.match(str(endpoint)):
            errors.append(
                f"kube_registry_upstreams: '{upstream}: {endpoint}' must map a registry host "
                f"to its https URL (e.g. quay.io: https://quay.io)"
            )
    for var in PROXY_SETTINGS:
        value = view.get(var)
        if value and not URL_RE.match(str(value)):
            errors.append(f"{var}: '{value}' is not an http(s) URL (e.g. http://proxy:3128)")


def check_misc(view: View, errors: list[str]) -> None:
    for var in DURATION_SETTINGS:
        ttl = view.get(var)
        if ttl is not None and (not ttl or not GO_DURATION_RE.match(str(ttl))):
            errors.append(f"{var}: '{ttl}' is not a duration like 15m, 1h or 1h30m")
    for var in ("etcd_ca_validity", "etcd_cert_validity"):
        value = view.get(var)
        if value is not None and not RELATIVE_TIME_RE.match(str(value)):
            errors.append(f"{var}: '{value}' is not a relative time like +3650d")
    for var in POSITIVE_INT_SETTINGS:
        value = view.get(var)
        if value is not None and int(value) < 1:
            errors.append(f"{var}: {value} must be at least 1")
    for var, value in sorted(view.settings.items()):
        if var.endswith("_wait_seconds") and value is not None and int(value) < 1:
            errors.append(f"{var}: {value} must be a positive number of seconds")
        if (
            var.endswith(ABSOLUTE_PATH_SUFFIXES)
            and isinstance(value, str)
            and value
            and not value.startswith("/")
        ):
            errors.append(f"{var}: '{value}' is not an absolute path")


def validate(view: View, defaults: Mapping[str, Any]) -> list[str]:
    """Every problem with one host's view of the inventory, as actionable messages."""
    errors: list[str] = []
    for check in (
        check_groups,
        check_networks,
        check_hosts,
        check_control_plane_endpoint,
        check_api_loadbalancer,
        check_names,
        check_ports,
        check_pod_network,
        check_mirrors,
        check_misc,
    ):
        check(view, errors)
    check_versions(view, errors, defaults)
    return errors
