#!/usr/bin/python
"""Validate a kubesmith inventory before any host is touched."""

import ipaddress
import re

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: kubesmith_preflight
short_description: Validate a kubesmith inventory as a whole
description:
  - Checks groups, network ranges, addresses, names and versions together and
    reports every problem at once, each naming the variable or host to fix.
  - Runs on the controller; it contacts no host.
options:
  groups:
    description: Group name to list of hosts, as Ansible's C(groups).
    type: dict
    required: true
  hosts:
    description:
      - One C([name, kube_node_ip, ansible_host]) triple per host; the node
        address is the first of the last two that is set, else the name.
    type: list
    elements: list
    required: true
  pod_subnet:
    description: Pod network (C(kube_pod_subnet)).
    type: str
    required: true
  service_subnet:
    description: Service network (C(kube_service_subnet)).
    type: str
    required: true
  dns_ip:
    description: Cluster DNS service IP (C(kube_dns_ip)).
    type: str
    required: true
  node_network:
    description: Optional network all node addresses must be in (C(kube_node_network)).
    type: str
  node_subnet_prefix:
    description: Size of each node's pod range (flannel C(SubnetLen)).
    type: int
    default: 24
  cluster_domain:
    description: Cluster DNS domain (C(kube_cluster_domain)).
    type: str
    required: true
  control_plane_endpoint:
    description: Load balancer or VIP address for the API (C(kube_control_plane_endpoint)).
    type: str
    default: ""
  versions:
    description: Variable name to version string, for every pinned version.
    type: dict
    default: {}
  policy_engine:
    description:
      - The NetworkPolicy engine (C(pod_network_policy_engine)); unchecked when
        not given (the pod_network role's default applies).
    type: str
author: kubesmith maintainers
"""

REQUIRED_GROUPS = ("etcd", "control_plane", "workers")
POLICY_ENGINES = ("calico", "kube-network-policies")
VERSION_RE = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
HOSTNAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DOMAIN_RE = re.compile(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)


def _network(value, var, errors):
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        errors.append(
            f"{var}: '{value}' is not a network in CIDR form with host bits zero "
            f"(e.g. 10.244.0.0/16)"
        )
        return None
    if net.version != 4:
        errors.append(f"{var}: '{value}' is IPv6; kubesmith builds IPv4 clusters")
        return None
    return net


def check_groups(groups, errors):
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


def check_networks(params, errors):
    pod = _network(params["pod_subnet"], "kube_pod_subnet", errors)
    svc = _network(params["service_subnet"], "kube_service_subnet", errors)
    node = None
    if params.get("node_network"):
        node = _network(params["node_network"], "kube_node_network", errors)
    named = [("kube_pod_subnet", pod), ("kube_service_subnet", svc), ("kube_node_network", node)]
    present = [(n, v) for n, v in named if v is not None]
    for i, (name_a, a) in enumerate(present):
        for name_b, b in present[i + 1 :]:
            if a.overlaps(b):
                errors.append(
                    f"{name_a} {a} overlaps {name_b} {b}: choose ranges that do not overlap"
                )
    prefix = params["node_subnet_prefix"]
    if pod is not None and pod.prefixlen >= prefix:
        errors.append(
            f"kube_pod_subnet {pod} is too small: each node gets a /{prefix}, so the pod "
            f"network needs a prefix shorter than /{prefix} (e.g. /16)"
        )
    if svc is not None and svc.prefixlen > 28:
        errors.append(f"kube_service_subnet {svc} is too small: use at most a /28 (e.g. /12)")
    if svc is not None and svc.prefixlen < 12:
        errors.append(
            f"kube_service_subnet {svc} is too large: kube-apiserver accepts at most a /12"
        )
    try:
        dns = ipaddress.ip_address(params["dns_ip"])
    except ValueError:
        errors.append(f"kube_dns_ip: '{params['dns_ip']}' is not an IP address")
        dns = None
    if dns is not None and svc is not None:
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
    return pod, svc, node


def check_hosts(hosts, nets, errors):
    pod, svc, node = nets
    seen_ip = {}
    seen_name = {}
    for name, node_ip, ansible_host in hosts:
        address = node_ip or ansible_host or name
        short = name.split(".")[0].lower()
        if not HOSTNAME_RE.match(short):
            errors.append(
                f"host '{name}': not a valid node name (lowercase letters, digits and '-')"
            )
        if short in seen_name:
            errors.append(
                f"host '{name}': node name '{short}' is used by '{seen_name[short]}' too; "
                f"node names must be unique"
            )
        seen_name.setdefault(short, name)
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            errors.append(
                f"host '{name}': address '{address}' is not an IP; set ansible_host "
                f"or kube_node_ip to the node's private IP"
            )
            continue
        if addr in seen_ip:
            errors.append(
                f"host '{name}': address {addr} is used by '{seen_ip[addr]}' too; "
                f"every node needs its own IP (ansible_host / kube_node_ip)"
            )
        seen_ip.setdefault(addr, name)
        for var, net in (("kube_pod_subnet", pod), ("kube_service_subnet", svc)):
            if net is not None and addr in net:
                errors.append(
                    f"host '{name}': address {addr} is inside {var} {net}: move one of them"
                )
        if node is not None and addr not in node:
            errors.append(f"host '{name}': address {addr} is outside kube_node_network {node}")


def check_misc(params, groups, errors):
    domain = params["cluster_domain"]
    if not DOMAIN_RE.match(domain or ""):
        errors.append(f"kube_cluster_domain: '{domain}' is not a DNS domain (e.g. cluster.local)")
    if len(groups.get("control_plane", [])) > 1 and not params["control_plane_endpoint"]:
        errors.append(
            "kube_control_plane_endpoint is empty but control_plane has "
            f"{len(groups['control_plane'])} hosts: set it to the load balancer or VIP "
            "address (host:port) in front of them"
        )
    for var, value in sorted(params["versions"].items()):
        if not VERSION_RE.match(str(value)):
            errors.append(f"{var}: '{value}' is not a version like 1.2.3 or v1.2.3")
    engine = params.get("policy_engine")
    if engine is not None and engine not in POLICY_ENGINES:
        errors.append(
            f"pod_network_policy_engine: '{engine}' is not a NetworkPolicy engine kubesmith "
            f"knows; choose calico (Canal, needs the quay.io/calico images) or "
            f"kube-network-policies (built by the offline bundle)"
        )


def validate(params):
    """Every problem with the inventory, as messages a user can act on."""
    errors = []
    groups = params["groups"]
    check_groups(groups, errors)
    nets = check_networks(params, errors)
    check_hosts(params["hosts"], nets, errors)
    check_misc(params, groups, errors)
    return errors


def main():
    module = AnsibleModule(
        argument_spec={
            "groups": {"type": "dict", "required": True},
            "hosts": {"type": "list", "elements": "list", "required": True},
            "pod_subnet": {"type": "str", "required": True},
            "service_subnet": {"type": "str", "required": True},
            "dns_ip": {"type": "str", "required": True},
            "node_network": {"type": "str"},
            "node_subnet_prefix": {"type": "int", "default": 24},
            "cluster_domain": {"type": "str", "required": True},
            "control_plane_endpoint": {"type": "str", "default": ""},
            "versions": {"type": "dict", "default": {}},
            "policy_engine": {"type": "str"},
        },
        supports_check_mode=True,
    )
    errors = validate(module.params)
    if errors:
        module.fail_json(msg="inventory check failed:\n- " + "\n- ".join(errors), errors=errors)
    module.exit_json(changed=False, msg="inventory is valid")


if __name__ == "__main__":
    main()
