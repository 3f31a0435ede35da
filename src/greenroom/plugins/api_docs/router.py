"""Page routes: the explorer, a full-page definition view and the raw definition download."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from greenroom.core.errors import NotFoundError
from greenroom.core.services.web import WebService
from greenroom.plugins.api_docs.definition import RenderCache, build_view, definition_text
from greenroom.plugins.api_docs.explorer import ExplorerParams, definition_tab_href, explore
from greenroom.plugins.api_docs.highlight import guess_language
from greenroom.plugins.catalog.client import CatalogApi

_EXTENSIONS = {"json": "json", "yaml": "yaml", "graphql": "graphql", "proto": "proto", "text": "txt"}
_MEDIA_TYPES = {
    "json": "application/json",
    "yaml": "application/yaml",
    "graphql": "application/graphql",
    "proto": "text/x-protobuf",
    "text": "text/plain",
}
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def raw_href(namespace: str, name: str) -> str:
    from urllib.parse import quote

    return f"/api-docs/{quote(namespace.lower(), safe='')}/{quote(name, safe='')}/definition"


class DefinitionRenderer:
    """Renders the Definition fragment for an API entity, caching by definition content."""

    def __init__(self, web: WebService) -> None:
        self.web = web
        self.cache = RenderCache()

    def render(self, entity: dict[str, Any], request: Request, *, page_href: str | None = None) -> Markup:
        metadata = entity.get("metadata") or {}
        spec = entity.get("spec") or {}
        namespace = str(metadata.get("namespace") or "default")
        name = str(metadata.get("name") or "")
        spec_type = str(spec.get("type") or "")
        text = definition_text(entity) or ""
        href = raw_href(namespace, name)
        key = RenderCache.key(spec_type, text, href, page_href or "")
        body = self.cache.get(key)
        if body is None:
            view = build_view(spec_type, text) if text else None
            body = self.web.render_fragment(
                "api-docs/body.html", {"view": view, "raw_href": href, "page_href": page_href}
            )
            self.cache.put(key, body)
        nonce = getattr(request.state, "csp_nonce", None)
        script = self.web.render_fragment("api-docs/script.html", {"csp_nonce": nonce})
        return Markup(body + script)


def _api_entity(catalog: CatalogApi, namespace: str, name: str) -> dict[str, Any]:
    entity = catalog.service.query.entity_json_by_ref(f"api:{namespace}/{name}")
    if entity is None:
        raise NotFoundError(f"No API named '{name}' in namespace '{namespace}'")
    return entity


def create_page_router(web: WebService, catalog: CatalogApi, renderer: DefinitionRenderer) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/api-docs", response_class=HTMLResponse)
    def explorer(request: Request) -> HTMLResponse:
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        params = ExplorerParams.from_query(query)
        result = explore(catalog.service, params)
        return web.render(
            request, "api-docs/explorer.html", {"params": params, "result": result}, title="APIs"
        )

    @router.get("/api-docs/{namespace}/{name}", response_class=HTMLResponse)
    def definition_page(request: Request, namespace: str, name: str) -> HTMLResponse:
        entity = _api_entity(catalog, namespace, name)
        metadata = entity.get("metadata") or {}
        title = str(metadata.get("title") or metadata.get("name") or name)
        return web.render(
            request,
            "api-docs/page.html",
            {
                "entity": entity,
                "entity_ref": f"api:{metadata.get('namespace') or namespace}/{metadata.get('name') or name}",
                "entity_tab_href": definition_tab_href(namespace, name),
                "definition": renderer.render(entity, request),
            },
            title=title,
        )

    @router.get("/api-docs/{namespace}/{name}/definition")
    def raw_definition(namespace: str, name: str) -> Response:
        entity = _api_entity(catalog, namespace, name)
        text = definition_text(entity)
        if text is None:
            raise NotFoundError(f"API '{namespace}/{name}' has no definition")
        spec = entity.get("spec") or {}
        language = guess_language(text, str(spec.get("type") or ""))
        filename = (
            _FILENAME_UNSAFE.sub("-", str((entity.get("metadata") or {}).get("name") or name)) or "api"
        )[:100]
        return Response(
            content=text.encode("utf-8", "replace"),
            media_type=f"{_MEDIA_TYPES[language]}; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}.{_EXTENSIONS[language]}"',
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "Cache-Control": "no-cache",
            },
        )

    return router
