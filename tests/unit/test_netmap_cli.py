"""`kubesmith map` on the command line, with the cluster reading replaced by a map
built by hand: formats, files, the problem list and the exit status."""

import json
from pathlib import Path

import pytest
from netmap_cluster import INVENTORY, healthy_map, pod_cidr, with_state

from kubesmith import cli
from kubesmith.errors import KubesmithError
from kubesmith.netmap import command
from kubesmith.netmap.collect import collect
from kubesmith.netmap.command import EXIT_PROBLEMS, output_format
from kubesmith.netmap.targets import map_target


def broken_map():
    model = healthy_map()
    routes = tuple(
        r for r in model.node("worker2").state.routes if r.destination != pod_cidr("cp1")
    )
    return with_state(model, "worker2", routes=routes)


@pytest.fixture
def cluster(monkeypatch):
    """Stand in for the inventory and the live cluster; returns a setter for the map."""
    current = {"map": healthy_map()}
    seen = {}

    def fake_collect(target, kubeconfig):
        seen["target"], seen["kubeconfig"] = target, kubeconfig
        return current["map"]

    monkeypatch.setattr(command, "load_raw", lambda path: INVENTORY)
    monkeypatch.setattr(command, "collect", fake_collect)

    def use(model):
        current["map"] = model
        return seen

    return use


def test_format_follows_the_output_suffix_unless_given():
    assert output_format(None, None) == "text"
    assert output_format(None, Path("map.svg")) == "svg"
    assert output_format(None, Path("MAP.HTML")) == "html"
    assert output_format(None, Path("map.json")) == "json"
    assert output_format("json", Path("map.svg")) == "json"
    with pytest.raises(KubesmithError, match=r"cannot tell the format of map\.png"):
        output_format(None, Path("map.png"))


def test_text_to_stdout_lists_the_problem_and_exits_zero(cluster, capsys):
    cluster(broken_map())
    assert cli.main(["map", "-i", "inventory/local"]) == 0
    out = capsys.readouterr().out
    assert "problems (1):" in out
    assert "  - worker2 has no route to cp1's pod range 10.244.0.0/24" in out


def test_strict_exits_3_on_problems_and_0_without(cluster):
    cluster(broken_map())
    assert cli.main(["map", "--strict"]) == EXIT_PROBLEMS == 3
    cluster(healthy_map())
    assert cli.main(["map", "--strict"]) == 0


def test_json_file_and_the_problems_on_stdout(cluster, tmp_path, capsys):
    cluster(broken_map())
    output = tmp_path / "map.json"
    assert cli.main(["-i", "inventory/local", "map", "-o", str(output)]) == 0
    data = json.loads(output.read_text())
    assert [p["kind"] for p in data["problems"]] == ["route-missing"]
    assert capsys.readouterr().out.splitlines() == [
        f"kubesmith: wrote {output} (3 nodes, 1 problem)",
        "problem: worker2 has no route to cp1's pod range 10.244.0.0/24 "
        "(expected via 10.244.0.0 dev flannel.1)",
    ]


@pytest.mark.parametrize("suffix", ["svg", "html"])
def test_picture_files(cluster, tmp_path, suffix):
    cluster(healthy_map())
    output = tmp_path / f"map.{suffix}"
    assert cli.main(["map", "-o", str(output)]) == 0
    content = output.read_text()
    assert "<svg" in content and "worker2" in content
    assert content.lstrip().startswith("<!DOCTYPE html>" if suffix == "html" else "<?xml")


def test_machine_readable_stdout_keeps_problems_on_stderr(cluster, capsys):
    cluster(broken_map())
    assert cli.main(["map", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["problems"][0]["subject"] == "worker2"
    assert "kubesmith: problem: worker2 has no route" in captured.err


def test_kubeconfig_option_reaches_the_collector(cluster):
    seen = cluster(healthy_map())
    assert cli.main(["map", "--kubeconfig", "/tmp/other.conf", "--format", "text"]) == 0
    assert seen["kubeconfig"] == Path("/tmp/other.conf")
    assert seen["target"].cluster == "local"


def test_a_missing_kubeconfig_is_named_before_any_node_is_contacted(tmp_path):
    target = map_target(INVENTORY, Path("inventory/local"), {})
    with pytest.raises(KubesmithError, match=r"no admin kubeconfig at .*nope\.conf"):
        collect(target, tmp_path / "nope.conf")


def test_errors_exit_1_with_the_message(monkeypatch, capsys):
    def refuse(path):
        raise KubesmithError("inventory nowhere does not exist")

    monkeypatch.setattr(command, "load_raw", refuse)
    assert cli.main(["map", "-i", "nowhere"]) == 1
    assert "kubesmith: error: inventory nowhere does not exist" in capsys.readouterr().err
