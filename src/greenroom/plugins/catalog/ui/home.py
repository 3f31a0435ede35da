"""Home page widgets: catalog counts by kind, your team's entities, starred and recently visited.

Each widget is one or two SQL statements (facets, a cursor page or a lookup by refs) and always
renders, with an empty state that says how to fill it, so the home page explains itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from greenroom.plugins.catalog.query.entities import normalize_ref
from greenroom.plugins.catalog.query.filters import FieldMatch
from greenroom.plugins.catalog.ui import UiContext
from greenroom.plugins.catalog.ui.catalog_index import (
    CatalogIndexQuery,
    current_user_ref,
    ownership_refs,
    starred_refs,
)

ORDER = 90

LIST_LIMIT = 8
_FIELDS = ["kind", "metadata.name", "metadata.namespace", "metadata.title", "spec.type"]


def _summaries(raw: Sequence[bytes | None], refs: Sequence[str]) -> list[dict[str, Any]]:
    """List items for refs in order; a ref whose entity is gone stays, marked missing."""
    items: list[dict[str, Any]] = []
    for ref, data in zip(refs, raw, strict=True):
        if data is None:
            items.append({"ref": ref, "kind": "", "title": ref, "type": "", "missing": True})
            continue
        entity = orjson.loads(data)
        metadata = entity.get("metadata") or {}
        spec = entity.get("spec") or {}
        items.append(
            {
                "ref": ref,
                "kind": entity.get("kind") or "",
                "title": metadata.get("title") or metadata.get("name") or ref,
                "type": spec.get("type") if isinstance(spec.get("type"), str) else "",
                "missing": False,
            }
        )
    return items


def _ref_of(data: bytes) -> str:
    entity = orjson.loads(data)
    metadata = entity.get("metadata") or {}
    kind = str(entity.get("kind") or "").lower()
    return f"{kind}:{metadata.get('namespace') or 'default'}/{metadata.get('name')}"


def install(ui: UiContext) -> None:
    web = ui.web
    query = ui.catalog.query
    counts = CatalogIndexQuery(ui.catalog)

    def kinds_widget(request: Request) -> Markup:
        return web.render_fragment("catalog/home/kinds.html", {"kinds": counts.kind_counts()})

    def team_widget(request: Request) -> Markup:
        user = current_user_ref(request)
        refs = ownership_refs(ui.catalog, user)
        groups = [ref for ref in refs if not ref.startswith("user:")]
        context: dict[str, Any] = {
            "signed_in": user is not None,
            "groups": groups,
            "group_names": [ref.rsplit("/", 1)[-1] for ref in groups],
            "items": [],
            "kinds": [],
        }
        if groups:
            owned = FieldMatch("relations.ownedby", tuple(groups))
            page = query.query_entities(
                filter=owned, order_fields=[("metadata.name", "asc")], limit=LIST_LIMIT, fields=_FIELDS
            )
            context["items"] = _summaries(page.items, [_ref_of(data) for data in page.items])
            context["total"] = page.total_items
            owner_params = [("owner", group) for group in groups]
            context["kinds"] = [
                (kind, count, "/catalog?" + urlencode([("kind", kind.lower()), *owner_params]))
                for kind, count in counts.kind_counts(groups)
            ]
        return web.render_fragment("catalog/home/team.html", context)

    def starred_widget(request: Request) -> Markup:
        user = current_user_ref(request)
        refs = starred_refs(ui.user_settings, user)
        items = _summaries(query.entities_by_refs(refs, fields=_FIELDS), refs) if refs else []
        return web.render_fragment(
            "catalog/home/starred.html", {"signed_in": user is not None, "items": items}
        )

    def recent_widget(request: Request) -> Markup:
        user = current_user_ref(request)
        refs: list[str] = []
        if user:
            try:
                refs = [r for r in ui.user_settings.recently_visited(user) if isinstance(r, str)][:LIST_LIMIT]
            except Exception:  # the home page must render even when the settings store does not
                ui.logger.exception("Could not read the recently visited entities of %s", user)
        items = _summaries(query.entities_by_refs(refs, fields=_FIELDS), refs) if refs else []
        return web.render_fragment(
            "catalog/home/recent.html", {"signed_in": user is not None, "items": items}
        )

    web.add_home_widget("catalog-kinds", kinds_widget, order=10)
    web.add_home_widget("catalog-team", team_widget, order=20)
    web.add_home_widget("catalog-starred", starred_widget, order=30)
    web.add_home_widget("catalog-recent", recent_widget, order=40)

    router = APIRouter()

    @router.post("/home/starred", include_in_schema=False)
    def set_starred(
        request: Request, entity_ref: str = Form(...), starred: str = Form("false")
    ) -> RedirectResponse:
        """Star or unstar from the home page; works for stars whose entity no longer exists."""
        user = current_user_ref(request)
        if user and entity_ref.strip():
            want = starred.lower() in ("true", "1", "on")
            current = {normalize_ref(ref): ref for ref in starred_refs(ui.user_settings, user)}
            ref = current.get(normalize_ref(entity_ref), entity_ref.strip())
            ui.user_settings.set_starred(user, ref, want)
        return RedirectResponse("/#starred", status_code=303)

    web.add_page_router(router)
