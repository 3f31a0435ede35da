"""SVG output: safe against hostile values, accessible, deterministic, oriented as asked."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import greenroom.core.web
from greenroom.plugins.catalog_graph.graph import GraphOptions, build_graph
from greenroom.plugins.catalog_graph.layout import layout_graph
from greenroom.plugins.catalog_graph.render import render_graph_svg
from greenroom.plugins.catalog_graph.text_metrics import FONT_FAMILY, KIND_STYLE, NAME_STYLE
from tests.plugins.catalog_graph.test_graph import FakeCatalog

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def draw(catalog: FakeCatalog, root: str, direction: str = "LR", depth: int = 2) -> str:
    options = GraphOptions(root_refs=(root,), max_depth=depth, direction=direction)  # type: ignore[arg-type]
    graph = build_graph(catalog, options)
    return str(
        render_graph_svg(graph, layout_graph(graph, options.direction), uid="t", label=f"Relations of {root}")
    )


def sample() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.relate("system:default/shop", "hasPart", "component:default/cart")
    catalog.relate("system:default/shop", "hasPart", "component:default/checkout")
    catalog.relate("component:default/checkout", "dependsOn", "component:default/cart")
    catalog.relate("component:default/checkout", "dependsOn", "resource:default/db")
    catalog.relate("component:default/cart", "ownedBy", "group:default/team")
    return catalog


def test_hostile_titles_are_escaped_and_refs_url_encoded() -> None:
    catalog = FakeCatalog().add("component:default/safe", title=HOSTILE)
    weird = 'component:default/a b"<c>?d#e'
    catalog.relate("component:default/safe", "dependsOn", weird)
    catalog.entities[weird]["metadata"]["title"] = "</text></a></svg><script>alert(2)</script>"
    svg = draw(catalog, "component:default/safe")
    assert "<script" not in svg
    assert "<img" not in svg
    assert "</text></a></svg>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'href="/catalog/default/component/a%20b%22%3Cc%3E%3Fd%23e"' in svg
    tree = ET.fromstring(svg)  # still one well-formed SVG document
    assert len(tree.findall(f".//{SVG}a")) == 2


def test_nodes_are_links_with_accessible_names() -> None:
    svg = draw(sample(), "system:default/shop")
    tree = ET.fromstring(svg)
    assert tree.get("role") == "group" and tree.get("aria-label") == "Relations of system:default/shop"
    assert tree.get("viewBox", "").startswith("0 0 ")
    links = tree.findall(f".//{SVG}a")
    assert len(links) == 5
    labels = {link.get("aria-label") for link in links}
    assert "System shop (current entity)" in labels
    assert "Resource db" in labels
    assert all(link.get("href", "").startswith("/catalog/default/") for link in links)
    roots = [link for link in links if "is-root" in (link.get("class") or "")]
    assert len(roots) == 1
    assert len(tree.findall(f".//{SVG}path[@marker-end]")) == 5
    assert "depends on" in svg and "has part" in svg


def test_layout_is_deterministic_whatever_the_input_order() -> None:
    first = draw(sample(), "system:default/shop")
    assert draw(sample(), "system:default/shop") == first
    shuffled = sample()
    rng = random.Random(7)
    items = list(shuffled.entities.items())
    rng.shuffle(items)
    shuffled.entities = dict(items)
    for entity in shuffled.entities.values():
        rng.shuffle(entity["relations"])
    assert draw(shuffled, "system:default/shop") == first


def _node_positions(svg: str) -> dict[str, tuple[float, float]]:
    tree = ET.fromstring(svg)
    out = {}
    for link in tree.findall(f".//{SVG}a"):
        box = link.find(f"{SVG}rect")
        assert box is not None
        out[link.get("data-ref", "")] = (float(box.get("x", 0)), float(box.get("y", 0)))
    return out


@pytest.mark.parametrize(
    ("direction", "axis", "sign"), [("LR", 0, 1), ("RL", 0, -1), ("TB", 1, 1), ("BT", 1, -1)]
)
def test_direction_orients_the_layers(direction: str, axis: int, sign: int) -> None:
    catalog = FakeCatalog().relate("component:default/a", "dependsOn", "component:default/b")
    positions = _node_positions(draw(catalog, "component:default/a", direction))
    a, b = positions["component:default/a"], positions["component:default/b"]
    assert (b[axis] - a[axis]) * sign > 0
    assert a[1 - axis] == b[1 - axis]


def test_every_coordinate_fits_the_view_box() -> None:
    catalog = FakeCatalog()
    for i in range(30):
        catalog.relate("system:default/s", "hasPart", f"component:default/c{i}")
        catalog.relate(f"component:default/c{i}", "dependsOn", f"resource:default/r{i % 7}")
    svg = draw(catalog, "system:default/s")
    tree = ET.fromstring(svg)
    _, _, width, height = (float(v) for v in tree.get("viewBox", "").split())
    numbers = [
        float(n)
        for d in re.findall(r'class="gr-graph-edge__line" d="([^"]+)"', svg)
        for n in re.findall(r"-?\d+(?:\.\d+)?", d)
    ]
    assert numbers and min(numbers) >= 0 and max(numbers) <= max(width, height)


def test_cut_names_keep_the_full_name_in_the_tooltip_and_text_is_clipped_to_the_box() -> None:
    long_title = "An Extraordinarily Long Component Title That Cannot Fit In Any Box"
    catalog = FakeCatalog().add("component:default/a", title=long_title)
    catalog.relate("component:default/a", "dependsOn", "component:default/b")
    graph = build_graph(catalog, GraphOptions(root_refs=("component:default/a",)))
    layout = layout_graph(graph, "LR")
    tree = ET.fromstring(str(render_graph_svg(graph, layout, uid="t", label="x")))
    assert tree.get("font-family") == FONT_FAMILY
    link = next(a for a in tree.iter(f"{SVG}a") if a.get("data-ref") == "component:default/a")
    title = link.find(f"{SVG}title")
    assert title is not None and (title.text or "").startswith(long_title + "\n")
    box = link.find(f"{SVG}rect")
    clip = link.find(f"{SVG}svg")
    assert box is not None and clip is not None and clip.get("overflow") == "hidden"
    # The text viewport ends inside the box, so even a wider fallback font cannot cross the border.
    assert float(clip.get("x", 0)) + float(clip.get("width", 0)) < float(box.get("x", 0)) + float(
        box.get("width", 0)
    )
    name = clip.find(f"{SVG}text[@class='gr-graph-node__name']")
    kind = clip.find(f"{SVG}text[@class='gr-graph-node__kind']")
    assert name is not None and kind is not None
    assert (name.text or "").endswith("…") and long_title.startswith((name.text or "")[:-1])
    # What is drawn uses the sizes the boxes were measured with.
    assert float(name.get("font-size", 0)) == NAME_STYLE.size
    assert name.get("font-weight") == NAME_STYLE.weight
    assert float(kind.get("font-size", 0)) == KIND_STYLE.size


def _css_rules() -> list[tuple[str, str]]:
    """(selector, declarations) of every rule in the portal's stylesheet, comments removed."""
    css = (Path(greenroom.core.web.__file__).parent / "static" / "greenroom.css").read_text()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    return [(selector.strip(), body) for selector, body in re.findall(r"([^{}]*)\{([^{}]*)\}", css)]


def test_stylesheet_leaves_the_measured_fonts_alone() -> None:
    """A CSS font rule on graph text would beat the SVG attributes and break the box sizes."""
    graph_text = [
        body
        for selector, body in _css_rules()
        if re.search(r"\.gr-graph-(svg|node__name|node__kind|edge__label)\b", selector)
    ]
    assert graph_text
    for body in graph_text:
        assert not re.search(r"\bfont(-family|-size|-weight)?\s*:", body), body


def test_card_svg_scales_into_the_card_instead_of_scrolling() -> None:
    rules = dict(_css_rules())
    assert "overflow: hidden" in rules[".gr-graph--compact .gr-graph__viewport"]
    assert "max-height" in rules[".gr-graph--compact .gr-graph-svg"]
    svg = ET.fromstring(draw(sample(), "system:default/shop"))
    assert svg.get("preserveAspectRatio", "").endswith("meet")  # scaled whole, never cropped
