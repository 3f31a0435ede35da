"""Place an entity graph with igraph's layered (Sugiyama) layout and turn it into drawing geometry.

igraph assigns layers (breaking cycles with the Eades-Lin-Smyth feedback arc set), orders each
layer to reduce crossings and routes long edges through dummy vertices; see
docs/adr/0005-graph-layout-library.md for why igraph. This module only scales its unit grid to
fixed-size node boxes, rotates it for the requested direction, clips edges at the node borders and
separates parallel edges. Inputs are sorted first, so the same graph always gives the same picture.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import igraph

from greenroom.plugins.catalog_graph.graph import Direction, EntityGraph, GraphEdge, GraphNode

NODE_WIDTH = 188.0
NODE_HEIGHT = 50.0
PADDING = 24.0
# Distance between layers leaves room for the edge labels; within a layer nodes sit closer.
_GAPS: dict[str, tuple[float, float]] = {
    # direction kind: (distance between neighbours in a layer, distance between layers)
    "horizontal": (NODE_HEIGHT + 26.0, NODE_WIDTH + 120.0),
    "vertical": (NODE_WIDTH + 36.0, NODE_HEIGHT + 86.0),
}
_PARALLEL_SPACING = 16.0

Point = tuple[float, float]


@dataclass(frozen=True)
class PlacedNode:
    node: GraphNode
    x: float
    """Left edge of the node box."""
    y: float
    """Top edge of the node box."""
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT

    @property
    def center(self) -> Point:
        return (self.x + self.width / 2, self.y + self.height / 2)


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


def layout_graph(graph: EntityGraph, direction: Direction = "LR") -> GraphLayout:
    """Compute positions for every node and a route for every edge."""
    nodes = sorted(graph.nodes.values(), key=lambda n: n.ref)
    if not nodes:
        return GraphLayout(nodes=(), edges=(), width=2 * PADDING, height=2 * PADDING)
    index = {node.ref: i for i, node in enumerate(nodes)}
    edges = sorted(
        (e for e in graph.edges if e.source in index and e.target in index),
        key=lambda e: (e.source, e.target, e.relations),
    )
    g = igraph.Graph(n=len(nodes), edges=[(index[e.source], index[e.target]) for e in edges], directed=True)
    layout = g.layout_sugiyama(maxiter=100)
    coords = [tuple(c) for c in layout.coords]
    routing: list[list[Sequence[float]]] = list(getattr(layout, "edge_routing", None) or [[] for _ in edges])

    horizontal = direction in ("LR", "RL")
    in_layer_gap, layer_gap = _GAPS["horizontal" if horizontal else "vertical"]

    def place(point: Sequence[float]) -> Point:
        # igraph: x = position within the layer, y = layer index.
        along, layer = float(point[0]) * in_layer_gap, float(point[1]) * layer_gap
        return (layer, along) if horizontal else (along, layer)

    centers = [place(c) for c in coords]
    routes = [[place(p) for p in route] for route in routing]
    # Mirror for right-to-left and bottom-to-top.
    all_points = centers + [p for route in routes for p in route]
    max_x = max(p[0] for p in all_points)
    max_y = max(p[1] for p in all_points)

    def orient(p: Point) -> Point:
        x, y = p
        if direction == "RL":
            x = max_x - x
        if direction == "BT":
            y = max_y - y
        return (x + PADDING + NODE_WIDTH / 2, y + PADDING + NODE_HEIGHT / 2)

    centers = [orient(c) for c in centers]
    routes = [[orient(p) for p in route] for route in routes]
    placed = [
        PlacedNode(node=node, x=c[0] - NODE_WIDTH / 2, y=c[1] - NODE_HEIGHT / 2)
        for node, c in zip(nodes, centers, strict=True)
    ]

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
        start = _clip(sc, via[0] if via else tc, NODE_WIDTH / 2, NODE_HEIGHT / 2)
        end = _clip(tc, via[-1] if via else sc, NODE_WIDTH / 2, NODE_HEIGHT / 2)
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
    return GraphLayout(nodes=tuple(placed), edges=tuple(placed_edges), width=width, height=height)
