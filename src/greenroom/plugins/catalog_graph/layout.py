"""Place an entity graph with igraph's layered (Sugiyama) layout and turn it into drawing geometry.

igraph assigns layers (breaking cycles with the Eades-Lin-Smyth feedback arc set), orders each
layer to reduce crossings and routes long edges through dummy vertices; see
docs/adr/0005-graph-layout-library.md for why igraph. This module only scales its unit grid to
node boxes, rotates it for the requested direction, clips edges at the node borders and separates
parallel edges. Inputs are sorted first, so the same graph always gives the same picture.

Boxes are as wide as their labels need, measured with the font's real advance widths
(text_metrics.py) and bounded by `MIN_NODE_WIDTH`..`MAX_NODE_WIDTH`: per column when layers run left
to right, one width when they run top to bottom (igraph spaces a layer on a uniform grid). Labels
wider than that are cut with an ellipsis here, so the template only draws text known to fit.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import igraph

from greenroom.plugins.catalog_graph.graph import Direction, EntityGraph, GraphEdge, GraphNode
from greenroom.plugins.catalog_graph.text_metrics import EDGE_LABEL_STYLE, KIND_STYLE, NAME_STYLE

NODE_HEIGHT = 50.0
MIN_NODE_WIDTH = 150.0
MAX_NODE_WIDTH = 260.0
"""Longer labels are cut with an ellipsis: wider boxes would make every graph wide for one name."""
TEXT_INSET = 46.0
"""From the box's left edge to its text: room for the kind icon chip."""
TEXT_END_PADDING = 12.0
_TEXT_CLIP_INSET = 3.0
PADDING = 24.0
COMPACT_EDGE_LABEL_LIMIT = 12
"""A compact graph with more edges than this leaves out edge labels; they would only pile up."""
# Between neighbours in a layer (nodes sit close; the compact card tighter still) and the room an
# edge needs between layers besides its label.
_IN_LAYER_GAP = {"horizontal": 26.0, "vertical": 36.0}
_COMPACT_IN_LAYER_GAP = {"horizontal": 12.0, "vertical": 20.0}
_EDGE_ROOM = 60.0
_EDGE_LABEL_MARGIN = 20.0
_VERTICAL_LAYER_GAP = 86.0
_PARALLEL_SPACING = 16.0

Point = tuple[float, float]


@dataclass(frozen=True)
class PlacedNode:
    node: GraphNode
    x: float
    """Left edge of the node box."""
    y: float
    """Top edge of the node box."""
    width: float
    height: float
    name_text: str
    """The label as drawn: the full title or name, or as much of it as fits, with an ellipsis."""
    kind_text: str
    """The kind and type line as drawn, shortened the same way."""

    @property
    def center(self) -> Point:
        return (self.x + self.width / 2, self.y + self.height / 2)

    @property
    def text_x(self) -> float:
        return self.x + TEXT_INSET

    @property
    def text_width(self) -> float:
        """The width the labels may take: from `text_x` to the padding before the right edge."""
        return self.width - TEXT_INSET - TEXT_END_PADDING

    @property
    def text_clip_width(self) -> float:
        """Text is clipped just inside the border, in case a browser draws it wider than measured."""
        return self.width - TEXT_INSET - _TEXT_CLIP_INSET


@dataclass(frozen=True)
class PlacedEdge:
    edge: GraphEdge
    points: tuple[Point, ...]
    """From the source's border, through the routing points, to the target's border."""
    label_at: Point

    @property
    def path(self) -> str:
        """An SVG path: straight segments joined by quadratic curves through the routing points."""
        pts = self.points
        if len(pts) == 2:
            return f"M{_fmt(pts[0])} L{_fmt(pts[1])}"
        parts = [f"M{_fmt(pts[0])}"]
        for i in range(1, len(pts) - 1):
            parts.append(f"L{_fmt(_mid(pts[i - 1], pts[i]))}")
            parts.append(f"Q{_fmt(pts[i])} {_fmt(_mid(pts[i], pts[i + 1]))}")
        parts.append(f"L{_fmt(pts[-1])}")
        return " ".join(parts)


@dataclass(frozen=True)
class GraphLayout:
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    width: float
    height: float
    edge_labels: bool = True
    """Whether relation names are drawn on the edges."""

    @property
    def view_box(self) -> str:
        return f"0 0 {_num(self.width)} {_num(self.height)}"


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _fmt(point: Point) -> str:
    return f"{_num(point[0])},{_num(point[1])}"


def _mid(a: Point, b: Point) -> Point:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)


def _clip(center: Point, toward: Point, half_w: float, half_h: float) -> Point:
    """Where the segment from a box's center toward `toward` leaves the box."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    if dx == 0 and dy == 0:
        return center
    scale = min(half_w / abs(dx) if dx else math.inf, half_h / abs(dy) if dy else math.inf)
    return (center[0] + dx * scale, center[1] + dy * scale)


def _polyline_point(points: Sequence[Point], fraction: float) -> Point:
    """The point `fraction` of the way along a polyline."""
    lengths = [math.dist(a, b) for a, b in itertools.pairwise(points)]
    half = sum(lengths) * fraction
    for (a, b), length in zip(itertools.pairwise(points), lengths, strict=True):
        if half <= length and length > 0:
            t = half / length
            return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
        half -= length
    return points[-1]


def _balanced_star_layers(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> list[int] | None:
    """Layers for a star (one root, every edge touching it) with the neighbours split evenly.

    Layered by direction alone, everything the root points at lands in one layer: a tall column
    that a card can only show by scaling it down until it is unreadable. Half of it beside the root
    on the other side halves the height; arrows still point the true way. None if not a star.
    """
    roots = [node.ref for node in nodes if node.is_root]
    if not edges or len(roots) != 1 or any(roots[0] not in (e.source, e.target) for e in edges):
        return None
    root = roots[0]
    before: dict[str, None] = {}
    after: dict[str, None] = {}
    for e in edges:  # sorted, so the split is deterministic
        other = e.source if e.target == root else e.target
        if other != root and other not in before and other not in after:
            (before if e.target == root else after)[other] = None
    first, last = list(before), list(after)
    for node in nodes:  # not linked to the root by a drawn edge: fill the shorter side
        if node.ref != root and node.ref not in before and node.ref not in after:
            (first if len(first) <= len(last) else last).append(node.ref)
    while len(last) - len(first) > 1:
        first.append(last.pop())
    while len(first) - len(last) > 1:
        last.insert(0, first.pop())
    layer = {root: 1} | dict.fromkeys(first, 0) | dict.fromkeys(last, 2)
    return [layer[node.ref] for node in nodes]


def node_width(nodes: Sequence[GraphNode]) -> float:
    """One width for a set of boxes (a column, or a whole graph): enough for the longest label."""
    needed = max((max(NAME_STYLE.width(n.label), KIND_STYLE.width(n.kind_line)) for n in nodes), default=0.0)
    return min(MAX_NODE_WIDTH, max(MIN_NODE_WIDTH, math.ceil(needed + TEXT_INSET + TEXT_END_PADDING)))


def layout_graph(graph: EntityGraph, direction: Direction = "LR", *, compact: bool = False) -> GraphLayout:
    """Compute positions for every node and a route for every edge.

    `compact` (the overview card) packs each layer tighter, splits a star's neighbours over both
    sides of the root and drops edge labels once there are more than `COMPACT_EDGE_LABEL_LIMIT`
    edges, so the whole drawing can be scaled into a card and still be read.
    """
    nodes = sorted(graph.nodes.values(), key=lambda n: n.ref)
    if not nodes:
        return GraphLayout(nodes=(), edges=(), width=2 * PADDING, height=2 * PADDING)
    index = {node.ref: i for i, node in enumerate(nodes)}
    edges = sorted(
        (e for e in graph.edges if e.source in index and e.target in index),
        key=lambda e: (e.source, e.target, e.relations),
    )
    g = igraph.Graph(n=len(nodes), edges=[(index[e.source], index[e.target]) for e in edges], directed=True)
    layout = g.layout_sugiyama(layers=_balanced_star_layers(nodes, edges) if compact else None, maxiter=100)
    coords = [tuple(c) for c in layout.coords]
    routing: list[list[Sequence[float]]] = list(getattr(layout, "edge_routing", None) or [[] for _ in edges])

    horizontal = direction in ("LR", "RL")
    edge_labels = not compact or len(edges) <= COMPACT_EDGE_LABEL_LIMIT
    gaps = _COMPACT_IN_LAYER_GAP if compact else _IN_LAYER_GAP
    in_layer_room = gaps["horizontal" if horizontal else "vertical"]
    layer_of = [round(float(c[1])) for c in coords[: len(nodes)]]
    if horizontal:
        # Layers are columns: each as wide as its own longest label, with room for the widest edge
        # label between neighbouring columns.
        label_room = (
            max((EDGE_LABEL_STYLE.width(e.label) for e in edges), default=0.0) if edge_labels else 0.0
        )
        between = max(_EDGE_ROOM, label_room + 2 * _EDGE_LABEL_MARGIN)
        members: dict[int, list[GraphNode]] = defaultdict(list)
        for node, layer in zip(nodes, layer_of, strict=True):
            members[layer].append(node)
        column_widths = [node_width(members[layer]) for layer in range(max(layer_of) + 1)]
        column_centers: list[float] = []
        left = 0.0
        for column_width in column_widths:
            column_centers.append(left + column_width / 2)
            left += column_width + between
        widths = [column_widths[layer] for layer in layer_of]
    else:
        # Layers are rows; igraph spaces a row's nodes on a uniform grid, so all share one width.
        widths = [node_width(nodes)] * len(nodes)

    def layer_position(layer: float) -> float:
        """The centre of a layer, between two layers for a routing point that lies between them."""
        if not horizontal:
            return layer * (NODE_HEIGHT + _VERTICAL_LAYER_GAP)
        low = max(0, min(math.floor(layer), len(column_centers) - 1))
        high = max(0, min(math.ceil(layer), len(column_centers) - 1))
        return column_centers[low] + (column_centers[high] - column_centers[low]) * (layer - low)

    in_layer_gap = (NODE_HEIGHT if horizontal else widths[0]) + in_layer_room

    def place(point: Sequence[float]) -> Point:
        # igraph: x = position within the layer, y = layer index. RL and BT are mirror images.
        along, across = float(point[0]) * in_layer_gap, layer_position(float(point[1]))
        x, y = (across, along) if horizontal else (along, across)
        return (-x if direction == "RL" else x, -y if direction == "BT" else y)

    centers = [place(c) for c in coords[: len(nodes)]]
    routes = [[place(p) for p in route] for route in routing]
    # Move the drawing to the padding: igraph's grid need not start at 0, and mirroring negates it.
    route_points = [p for route in routes for p in route]
    min_x = min([c[0] - w / 2 for c, w in zip(centers, widths, strict=True)] + [p[0] for p in route_points])
    min_y = min([c[1] - NODE_HEIGHT / 2 for c in centers] + [p[1] for p in route_points])

    def shift(p: Point) -> Point:
        return (p[0] - min_x + PADDING, p[1] - min_y + PADDING)

    centers = [shift(c) for c in centers]
    routes = [[shift(p) for p in route] for route in routes]
    placed: list[PlacedNode] = []
    for node, c, box_width in zip(nodes, centers, widths, strict=True):
        text_width = box_width - TEXT_INSET - TEXT_END_PADDING
        placed.append(
            PlacedNode(
                node=node,
                x=c[0] - box_width / 2,
                y=c[1] - NODE_HEIGHT / 2,
                width=box_width,
                height=NODE_HEIGHT,
                name_text=NAME_STYLE.fit(node.label, text_width),
                kind_text=KIND_STYLE.fit(node.kind_line, text_width),
            )
        )

    # Edges joining the same two nodes (a relation and its reverse, or two relation types) are
    # bowed apart so that each stays visible and clickable.
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, e in enumerate(edges):
        a, b = index[e.source], index[e.target]
        groups[(min(a, b), max(a, b))].append(i)

    degree: dict[str, int] = defaultdict(int)
    for e in edges:
        degree[e.source] += 1
        degree[e.target] += 1

    placed_edges: list[PlacedEdge] = []
    for i, e in enumerate(edges):
        s, t = index[e.source], index[e.target]
        sc, tc = centers[s], centers[t]
        via = list(routes[i]) if i < len(routes) else []
        if via and math.dist(sc, via[0]) > math.dist(sc, via[-1]):
            via.reverse()  # igraph routes reversed (cycle-breaking) edges from the other end
        group = groups[(min(s, t), max(s, t))]
        if len(group) > 1:
            offset = (group.index(i) - (len(group) - 1) / 2) * _PARALLEL_SPACING * 2
            low, high = centers[min(s, t)], centers[max(s, t)]
            dx, dy = high[0] - low[0], high[1] - low[1]
            norm = math.hypot(dx, dy) or 1.0
            nx, ny = -dy / norm * offset, dx / norm * offset
            via = [(p[0] + nx, p[1] + ny) for p in via] or [(_mid(sc, tc)[0] + nx, _mid(sc, tc)[1] + ny)]
        start = _clip(sc, via[0] if via else tc, widths[s] / 2, NODE_HEIGHT / 2)
        end = _clip(tc, via[-1] if via else sc, widths[t] / 2, NODE_HEIGHT / 2)
        points = (start, *via, end)
        # Labels sit toward the less connected end, so a fan of edges does not stack its labels.
        fraction = (
            0.5
            if degree[e.source] == degree[e.target]
            else 0.68
            if degree[e.source] > degree[e.target]
            else 0.32
        )
        placed_edges.append(PlacedEdge(edge=e, points=points, label_at=_polyline_point(points, fraction)))

    width = max(n.x + n.width for n in placed) + PADDING
    height = max(n.y + n.height for n in placed) + PADDING
    extra = [p for pe in placed_edges for p in pe.points]
    width = max(width, *(p[0] + PADDING for p in extra)) if extra else width
    height = max(height, *(p[1] + PADDING for p in extra)) if extra else height
    return GraphLayout(
        nodes=tuple(placed), edges=tuple(placed_edges), width=width, height=height, edge_labels=edge_labels
    )
