"""Draw a laid-out entity graph as inline SVG (a Jinja template with autoescape on).

Every node is an `<a>` to its entity page (refs URL-encoded by `entity_href`), focusable and with
an accessible name; names and titles from YAML only ever reach the markup escaped. Colours come
from CSS custom properties (`gr-graph-…` in greenroom.css), so light and dark themes just work.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

from greenroom.core.web.icons import icon
from greenroom.core.web.shell import entity_href
from greenroom.plugins.catalog_graph.graph import RELATION_TITLES, EntityGraph
from greenroom.plugins.catalog_graph.layout import GraphLayout
from greenroom.plugins.catalog_graph.text_metrics import EDGE_LABEL_STYLE, FONT_FAMILY, KIND_STYLE, NAME_STYLE

TEMPLATES = Path(__file__).parent / "templates"

# kind -> (icon name from the shell's set, CSS modifier); unknown kinds share the "other" colour.
KIND_STYLES: dict[str, tuple[str, str]] = {
    "component": ("box", "component"),
    "api": ("api", "api"),
    "resource": ("plug", "resource"),
    "system": ("catalog", "system"),
    "domain": ("graph", "domain"),
    "group": ("group", "group"),
    "user": ("user", "user"),
    "template": ("create", "template"),
    "location": ("docs", "location"),
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def kind_style(kind: str) -> tuple[str, str]:
    return KIND_STYLES.get(kind.lower(), ("box", "other"))


def relation_title(name: str) -> str:
    return RELATION_TITLES.get(name, name)


_env.globals.update(
    icon=icon,
    entity_href=entity_href,
    kind_style=kind_style,
    relation_title=relation_title,
    FONT_FAMILY=FONT_FAMILY,
    NAME_STYLE=NAME_STYLE,
    KIND_STYLE=KIND_STYLE,
    EDGE_LABEL_STYLE=EDGE_LABEL_STYLE,
)


def render_graph_svg(
    graph: EntityGraph, layout: GraphLayout, *, uid: str, label: str, compact: bool = False
) -> Markup:
    """The `<svg>` for a graph; `uid` keeps marker ids unique when a page shows several graphs."""
    template = _env.get_template("catalog_graph/graph.svg.html")
    return Markup(template.render(graph=graph, layout=layout, uid=uid, label=label, compact=compact).strip())
