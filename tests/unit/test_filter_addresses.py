"""The network_policies role's address filter."""

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

PLUGIN = Path(__file__).resolve().parents[2] / "roles/network_policies/filter_plugins/addresses.py"
spec = importlib.util.spec_from_file_location("kubesmith_addresses", PLUGIN)
assert spec and spec.loader
addresses = importlib.util.module_from_spec(spec)
spec.loader.exec_module(addresses)


@pytest.mark.parametrize(
    ("cidr", "n", "expected"),
    [
        ("10.244.1.0/24", 0, "10.244.1.0/32"),
        ("10.244.1.0/24", 1, "10.244.1.1/32"),
        ("10.244.2.64/26", 1, "10.244.2.65/32"),
        ("10.244.4.0/23", 1, "10.244.4.1/32"),
        ("fd00:10:244:1::/64", 1, "fd00:10:244:1::1/128"),
    ],
)
def test_nth_address(cidr, n, expected):
    assert addresses.nth_address(cidr, n) == expected


@pytest.mark.parametrize(("cidr", "n"), [("10.244.1.0/30", 4), ("not-a-network", 1)])
def test_bad_input_is_named(cidr, n):
    with pytest.raises(AnsibleFilterError, match="kubesmith_nth_address"):
        addresses.nth_address(cidr, n)


def test_registered_under_its_name():
    assert addresses.FilterModule().filters()["kubesmith_nth_address"] is addresses.nth_address
