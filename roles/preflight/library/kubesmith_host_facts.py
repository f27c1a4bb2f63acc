#!/usr/bin/python
"""Report what the preflight host check needs, in one call, changing nothing."""

import json
import os
import re
import time
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: kubesmith_host_facts
short_description: Interfaces, listening TCP ports, CPUs, memory, free disk and clock
description:
  - Read-only facts for the preflight host check (roles/preflight), gathered with
    C(ip -j addr), C(ss -Htlnp), /proc/meminfo and statvfs.
options: {}
author: kubesmith maintainers
"""

SS_PROCESS = re.compile(r'users:\(\("([^"]+)"')


def interfaces(module):
    out = module.run_command(["ip", "-j", "addr", "show"], check_rc=True)[1]
    return [
        {
            "name": link["ifname"],
            "mtu": link.get("mtu", 0),
            "addresses": [
                a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet"
            ],
        }
        for link in json.loads(out)
    ]


def listeners(module):
    """Listening TCP port -> name of the process holding it."""
    rc, out, _ = module.run_command(["ss", "-Htlnp"])
    ports = {}
    if rc != 0:
        return ports
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        port = fields[3].rsplit(":", 1)[-1]
        match = SS_PROCESS.search(line)
        if port.isdigit():
            ports.setdefault(port, match.group(1) if match else "unknown")
    return ports


def memory_mib():
    for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 0


def disk_free_gib(path):
    path = Path(path)
    while not path.exists():
        path = path.parent
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize / 2**30


def main():
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    try:
        facts = {
            "interfaces": interfaces(module),
            "listeners": listeners(module),
            "cpus": os.cpu_count() or 0,
            "memory_mib": memory_mib(),
            "disk_free_gib": disk_free_gib("/var/lib"),
            "time": time.time(),
        }
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"could not read the host's facts: {exc}")
    module.exit_json(changed=False, facts=facts)


if __name__ == "__main__":
    main()
