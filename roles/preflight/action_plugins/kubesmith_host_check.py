"""Check what only the host can confirm, before anything is installed on it.

Gathers the host's interfaces, listening ports, size and clock in one module
call and judges them with kubesmith.preflight.hostcheck against this host's
effective settings (the same evaluation as the inventory check).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from kubesmith.preflight import hostcheck, specs
from kubesmith.preflight.effective import host_settings, load_role_defaults


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        roles_dir = Path(self._task.args["roles_dir"])
        settings = specs.load_settings(roles_dir)
        defaults = load_role_defaults(self._loader, roles_dir)
        host = task_vars["inventory_hostname"]
        values, errors, provided = host_settings(
            self._templar, task_vars["hostvars"], host, settings, defaults
        )
        values.setdefault("kube_node_ip", provided.get("ansible_host") or host)
        control_planes = task_vars.get("groups", {}).get("control_plane", [])
        values.setdefault("api_loadbalancer_enabled", len(control_planes) > 1)
        before = time.time()
        gathered = self._execute_module(
            module_name="kubesmith_host_facts", module_args={}, task_vars=task_vars
        )
        after = time.time()
        if gathered.get("failed"):
            return {**result, **gathered}
        facts = gathered["facts"]
        node_time = float(facts["time"])
        skew = 0.0 if before <= node_time <= after else node_time - (before + after) / 2
        host_facts = hostcheck.HostFacts.from_module(facts, clock_skew_seconds=skew)
        groups = list(task_vars.get("group_names", []))
        problems = errors + hostcheck.check_host(host, groups, host_facts, values)
        result["changed"] = False
        result["host_facts"] = facts
        if problems:
            result["failed"] = True
            result["msg"] = "host check failed:\n- " + "\n- ".join(problems)
        else:
            result["msg"] = "host is ready"
        return result
