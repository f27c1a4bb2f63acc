"""Merge the messages each host's view produced into one list."""

from collections.abc import Mapping, Sequence


def merge(per_host: Mapping[str, Sequence[str]]) -> list[str]:
    """Each distinct message once, in first-seen order. A message that only some
    hosts' settings produce (a host_vars override) says which hosts."""
    hosts_of: dict[str, list[str]] = {}
    for host, messages in per_host.items():
        for message in messages:
            hosts_of.setdefault(message, [])
            if host not in hosts_of[message]:
                hosts_of[message].append(host)
    everyone = len(per_host)
    return [
        message if len(hosts) == everyone else f"{message} (settings of {', '.join(hosts)})"
        for message, hosts in hosts_of.items()
    ]
