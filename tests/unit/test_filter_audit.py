"""The control_plane role's audit rule filter: whatever kube_audit_policy
says, no request for Secrets reaches a rule that records bodies."""

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

PLUGIN = Path(__file__).resolve().parents[2] / "roles/control_plane/filter_plugins/audit.py"
spec = importlib.util.spec_from_file_location("kubesmith_audit", PLUGIN)
assert spec and spec.loader
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)

GUARD = {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}


def level_for_secrets(rules: list[dict]) -> str:
    """The level a create of a Secret by an ordinary user gets (first match wins;
    rules here filter by resources only)."""
    for rule in rules:
        resources = rule.get("resources")
        if resources is None or any("secrets" in r.get("resources", []) for r in resources):
            return rule["level"]
    return "None"


def test_guard_goes_before_the_first_rule_with_bodies():
    rules = [
        {"level": "None", "resources": [{"group": "", "resources": ["events"]}]},
        {"level": "Metadata", "resources": [{"group": "", "resources": ["pods"]}]},
        {"level": "RequestResponse"},
        {"level": "Request"},
    ]
    guarded = audit.audit_rules(rules, GUARD)
    assert guarded == [rules[0], rules[1], GUARD, rules[2], rules[3]]
    assert level_for_secrets(guarded) == "Metadata"
    # Negative control: without the guard this policy records Secret bodies.
    assert level_for_secrets(rules) == "RequestResponse"


def test_earlier_rules_still_apply_to_secrets():
    rules = [
        {"level": "None", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "Request"},
    ]
    assert level_for_secrets(audit.audit_rules(rules, GUARD)) == "None"


def test_policy_without_bodies_is_left_as_it_is():
    rules = [{"level": "None", "nonResourceURLs": ["/healthz*"]}, {"level": "Metadata"}]
    assert audit.audit_rules(rules, GUARD) == rules


@pytest.mark.parametrize("rule", [{"level": "Everything"}, {"verbs": ["get"]}, "Metadata"])
def test_a_rule_without_a_valid_level_is_named(rule):
    with pytest.raises(AnsibleFilterError, match="rule 2 has level"):
        audit.audit_rules([{"level": "None"}, rule], GUARD)


def test_registered_under_its_name():
    assert audit.FilterModule().filters()["kubesmith_audit_rules"] is audit.audit_rules
