"""The etcd role's refusal of an etcd group that differs from the cluster on disk."""

import importlib.util
import json
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[2] / "roles/etcd/filter_plugins/membership.py"
spec = importlib.util.spec_from_file_location("kubesmith_etcd_membership", PLUGIN)
assert spec and spec.loader
membership = importlib.util.module_from_spec(spec)
spec.loader.exec_module(membership)

ONE = "etcd1=https://192.168.60.10:2380"
THREE = f"{ONE},etcd2=https://192.168.60.12:2380,etcd3=https://192.168.60.13:2380"


def member_list(*members: tuple[str, str]) -> str:
    """What `etcdctl member list --write-out=json` prints."""
    return json.dumps(
        {
            "header": {"cluster_id": 1, "member_id": 2, "raft_term": 3},
            "members": [
                {"ID": 10 + i, "name": name, "peerURLs": [url], "clientURLs": []}
                for i, (name, url) in enumerate(members)
            ],
        }
    )


def unit(initial_cluster: str) -> str:
    return (
        "[Service]\nExecStart=/usr/local/bin/etcd \\\n  --name=etcd1 \\\n"
        f"  --initial-cluster={initial_cluster} \\\n  --initial-cluster-state=new\n"
    )


def test_the_same_cluster_passes():
    running = member_list(
        ("etcd1", "https://192.168.60.10:2380"),
        ("etcd2", "https://192.168.60.12:2380"),
        ("etcd3", "https://192.168.60.13:2380"),
    )
    assert membership.membership_problem(THREE, "etcd1", running) == ""
    assert membership.membership_problem(ONE, "etcd1", "", unit(ONE)) == ""


def test_growing_a_one_member_cluster_is_refused():
    running = member_list(("etcd1", "https://192.168.60.10:2380"))
    problem = membership.membership_problem(THREE, "etcd1", running)
    assert problem.startswith(
        "etcd1 belongs to a running etcd cluster of 1 member "
        "(etcd1=https://192.168.60.10:2380), but the etcd group lists 3 members ("
    )
    assert "etcd3=https://192.168.60.13:2380" in problem
    assert "`etcdctl member add`" in problem
    assert problem.endswith("Nothing has been changed.")


def test_shrinking_is_refused_too():
    running = member_list(
        ("etcd1", "https://192.168.60.10:2380"),
        ("etcd2", "https://192.168.60.12:2380"),
        ("etcd3", "https://192.168.60.13:2380"),
    )
    problem = membership.membership_problem(ONE, "etcd1", running)
    assert "cluster of 3 members" in problem and "lists 1 member (" in problem


def test_a_moved_member_is_refused():
    running = member_list(("etcd1", "https://192.168.60.19:2380"))
    assert membership.membership_problem(ONE, "etcd1", running) != ""


def test_a_stopped_cluster_is_judged_by_the_unit_it_was_started_with():
    problem = membership.membership_problem(THREE, "etcd1", "", unit(ONE))
    assert problem.startswith("etcd1 was started as part of an etcd cluster of 1 member")


def test_an_added_member_that_never_started_counts_by_its_address():
    running = member_list(
        ("etcd1", "https://192.168.60.10:2380"), ("", "https://192.168.60.12:2380")
    )
    problem = membership.membership_problem(ONE, "etcd1", running)
    assert "(not started)=https://192.168.60.12:2380" in problem


def test_data_of_an_unknown_cluster_is_refused():
    problem = membership.membership_problem(ONE, "etcd1", "", "")
    assert "does not answer and no etcd unit says which cluster" in problem
