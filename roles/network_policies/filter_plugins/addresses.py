"""kubesmith_nth_address: one address of a network as a /32 (or /128)."""

import ipaddress
from collections.abc import Callable

from ansible.errors import AnsibleFilterError


def nth_address(cidr: str, n: int) -> str:
    """``nth_address('10.244.1.0/24', 1)`` -> ``'10.244.1.1/32'``."""
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise AnsibleFilterError(f"kubesmith_nth_address: {cidr!r} is not a network") from exc
    if not 0 <= n < network.num_addresses:
        raise AnsibleFilterError(f"kubesmith_nth_address: {cidr} has no address number {n}")
    address = network.network_address + n
    return f"{address}/{network.max_prefixlen}"


class FilterModule:
    def filters(self) -> dict[str, Callable[[str, int], str]]:
        return {"kubesmith_nth_address": nth_address}
