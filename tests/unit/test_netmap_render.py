"""The map as a picture: DOT through the real Graphviz to SVG, then to PNG with librsvg,
and the HTML, JSON and text forms drawn from the same model.

`dot` and `rsvg-convert` are host packages (scripts/host-packages.txt, make setup).
"""

import html
import json
import re
import struct
import subprocess
import zlib
from dataclasses import replace

from netmap_cluster import NODES, healthy_map, pod_cidr, with_state

from kubesmith.netmap import render
from kubesmith.netmap.checks import find_problems


def broken_map():
    """The healthy map with worker1's route to worker2's pod range deleted."""
    model = healthy_map()
    routes = tuple(
        r for r in model.node("worker1").state.routes if r.destination != pod_cidr("worker2")
    )
    return with_state(model, "worker1", routes=routes)


def draw(model):
    return render.svg(render.dot(model, find_problems(model)))


def svg_text(svg: str) -> str:
    """The SVG with Graphviz's character references (&#45; for "-") resolved."""
    return html.unescape(svg)


def svg_size_pt(svg: str) -> tuple[float, float]:
    match = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert match, svg[:400]
    return float(match[1]), float(match[2])


def to_png(svg: str, tmp_path, zoom: float = 1.0):
    source, target = tmp_path / "map.svg", tmp_path / f"map-{zoom}.png"
    source.write_text(svg)
    subprocess.run(
        ["rsvg-convert", "--zoom", str(zoom), "-o", target, source],
        check=True,
        capture_output=True,
    )
    return target


def png_header(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_rgba_rows(data: bytes) -> list[bytes]:
    """Decode an 8-bit RGBA, non-interlaced PNG (what rsvg-convert writes)."""
    width, height = png_header(data)
    bit_depth, colour_type, _, _, interlace = data[24:29]
    assert (bit_depth, colour_type, interlace) == (8, 6, 0)
    idat, offset = b"", 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    raw, stride, rows = zlib.decompress(idat), width * 4, []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - 4] if i >= 4 else 0
            up = previous[i]
            up_left = previous[i - 4] if i >= 4 else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return rows


def red_pixels(rows: list[bytes]) -> int:
    """Pixels of the problem colour (#c62828), antialiased ones too: red well above an
    equal green and blue (the isolated namespace's #ad1457 and orange are not)."""
    found = 0
    for row in rows:
        for x in range(0, len(row), 4):
            r, g, b, a = row[x : x + 4]
            if a > 200 and r - g > 50 and abs(g - b) <= 12:
                found += 1
    return found


def test_svg_names_every_node_pod_range_service_and_the_isolated_namespace():
    svg = svg_text(draw(healthy_map()))
    for name in (*NODES, "etcd1"):
        assert f">{name}" in svg, name
    for name in NODES:
        assert f"pod range {pod_cidr(name)}" in svg
    for service in ("app-v1.production", "kube-dns.kube-system", "kubernetes.default"):
        assert service in svg
    assert "isolated namespaces: production" in svg
    assert "production (isolated)" in svg
    assert "VXLAN" in svg and "flannel.1" in svg
    assert "no problems found" in svg


def test_a_missing_route_is_drawn_in_red_with_its_reason():
    healthy, broken = svg_text(draw(healthy_map())), svg_text(draw(broken_map()))
    reason = "worker1 has no route to worker2's pod range 10.244.2.0/24"
    assert reason in broken and reason not in healthy
    assert "10.244.2.0/24 (worker2): no route" in broken
    assert 'fill="#c62828"' in broken or 'stroke="#c62828"' in broken
    assert "#c62828" not in healthy


def test_png_of_the_svg_has_the_svg_size_and_shows_the_problem_in_red(tmp_path):
    svg = draw(broken_map())
    width_pt, height_pt = svg_size_pt(svg)
    png = to_png(svg, tmp_path).read_bytes()
    width, height = png_header(png)
    # librsvg draws at 96 dpi: a point is 4/3 pixels.
    assert abs(width - width_pt * 4 / 3) <= 1 and abs(height - height_pt * 4 / 3) <= 1
    assert width > 800 and height > 400
    # Looked at in a smaller copy: ink on white, and red only where a problem is.
    rows = png_rgba_rows(to_png(svg, tmp_path, zoom=0.5).read_bytes())
    pixels = sum(len(row) // 4 for row in rows)
    inked = sum(
        1 for row in rows for x in range(0, len(row), 4) if row[x + 3] and min(row[x : x + 3]) < 200
    )
    assert 0.02 * pixels < inked < 0.5 * pixels
    assert red_pixels(rows) > 50
    healthy_rows = png_rgba_rows(to_png(draw(healthy_map()), tmp_path, zoom=0.5).read_bytes())
    assert red_pixels(healthy_rows) == 0


def test_html_is_one_self_contained_page_with_the_picture_and_the_problems():
    model = broken_map()
    problems = find_problems(model)
    page = render.html_page(model, problems, render.svg(render.dot(model, problems)))
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 1 and "<?xml" not in page
    assert "1 problem(s)" in page
    assert "worker1 has no route to worker2&#x27;s pod range 10.244.2.0/24" in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    assert "<script" not in page and "<link" not in page


def test_json_is_the_model_with_the_problems():
    model = broken_map()
    data = json.loads(render.as_json(model, find_problems(model)))
    nodes = {n["name"]: n for n in data["nodes"]}
    assert {name: n["pod_cidr"] for name, n in nodes.items()} == {n: pod_cidr(n) for n in NODES}
    routes = {r["destination"]: r for r in nodes["worker2"]["state"]["routes"]}
    assert routes[pod_cidr("worker1")] == {
        "destination": "10.244.1.0/24",
        "device": "flannel.1",
        "gateway": "10.244.1.0",
    }
    assert data["isolated_namespaces"] == ["production"]
    assert [(p["kind"], p["subject"], p["peer"]) for p in data["problems"]] == [
        ("route-missing", "worker1", "worker2")
    ]


def test_text_lists_the_problems_or_says_there_are_none():
    healthy = render.text(healthy_map(), [])
    assert healthy.endswith("no problems found\n")
    assert "production/app-v1  NodePort 10.104.18.3  80/TCP node 30080" in healthy
    model = broken_map()
    broken = render.text(model, find_problems(model))
    assert broken.splitlines()[-2:] == [
        "problems (1):",
        "  - worker1 has no route to worker2's pod range 10.244.2.0/24 "
        "(expected via 10.244.2.0 dev flannel.1)",
    ]


def test_dot_quotes_names_it_does_not_control():
    model = healthy_map()
    odd = replace(model.services[2], name='we"ird<svc>')
    text = render.dot(replace(model, services=(*model.services[:2], odd)), [])
    assert '"svc:production/we\\"ird<svc>"' in text
    assert "we&quot;ird&lt;svc&gt;.production" in text
