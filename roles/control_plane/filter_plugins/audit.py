"""The audit policy's rules with Secrets kept at Metadata.

kubesmith_audit_rules(rules, guard) returns ``rules`` with ``guard`` (a
Metadata rule for Secrets and other objects whose bodies carry credentials)
inserted before the first rule that records request or response bodies.
Audit rules match first to last, so whatever the operator's rules say, no
such object reaches a Request or RequestResponse rule; rules before that
point (None, Metadata) still apply to them as written.
"""

from typing import Any

from ansible.errors import AnsibleFilterError

BODY_LEVELS = ("Request", "RequestResponse")
LEVELS = ("None", "Metadata", *BODY_LEVELS)


def audit_rules(rules: list[dict[str, Any]], guard: dict[str, Any]) -> list[dict[str, Any]]:
    for index, rule in enumerate(rules):
        level = rule.get("level") if isinstance(rule, dict) else None
        if level not in LEVELS:
            raise AnsibleFilterError(
                f"kubesmith_audit_rules: kube_audit_policy rule {index + 1} has level "
                f"{level!r}; use one of {', '.join(LEVELS)}"
            )
    first_body = next(
        (i for i, rule in enumerate(rules) if rule["level"] in BODY_LEVELS), len(rules)
    )
    if first_body == len(rules):
        return list(rules)
    return [*rules[:first_body], guard, *rules[first_body:]]


class FilterModule:
    def filters(self) -> dict:
        return {"kubesmith_audit_rules": audit_rules}
