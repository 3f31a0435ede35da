"""Layout geometry: labels fit their boxes, boxes never overlap, the drawing fits its view box."""

from __future__ import annotations

import itertools

import pytest

from greenroom.plugins.catalog_graph.graph import EntityGraph, GraphOptions, build_graph
from greenroom.plugins.catalog_graph.layout import (
    MAX_NODE_WIDTH,
    MIN_NODE_WIDTH,
    PADDING,
    GraphLayout,
    PlacedNode,
    layout_graph,
)
from greenroom.plugins.catalog_graph.text_metrics import ELLIPSIS, KIND_STYLE, NAME_STYLE
from tests.plugins.catalog_graph.test_graph import FakeCatalog

DIRECTIONS = ("LR", "RL", "TB", "BT")
# The names a new-user review found overflowing, and worse.
LONG_TITLES = {
    "group:default/ml-team": "Machine Learning Team",
    "resource:infra/prod-k8s": "Production Kubernetes cluster",
    "component:default/wms": "Warehouse Management",
    "api:default/storefront": "Storefront GraphQL API",
    "template:default/python-service": "Python FastAPI Service",
    "component:default/profiles": "Customer Profile Service",
    "component:default/training": "Model Training Pipeline",
    "component:default/huge": "An Extraordinarily Long Component Title That Cannot Fit In Any Box",
    "component:default/cjk": "数据平台团队的机器学习管道服务",
    "component:default/wide": "WWWWWWWWWWWWWWWWWWWW",
}


def long_names() -> FakeCatalog:
    catalog = FakeCatalog()
    root = "component:default/feature-pipeline"
    catalog.add(root, title="Feature Pipeline", spec_type="service")
    for ref, title in LONG_TITLES.items():
        kind = ref.partition(":")[0]
        relation = "ownedBy" if kind == "group" else "dependsOn"
        catalog.add(ref, title=title, spec_type="kubernetes-cluster" if kind == "resource" else None)
        catalog.relate(root, relation, ref)
    catalog.relate("component:default/wms", "dependsOn", "resource:infra/prod-k8s")
    return catalog


def draw(catalog: FakeCatalog, root: str, direction: str, *, compact: bool = False) -> GraphLayout:
    options = GraphOptions(root_refs=(root,), max_depth=2, root_edges_only=compact)
    graph = build_graph(catalog, options)
    return layout_graph(graph, direction, compact=compact)  # type: ignore[arg-type]


def star(incoming: int, outgoing: int) -> EntityGraph:
    catalog = FakeCatalog()
    for i in range(incoming):
        catalog.relate(f"component:default/in{i:02}", "dependsOn", "component:default/root")
    for i in range(outgoing):
        catalog.relate("component:default/root", "dependsOn", f"component:default/out{i:02}")
    return build_graph(catalog, GraphOptions(root_refs=("component:default/root",), root_edges_only=True))


def _overlap(a: PlacedNode, b: PlacedNode) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_every_label_fits_inside_its_box(direction: str, compact: bool) -> None:
    layout = draw(long_names(), "component:default/feature-pipeline", direction, compact=compact)
    assert len(layout.nodes) == len(LONG_TITLES) + 1
    for placed in layout.nodes:
        assert MIN_NODE_WIDTH <= placed.width <= MAX_NODE_WIDTH
        assert placed.text_x + placed.text_width < placed.x + placed.width
        assert NAME_STYLE.width(placed.name_text) <= placed.text_width, placed.name_text
        assert KIND_STYLE.width(placed.kind_text) <= placed.text_width, placed.kind_text
        label = placed.node.label
        if placed.name_text != label:  # cut only when the label is wider than the widest box
            assert placed.name_text.endswith(ELLIPSIS)
            assert label.startswith(placed.name_text[: -len(ELLIPSIS)])
            assert NAME_STYLE.width(label) > placed.text_width
            assert placed.width == MAX_NODE_WIDTH
    shown = {placed.node.label: placed.name_text for placed in layout.nodes}
    for title in ("Machine Learning Team", "Production Kubernetes cluster", "Python FastAPI Service"):
        assert shown[title] == title  # the boxes grow for names like these instead of cutting them
    assert shown[LONG_TITLES["component:default/huge"]].endswith(ELLIPSIS)


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_boxes_never_overlap_and_the_view_box_holds_everything(direction: str, compact: bool) -> None:
    layout = draw(long_names(), "component:default/feature-pipeline", direction, compact=compact)
    for a, b in itertools.combinations(layout.nodes, 2):
        assert not _overlap(a, b), (a.node.ref, b.node.ref)
    lefts = [n.x for n in layout.nodes] + [p[0] for e in layout.edges for p in e.points]
    tops = [n.y for n in layout.nodes] + [p[1] for e in layout.edges for p in e.points]
    rights = [n.x + n.width for n in layout.nodes] + [p[0] for e in layout.edges for p in e.points]
    bottoms = [n.y + n.height for n in layout.nodes] + [p[1] for e in layout.edges for p in e.points]
    # Everything is inside, with the padding on every side and no empty band.
    assert min(lefts) == pytest.approx(PADDING) and min(tops) == pytest.approx(PADDING)
    assert max(rights) + PADDING == pytest.approx(layout.width)
    assert max(bottoms) + PADDING == pytest.approx(layout.height)


def test_columns_are_as_wide_as_their_own_labels() -> None:
    """Left to right, one long name widens its column only, not every box of the graph."""
    catalog = FakeCatalog()
    catalog.add("component:default/a", title="A")
    catalog.add("resource:default/b", title="Production Kubernetes cluster")
    catalog.relate("component:default/a", "dependsOn", "resource:default/b")
    layout = layout_graph(build_graph(catalog, GraphOptions(root_refs=("component:default/a",))), "LR")
    widths = {placed.node.label: placed.width for placed in layout.nodes}
    assert widths["A"] == MIN_NODE_WIDTH
    assert MIN_NODE_WIDTH < widths["Production Kubernetes cluster"] < MAX_NODE_WIDTH


@pytest.mark.parametrize(("incoming", "outgoing"), [(2, 11), (0, 20), (9, 1), (1, 1)])
def test_compact_star_splits_the_neighbours_evenly_and_keeps_arrow_directions(
    incoming: int, outgoing: int
) -> None:
    """A card shows a tall one-sided star half as tall, so it needs less scaling to fit."""
    graph = star(incoming, outgoing)
    layout = layout_graph(graph, "LR", compact=True)
    root = next(n for n in layout.nodes if n.node.is_root)
    left = [n for n in layout.nodes if n.center[0] < root.center[0]]
    right = [n for n in layout.nodes if n.center[0] > root.center[0]]
    assert len(left) + len(right) == incoming + outgoing
    assert abs(len(left) - len(right)) <= 1
    boxes = {n.node.ref: n for n in layout.nodes}
    for placed in layout.edges:  # each arrow still ends at its true target's border
        end, target = placed.points[-1], boxes[placed.edge.target]
        assert target.x - 0.01 <= end[0] <= target.x + target.width + 0.01
        assert target.y - 0.01 <= end[1] <= target.y + target.height + 0.01
    # The full-size layout keeps the direction of flow: everything the root points at on the right.
    full = layout_graph(graph, "LR")
    full_root = next(n for n in full.nodes if n.node.is_root)
    assert sum(n.center[0] > full_root.center[0] for n in full.nodes) == outgoing


def test_compact_layout_is_smaller_and_drops_crowded_edge_labels() -> None:
    graph = star(2, 11)
    full, compact = layout_graph(graph, "LR"), layout_graph(graph, "LR", compact=True)
    assert compact.height < full.height / 1.5
    assert full.edge_labels and not compact.edge_labels
    assert layout_graph(star(1, 3), "LR", compact=True).edge_labels
