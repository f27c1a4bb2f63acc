"""kubesmith_etcd_membership_problem: why the etcd group cannot be applied to
the cluster a member's data belongs to ('' when it can).

etcd changes membership only through `etcdctl member add/remove`, one member
at a time. A re-run whose etcd group differs from the cluster on disk would
start the new hosts as a second cluster beside the first (split brain), so the
etcd role refuses it before changing anything.
"""

import json
import re
from collections.abc import Callable

INITIAL_CLUSTER_FLAG = re.compile(r"--initial-cluster=(\S+)")


def _parse_initial_cluster(text: str) -> dict[str, str]:
    """``'a=https://1:2380,b=https://2:2380'`` -> ``{'https://1:2380': 'a', ...}``."""
    members = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, _, url = entry.partition("=")
        members[url] = name
    return members


def _from_member_list(member_list: str) -> dict[str, str]:
    members = {}
    for member in json.loads(member_list).get("members", []):
        for url in member.get("peerURLs", []):
            members[url] = member.get("name") or "(not started)"
    return members


def _describe(members: dict[str, str]) -> str:
    count = len(members)
    listing = ", ".join(f"{name}={url}" for url, name in members.items())
    return f"{count} member{'s' if count != 1 else ''} ({listing})"


def membership_problem(expected: str, host: str, member_list: str = "", unit: str = "") -> str:
    """Compare the etcd group (``expected``, etcd's --initial-cluster form) with
    the cluster this host's data belongs to: the running cluster's member list
    when it answered, else the --initial-cluster the member was started with."""
    wanted = _parse_initial_cluster(expected)
    if member_list:
        current = _from_member_list(member_list)
        source = "belongs to a running etcd cluster of"
    elif match := INITIAL_CLUSTER_FLAG.search(unit):
        current = _parse_initial_cluster(match.group(1))
        source = "was started as part of an etcd cluster of"
    else:
        return (
            f"{host} holds etcd data, but its cluster does not answer and no etcd unit "
            f"says which cluster it belongs to: start that member, or move its data "
            f"directory away if it is left over from another cluster. Nothing has been changed."
        )
    if set(current) == set(wanted):
        return ""
    return (
        f"{host} {source} {_describe(current)}, but the etcd group lists {_describe(wanted)}. "
        f"A re-run does not grow or shrink etcd: new members would start a second cluster "
        f"beside this one. Change the membership one member at a time with `etcdctl member "
        f"add` or `member remove` (a separate operation), then list those members in the etcd "
        f"group; or restore the etcd group to the cluster's members. Nothing has been changed."
    )


class FilterModule:
    def filters(self) -> dict[str, Callable[..., str]]:
        return {"kubesmith_etcd_membership_problem": membership_problem}
