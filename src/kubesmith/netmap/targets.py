"""What `kubesmith map` needs from an inventory: how to reach each node and the API.

Values come from ``ansible-inventory --list`` over the role defaults in
roles/kube/defaults/main/ (the lowest precedence, as in a play), and simple
templates such as ``kube_node_ip: "{{ vagrant_ip }}"`` are rendered the way
Ansible would; a template that needs Ansible's own filters or facts counts as
unset.
"""

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import yaml

from kubesmith.inventory import host_groups, host_names
from kubesmith.netmap.model import NODE_GROUPS

REPO = Path(__file__).resolve().parents[3]
ROLE_DEFAULTS = REPO / "roles" / "kube" / "defaults" / "main"
_TEMPLATES = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
_TEMPLATE_PASSES = 5


@dataclass(frozen=True)
class SshTarget:
    """One inventory host as Ansible's ssh connection reaches it."""

    name: str
    host: str
    node_ip: str | None
    groups: tuple[str, ...]
    port: int | None = None
    user: str | None = None
    key: str | None = None
    options: tuple[str, ...] = ()

    def argv(self, remote_command: str) -> list[str]:
        """The ssh command line that runs ``remote_command`` on this host, never prompting."""
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5"]
        if self.port:
            argv += ["-p", str(self.port)]
        if self.key:
            argv += ["-i", self.key]
        if self.user:
            argv += ["-l", self.user]
        return [*argv, *self.options, "--", self.host, remote_command]


@dataclass(frozen=True)
class MapTarget:
    """The cluster an inventory describes, as `kubesmith map` reaches it."""

    cluster: str
    kubeconfig: Path
    dns_ip: str | None
    node_network: str
    pod_network: str
    ingress_namespace: str | None
    nodes: tuple[SshTarget, ...]
    other_hosts: tuple[SshTarget, ...]


def role_defaults(directory: Path = ROLE_DEFAULTS) -> dict[str, Any]:
    """The cluster-wide defaults every role sees (empty where the roles are not beside us)."""
    merged: dict[str, Any] = {}
    for path in sorted(directory.glob("*.yml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return merged


def rendered(variables: dict[str, Any], key: str) -> Any:
    """A variable with its templates rendered; None when unset or not renderable here."""
    value = variables.get(key)
    for _ in range(_TEMPLATE_PASSES):
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        try:
            value = _TEMPLATES.from_string(value).render(variables).strip()
        except (jinja2.TemplateError, TypeError, ValueError):
            return None
    return None


def _text(variables: dict[str, Any], key: str) -> str | None:
    value = rendered(variables, key)
    return str(value) if value not in (None, "") else None


def _target(name: str, variables: dict[str, Any], groups: list[str]) -> SshTarget:
    options = [
        *shlex.split(_text(variables, "ansible_ssh_common_args") or ""),
        *shlex.split(_text(variables, "ansible_ssh_extra_args") or ""),
    ]
    port = _text(variables, "ansible_port") or _text(variables, "ansible_ssh_port")
    host = _text(variables, "ansible_host") or name
    return SshTarget(
        name=name,
        host=host,
        node_ip=_text(variables, "kube_node_ip") or host,
        groups=tuple(groups),
        port=int(port) if port else None,
        user=_text(variables, "ansible_user") or _text(variables, "ansible_ssh_user"),
        key=_text(variables, "ansible_ssh_private_key_file"),
        options=tuple(options),
    )


def map_target(
    raw: dict[str, Any], source: Path, defaults: dict[str, Any] | None = None
) -> MapTarget:
    """Read the cluster's settings and every host's SSH settings from an inventory."""
    base = role_defaults() if defaults is None else defaults
    hostvars: dict[str, dict[str, Any]] = raw.get("_meta", {}).get("hostvars", {})
    membership = host_groups(raw)
    names = host_names(raw, source)
    variables = {name: {**base, **hostvars.get(name, {})} for name in names}
    targets = [_target(name, variables[name], membership.get(name, [])) for name in names]
    nodes = tuple(t for t in targets if set(t.groups) & set(NODE_GROUPS))
    others = tuple(t for t in targets if t not in nodes)
    first = variables[nodes[0].name] if nodes else variables[names[0]]
    cluster = _text(first, "kube_cluster_name") or "kubesmith"
    artifacts = _text(first, "kube_artifacts_dir")
    admin = _text(first, "kube_admin_conf_local")
    kubeconfig = Path(admin or Path(artifacts or REPO / "artifacts" / cluster) / "admin.conf")
    return MapTarget(
        cluster=cluster,
        kubeconfig=kubeconfig,
        dns_ip=_text(first, "kube_dns_ip"),
        node_network=_text(first, "kube_node_network") or "",
        pod_network=_text(first, "kube_pod_subnet") or "",
        ingress_namespace=_text(first, "kube_ingress_namespace"),
        nodes=nodes,
        other_hosts=others,
    )
