"""`kubesmith map` on the live cluster: the model and the picture match the nodes, and a
route deleted on a node is exactly the problem the map reports, until it is restored."""

import html
import ipaddress
import json
import re
import shutil
import struct
import subprocess
import time

import pytest

from conftest import (
    BIN,
    DNS_IP,
    ETCD_HOSTS,
    INVENTORY,
    K8S_NODES,
    default_scenario_only,
    other,
    wait_for,
)

pytestmark = default_scenario_only

testinfra_hosts = ["cp1"]

RED = "#c62828"
# Hosts outside Kubernetes, which the map shows apart: the etcd members of
# their own machines.
ETCD_ONLY = [name for name in ETCD_HOSTS if name not in K8S_NODES]
# Far above a healthy run (a few seconds): a node's SSH timing out would show here.
MAP_SECONDS = 30


def kubesmith_map(*args: str) -> subprocess.CompletedProcess:
    start = time.monotonic()
    result = subprocess.run(
        [BIN / "kubesmith", "-i", INVENTORY, "map", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - start < MAP_SECONDS, "kubesmith map took too long"
    return result


def model() -> dict:
    return json.loads(kubesmith_map("--format", "json").stdout)


def problem_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in result.stdout.splitlines() if ln.startswith("problem: ")]


def test_model_lists_every_node_with_its_range_and_a_flannel_route_to_every_other(nodes):
    data = model()
    listed = {n["name"]: n for n in data["nodes"]}
    assert sorted(listed) == sorted(K8S_NODES)
    for name, node in listed.items():
        assert node["pod_cidr"] == nodes[name]["pod_cidr"], name
        assert node["address"] == nodes[name]["address"], name
        assert node["ready"], name
        state = node["state"]
        assert state is not None, node["state_error"]
        assert state["flannel"]["vni"] == 1 and state["flannel"]["port"] == 8472, name
        routes = {r["destination"]: r for r in state["routes"]}
        for peer in K8S_NODES:
            if peer == name:
                continue
            cidr = nodes[peer]["pod_cidr"]
            gateway = str(ipaddress.ip_network(cidr).network_address)
            assert routes[cidr]["device"] == "flannel.1", (name, peer, routes.get(cidr))
            assert routes[cidr]["gateway"] == gateway, (name, peer)
        assert state["resolv_conf"], name
    assert sorted(h["name"] for h in data["other_hosts"]) == sorted(ETCD_ONLY)
    assert data["dns"]["ip"] == DNS_IP
    assert "production" in data["isolated_namespaces"]
    assert data["problems"] == [], data["problems"]


def test_svg_shows_every_node_range_the_app_service_and_the_isolated_namespace(nodes, tmp_path):
    picture = tmp_path / "map.svg"
    result = kubesmith_map("-o", str(picture))
    assert problem_lines(result) == []
    svg = html.unescape(picture.read_text())
    for name in K8S_NODES:
        assert f">{name}" in svg, name
        assert f"pod range {nodes[name]['pod_cidr']}" in svg, name
    for name in ETCD_ONLY:
        assert name in svg, name
    assert "app-v1.production" in svg
    assert "isolated namespaces: production" in svg
    assert "no problems found" in svg
    assert RED not in svg
    png_has_the_svg_size(picture, tmp_path)


def png_has_the_svg_size(picture, tmp_path):
    """The picture as a person sees it: librsvg draws it at 96 dpi, a point is 4/3 px."""
    if shutil.which("rsvg-convert") is None:
        pytest.skip("needs rsvg-convert (make setup)")
    png = tmp_path / "map.png"
    subprocess.run(["rsvg-convert", "-o", png, picture], check=True, capture_output=True)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', picture.read_text())
    assert size, "no size on the SVG"
    assert abs(width - float(size[1]) * 4 / 3) <= 1 and abs(height - float(size[2]) * 4 / 3) <= 1
    assert width > 800 and height > 400 and len(data) > 20_000


@pytest.fixture
def flannel_route(host, nodes):
    """worker1's route to worker2's pod range as flannel made it; put back after the test
    exactly so (``ip route replace``) unless flannel already did."""
    worker1 = other(host, "worker1")
    cidr = nodes["worker2"]["pod_cidr"]
    (route,) = json.loads(worker1.check_output(f"ip -j route show {cidr}"))
    restore = f"ip route replace {cidr} via {route['gateway']} dev {route['dev']}"
    if "onlink" in route.get("flags", []):
        restore += " onlink"
    yield worker1, cidr, restore
    worker1.run(restore)


def test_a_deleted_route_is_exactly_the_problem_drawn_red_until_restored(flannel_route, tmp_path):
    worker1, cidr, restore = flannel_route
    expected = (
        f"worker1 has no route to worker2's pod range {cidr} "
        f"(expected via {ipaddress.ip_network(cidr).network_address} dev flannel.1)"
    )
    page = tmp_path / "broken.html"

    def map_after_deleting() -> subprocess.CompletedProcess | None:
        # flannel may put the route back on its own: delete it again if it did.
        if worker1.run(f"ip route show {cidr}").stdout.strip():
            worker1.check_output(f"ip route del {cidr}")
        result = kubesmith_map("-o", str(page))
        return result if problem_lines(result) else None

    # One run gives the picture (inline SVG), the text view and the listed problems.
    broken = wait_for(map_after_deleting, timeout=60, interval=1)
    assert broken, "the map never saw the deleted route"
    assert problem_lines(broken) == [f"problem: {expected}"]
    content = html.unescape(page.read_text())
    assert f"problems (1):\n  - {expected}\n" in content
    svg = inline_svg(content)
    assert expected in svg and f"{cidr} (worker2): no route" in svg
    assert RED in svg

    worker1.check_output(restore)
    healed = tmp_path / "healed.html"
    result = kubesmith_map("-o", str(healed))
    assert problem_lines(result) == []
    content = html.unescape(healed.read_text())
    assert "no problems found" in content and RED not in inline_svg(content)
    assert model()["problems"] == []


def inline_svg(page: str) -> str:
    return page[page.index("<svg") : page.index("</svg>")]
