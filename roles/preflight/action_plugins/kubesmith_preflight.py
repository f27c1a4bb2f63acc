"""Validate the whole inventory on the controller; no host is contacted.

Every host's view of the settings (its inventory and extra vars over the roles'
defaults) is typed against the roles' argument specs and checked by the rules
in kubesmith.preflight.rules; all problems are reported at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from kubesmith.preflight import report, rules, specs
from kubesmith.preflight.effective import host_settings, load_role_defaults


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        roles_dir = Path(self._task.args["roles_dir"])
        groups = {k: list(v) for k, v in task_vars["groups"].items() if k != "ungrouped"}
        hosts = list(groups.get("all", []))
        settings = specs.load_settings(roles_dir)
        defaults = load_role_defaults(self._loader, roles_dir)
        views: dict[str, tuple[dict, list[str]]] = {}
        addresses: list[rules.Node] = []
        for host in hosts:
            values, errors, provided = host_settings(
                self._templar, task_vars["hostvars"], host, settings, defaults
            )
            views[host] = (values, errors)
            address = values.get("kube_node_ip") or provided.get("ansible_host") or host
            addresses.append(rules.Node(name=host, address=str(address)))
        per_host: dict[str, list[str]] = {}
        for host, (values, errors) in views.items():
            view = rules.View(groups=groups, nodes=addresses, settings=values)
            per_host[host] = errors + rules.validate(view, defaults)
        if not hosts:
            per_host["localhost"] = rules.validate(
                rules.View(groups=groups, nodes=[], settings={}), defaults
            )
        problems = report.merge(per_host)
        result["changed"] = False
        if problems:
            result["failed"] = True
            result["msg"] = "inventory check failed:\n- " + "\n- ".join(problems)
        else:
            result["msg"] = f"inventory is valid ({len(hosts)} hosts)"
        return result
