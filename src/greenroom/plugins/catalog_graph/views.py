"""Turn request parameters into graph options, and a graph into the markup the pages embed."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.datastructures import QueryParams

from greenroom.plugins.catalog_graph.graph import (
    DIRECTIONS,
    KINDS,
    MAX_DEPTH,
    RELATION_PAIRS,
    RELATION_TITLES,
    Direction,
    EntityGraph,
    EntityLookup,
    GraphOptions,
    build_graph,
    parse_refs,
)
from greenroom.plugins.catalog_graph.layout import GraphLayout, layout_graph
from greenroom.plugins.catalog_graph.render import render_graph_svg

STATIC_DIR = Path(__file__).parent / "static"
SCRIPT_NAME = "catalog-graph.js"
SCRIPT_VERSION = hashlib.sha256((STATIC_DIR / SCRIPT_NAME).read_bytes()).hexdigest()[:12]
SCRIPT_URL = f"/catalog-graph/static/{SCRIPT_NAME}?v={SCRIPT_VERSION}"

_RELATION_NAME = re.compile(r"^\w{1,64}$")
_FALSE = {"false", "0", "off", "no"}


@dataclass(frozen=True)
class ParsedOptions:
    options: GraphOptions
    relations_given: bool
    depth_given: bool


def _last(params: QueryParams, *names: str) -> str | None:
    for name in names:
        values = params.getlist(name)
        if values:
            return values[-1]
    return None


def _list(params: QueryParams, name: str) -> list[str]:
    return [*params.getlist(f"{name}[]"), *params.getlist(name)]


def _flag(params: QueryParams, name: str, default: bool) -> bool:
    value = _last(params, name)
    if value is None:
        return default
    return value.strip().lower() not in _FALSE


def parse_options(
    params: QueryParams, *, default_depth: int, root_refs: tuple[str, ...] | None = None
) -> ParsedOptions:
    """Backstage's catalog-graph query parameters (`rootEntityRefs[]`, `maxDepth`, `kinds[]`, ...)."""
    roots = root_refs if root_refs is not None else parse_refs(_list(params, "rootEntityRefs"))
    depth_text = _last(params, "maxDepth")
    depth = default_depth
    depth_given = False
    if depth_text is not None and depth_text.strip():
        text = depth_text.strip().lower()
        if text in ("inf", "infinity", "∞"):
            depth, depth_given = MAX_DEPTH, True
        elif text.isdigit():
            depth, depth_given = min(max(int(text), 1), MAX_DEPTH), True
    kinds = tuple(
        dict.fromkeys(k.strip().lower() for v in _list(params, "kinds") for k in v.split(",") if k.strip())
    )
    relations = tuple(
        dict.fromkeys(
            r.strip()
            for v in _list(params, "relations")
            for r in v.split(",")
            if _RELATION_NAME.match(r.strip())
        )
    )
    direction_text = (_last(params, "direction") or "LR").strip().upper()
    direction: Direction = next((d for d in DIRECTIONS if d == direction_text), "LR")
    options = GraphOptions(
        root_refs=roots,
        max_depth=depth,
        kinds=kinds or None,
        relations=relations or None,
        direction=direction,
        unidirectional=_flag(params, "unidirectional", True),
        merge_relations=_flag(params, "mergeRelations", True),
    )
    return ParsedOptions(options, relations_given=bool(relations), depth_given=depth_given)


def apply_root_defaults(parsed: ParsedOptions) -> GraphOptions:
    """Kind-specific defaults of the first root: a System's architecture view, no team membership."""
    options = parsed.options
    if not options.root_refs:
        return options
    root_kind = options.root_refs[0].partition(":")[0]
    return options.with_defaults_for(
        root_kind, relations_given=parsed.relations_given, depth_given=parsed.depth_given
    )


def graph_query(options: GraphOptions) -> str:
    """The `/catalog-graph` query string for these options (shareable, Backstage-compatible)."""
    items: list[tuple[str, str]] = [("rootEntityRefs[]", ref) for ref in options.root_refs]
    items.append(("maxDepth", str(options.max_depth)))
    items += [("kinds[]", kind) for kind in options.kinds or ()]
    items += [("relations[]", rel) for rel in options.relations or ()]
    items.append(("direction", options.direction))
    items.append(("unidirectional", "true" if options.unidirectional else "false"))
    items.append(("mergeRelations", "true" if options.merge_relations else "false"))
    return urlencode(items)


@dataclass(frozen=True)
class RenderedGraph:
    graph: EntityGraph
    layout: GraphLayout
    svg: Markup
    options: GraphOptions
    milliseconds: float


def render_graph(
    lookup: EntityLookup, options: GraphOptions, *, uid: str, label: str, compact: bool = False
) -> RenderedGraph:
    """Build, lay out and draw; the timing is shown in the page's footer note for operators."""
    started = time.perf_counter()
    graph = build_graph(lookup, options)
    layout = layout_graph(graph, options.direction, compact=compact)
    uid = re.sub(r"[^a-z0-9-]", "-", uid.lower())
    svg = render_graph_svg(graph, layout, uid=uid, label=label, compact=compact)
    return RenderedGraph(graph, layout, svg, options, (time.perf_counter() - started) * 1000)


def form_context(options: GraphOptions) -> dict[str, Any]:
    """What the options form needs: every choice with its checked state."""
    selected_relations = set(options.relations or ())
    all_relations = options.relations is None
    selected_kinds = set(options.kinds or ())
    return {
        "relation_choices": [
            [(name, RELATION_TITLES[name], all_relations or name in selected_relations) for name in pair]
            for pair in RELATION_PAIRS
        ],
        "kind_choices": [(kind, options.kinds is None or kind in selected_kinds) for kind in KINDS],
        "depth_choices": list(range(1, MAX_DEPTH + 1)),
        "direction_choices": [
            ("LR", "Left to right"),
            ("RL", "Right to left"),
            ("TB", "Top to bottom"),
            ("BT", "Bottom to top"),
        ],
        "options": options,
    }
