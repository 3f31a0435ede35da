"""The catalog graph plugin: relation graphs on entity pages and at /catalog-graph.

Contributes, through public extension points only: the entity tab "Dependencies" (`graph`), the
overview card "Relations" (depth 1), and the page `/catalog-graph` (nav item "Graph") taking
Backstage's parameters `rootEntityRefs[]`, `maxDepth`, `kinds[]`, `relations[]`, `direction`,
`unidirectional` and `mergeRelations`. A System or Domain defaults to its architecture view; any
other entity but a Group or User leaves out team membership unless asked (see `default_relations`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup
from starlette.datastructures import QueryParams

from greenroom.core import core_services as cs
from greenroom.core.plugin_api import PluginRegistrationPoints, create_plugin
from greenroom.core.services.instance import InstanceMetadata
from greenroom.core.services.web import WebService
from greenroom.core.web.shell import entity_href, humanize_entity_ref
from greenroom.plugins.catalog.client import CatalogApi, catalog_service_ref
from greenroom.plugins.catalog.query.filters import parse_filter_params
from greenroom.plugins.catalog.ui.registry import (
    EntityCard,
    EntityContext,
    EntityPageRegistry,
    EntityTab,
    entity_page_service_ref,
)
from greenroom.plugins.catalog_graph.graph import (
    ALL_RELATIONS,
    MEMBERSHIP_RELATIONS,
    SYSTEM_VIEW_KINDS,
    GraphOptions,
    normalize_ref,
)
from greenroom.plugins.catalog_graph.views import (
    SCRIPT_NAME,
    SCRIPT_URL,
    STATIC_DIR,
    ParsedOptions,
    apply_root_defaults,
    form_context,
    graph_query,
    parse_options,
    render_graph,
)

TEMPLATES = Path(__file__).parent / "templates"
PAGE_PATH = "/catalog-graph"
TAB_ID = "graph"
CARD_DEPTH = 1
TAB_DEPTH = 1
"""An ordinary entity's tab starts with its neighbours, small enough to read without zooming; a
System or Domain gets depth 2 (its view). The form widens it."""
PAGE_DEPTH = 2
"""The explorer is for looking further; it has room, zoom and panning for it."""
_ARCHITECTURE_LIMIT = 100
_NO_PARAMS = QueryParams("")


def _title_for(refs: tuple[str, ...]) -> str:
    shown = ", ".join(humanize_entity_ref(ref) for ref in refs[:3])
    return f"Relations of {shown}" + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")


def _tab_subtitle(kind: str, parsed: ParsedOptions, options: GraphOptions) -> str:
    """Say what a default view leaves out, so nobody takes it for the whole picture."""
    if parsed.relations_given:
        return "Click an entity to open it."
    if kind.lower() in SYSTEM_VIEW_KINDS:
        return f"Architecture view: the parts of this {kind.lower()} and their dependencies. Click an entity to open it."
    drawn = ALL_RELATIONS if options.relations is None else options.relations
    if not set(MEMBERSHIP_RELATIONS) & set(drawn):
        return "Click an entity to open it. Team membership is left out; add it under Relations and depth."
    return "Click an entity to open it."


class CatalogGraphUi:
    """The page, tab and card; each asks the catalog through its public query service."""

    def __init__(self, web: WebService, catalog: CatalogApi, logger: logging.Logger) -> None:
        self.web = web
        self.catalog = catalog
        self.logger = logger

    # -- entity tab ------------------------------------------------------------------------------

    def render_tab(self, ctx: EntityContext) -> Markup:
        ref = normalize_ref(ctx.entity_ref)
        parsed = parse_options(ctx.request.query_params, default_depth=TAB_DEPTH, root_refs=(ref,))
        options = apply_root_defaults(parsed)
        result = render_graph(self.catalog.service.query, options, uid=f"tab-{ref}", label=_title_for((ref,)))
        self._log(result.milliseconds, len(result.graph.nodes), "tab")
        base = entity_href(ref) or ""
        return self.web.render_fragment(
            "catalog_graph/tab.html",
            {
                "result": result,
                "form": form_context(options),
                "action": f"{base}/{TAB_ID}",
                "customised": bool(ctx.request.query_params),
                "explore_href": f"{PAGE_PATH}?{graph_query(options)}",
                "subtitle": _tab_subtitle(ctx.kind, parsed, options),
                "script_url": SCRIPT_URL,
            },
        )

    # -- overview card ---------------------------------------------------------------------------

    def render_card(self, ctx: EntityContext) -> Markup:
        ref = normalize_ref(ctx.entity_ref)
        # The card ignores the page's query string: it is always the depth-1 neighbourhood.
        options = replace(
            parse_options(_NO_PARAMS, default_depth=CARD_DEPTH, root_refs=(ref,)).options,
            root_edges_only=True,
        )
        result = render_graph(
            self.catalog.service.query, options, uid=f"card-{ref}", label=_title_for((ref,)), compact=True
        )
        self._log(result.milliseconds, len(result.graph.nodes), "card")
        return self.web.render_fragment(
            "catalog_graph/card.html",
            {"result": result, "tab_href": f"{entity_href(ref) or ''}/{TAB_ID}", "script_url": SCRIPT_URL},
        )

    # -- /catalog-graph --------------------------------------------------------------------------

    def page(self, request: Request) -> HTMLResponse:
        parsed = parse_options(request.query_params, default_depth=PAGE_DEPTH)
        options = apply_root_defaults(parsed)
        context: dict[str, Any] = {
            "form": form_context(options),
            "roots_text": ", ".join(options.root_refs),
            "missing_roots": [],
            "result": None,
            "architecture": [],
            "script_url": SCRIPT_URL,
            "title": _title_for(options.root_refs),
        }
        if options.root_refs:
            result = render_graph(
                self.catalog.service.query, options, uid="page", label=_title_for(options.root_refs)
            )
            self._log(result.milliseconds, len(result.graph.nodes), "page")
            context["result"] = result
            context["missing_roots"] = result.graph.missing_roots
        else:
            context["architecture"] = self._architecture_roots()
        return self.web.render(request, "catalog_graph/page.html", context, title="Catalog graph")

    def _architecture_roots(self) -> list[dict[str, str]]:
        """Systems and domains, as starting points for the catalog-wide architecture view."""
        page = self.catalog.service.query.query_entities(
            filter=parse_filter_params(["kind=domain", "kind=system"]),
            order_fields=[("kind", "asc"), ("metadata.name", "asc")],
            limit=_ARCHITECTURE_LIMIT,
            fields=["kind", "metadata.name", "metadata.namespace", "metadata.title"],
            total_items=False,
        )
        roots: list[dict[str, str]] = []
        for raw in page.items:
            entity = orjson.loads(raw)
            metadata = entity.get("metadata") or {}
            kind = str(entity.get("kind", "")).lower()
            namespace = str(metadata.get("namespace") or "default")
            ref = normalize_ref(f"{kind}:{namespace}/{metadata.get('name', '')}")
            query = graph_query(
                apply_root_defaults(parse_options(_NO_PARAMS, default_depth=PAGE_DEPTH, root_refs=(ref,)))
            )
            roots.append(
                {
                    "kind": kind,
                    "title": str(metadata.get("title") or metadata.get("name", "")),
                    "query": query,
                }
            )
        return roots

    def _log(self, milliseconds: float, nodes: int, where: str) -> None:
        self.logger.debug("catalog graph %s: %d nodes in %.1f ms", where, nodes, milliseconds)


def create_page_router(ui: CatalogGraphUi) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(PAGE_PATH, response_class=HTMLResponse)
    def catalog_graph_page(request: Request) -> HTMLResponse:
        return ui.page(request)

    @router.get(f"{PAGE_PATH}/static/{SCRIPT_NAME}")
    def catalog_graph_script() -> Response:
        return FileResponse(
            STATIC_DIR / SCRIPT_NAME,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=31536000, immutable"},
        )

    return router


def register(env: PluginRegistrationPoints) -> None:
    def init(
        web: WebService,
        logger: logging.Logger,
        catalog: CatalogApi,
        entity_page: EntityPageRegistry,
        instance: InstanceMetadata,
    ) -> None:
        if not instance.serves_http:
            return
        ui = CatalogGraphUi(web, catalog, logger)
        web.add_template_dir(TEMPLATES)
        web.add_nav_item("Graph", PAGE_PATH, icon="graph", order=40)
        web.add_page_router(create_page_router(ui))
        entity_page.add_tab(
            EntityTab(
                id=TAB_ID, title="Dependencies", render=ui.render_tab, order=50, plugin_id="catalog-graph"
            )
        )
        entity_page.add_card(
            EntityCard(
                id="catalog-graph-relations",
                title="Relations",
                render=ui.render_card,
                area="main",
                order=15,
                plugin_id="catalog-graph",
            )
        )

    env.register_init(
        deps={
            "web": cs.web,
            "logger": cs.logger,
            "catalog": catalog_service_ref,
            "entity_page": entity_page_service_ref,
            "instance": cs.instance_metadata,
        },
        init=init,
    )


plugin = create_plugin(
    "catalog-graph",
    register,
    title="Catalog Graph",
    description="Relation graphs of catalog entities: a Dependencies tab, a Relations card and "
    "the /catalog-graph explorer.",
)
