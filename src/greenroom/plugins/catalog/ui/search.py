"""Search (`/search?q=`): catalog full-text results until a search plugin takes the route over.

Matches are substrings of an entity's name or title (ranked first) or description, or a tag equal
to the term ("java" finds what is tagged java), found in SQL on the `search` index; the shell's
search box posts here. Highlighting splits the text into
plain and matched segments that the template escapes, so no user value is ever marked safe.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from greenroom.plugins.catalog.query.filters import substring_match
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.tables import final_entities, search
from greenroom.plugins.catalog.ui import UiContext

ORDER = 30

PAGE_SIZE = 20
MAX_TERM_LENGTH = 200
_KEYS = ("metadata.name", "metadata.title", "metadata.description")
_TAG_KEY = "metadata.tags"
MAX_TAGS_SHOWN = 8


def highlight(text: str, term: str) -> list[tuple[str, bool]]:
    """Split `text` into (segment, is_match) pairs for every case-insensitive occurrence of `term`."""
    if not term:
        return [(text, False)] if text else []
    lowered, needle = text.lower(), term.lower()
    segments: list[tuple[str, bool]] = []
    position = 0
    while True:
        found = lowered.find(needle, position)
        # Lower-casing can change the length of a few characters; then give up highlighting.
        if found < 0 or len(lowered) != len(text):
            break
        if found > position:
            segments.append((text[position:found], False))
        segments.append((text[found : found + len(needle)], True))
        position = found + len(needle)
    if position < len(text):
        segments.append((text[position:], False))
    return segments


class CatalogSearch:
    """Ranked matches: a name match beats a title match beats a description match beats a tag."""

    def __init__(self, catalog: CatalogService) -> None:
        self.engine = catalog.store.read_engine

    def run(self, term: str, *, kind: str | None, page: int) -> dict[str, Any]:
        rank = sa.case(
            (search.c.key == "metadata.name", 0),
            (search.c.key == "metadata.title", 1),
            (search.c.key == _TAG_KEY, 3),
            else_=2,
        )
        needle = term.lower()
        matches = (
            sa.select(search.c.entity_id, sa.func.min(rank).label("rank"))
            .where(
                sa.or_(
                    substring_match(_KEYS, needle),
                    sa.and_(search.c.key == _TAG_KEY, search.c.value == needle),
                )
            )
            .group_by(search.c.entity_id)
            .subquery("matches")
        )
        kind_value = search.alias("kind_value")
        by_kind = (
            sa.select(kind_value.c.original_value, sa.func.count())
            .select_from(matches.join(kind_value, kind_value.c.entity_id == matches.c.entity_id))
            .where(kind_value.c.key == "kind")
            .group_by(kind_value.c.original_value)
        )
        statement = (
            sa.select(final_entities.c.final_entity, matches.c.rank)
            .select_from(matches.join(final_entities, final_entities.c.entity_id == matches.c.entity_id))
            .order_by(matches.c.rank, final_entities.c.entity_ref)
            .limit(PAGE_SIZE + 1)
            .offset((page - 1) * PAGE_SIZE)
        )
        if kind:
            statement = statement.where(
                matches.c.entity_id.in_(
                    sa.select(search.c.entity_id).where(
                        search.c.key == "kind", search.c.value == kind.lower()
                    )
                )
            )
        with self.engine.connect() as connection:
            kinds: dict[str, int] = {}
            for value, count in connection.execute(by_kind):
                kinds[value] = kinds.get(value, 0) + count
            rows = list(connection.execute(statement))
        more = len(rows) > PAGE_SIZE
        results = [_result(orjson.loads(text), term) for text, _ in rows[:PAGE_SIZE]]
        return {
            "results": results,
            "kinds": sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])),
            "more": more,
        }


def _result(entity: dict[str, Any], term: str) -> dict[str, Any]:
    metadata = entity.get("metadata") if isinstance(entity.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    kind = str(entity.get("kind") or "")
    namespace = str(metadata.get("namespace") or "default")
    name = str(metadata.get("name") or "")
    title = metadata.get("title") if isinstance(metadata.get("title"), str) else None
    description: str = metadata["description"] if isinstance(metadata.get("description"), str) else ""
    if len(description) > 300:
        description = description[:297].rstrip() + "…"
    relations = entity.get("relations") if isinstance(entity.get("relations"), list) else []
    assert isinstance(relations, list)
    tags = [tag for tag in metadata.get("tags") or [] if isinstance(tag, str)][:MAX_TAGS_SHOWN]
    owners = [
        r["targetRef"]
        for r in relations
        if isinstance(r, dict) and r.get("type") == "ownedBy" and r.get("targetRef")
    ]
    return {
        "ref": f"{kind.lower()}:{namespace}/{name}",
        "kind": kind,
        "type": spec.get("type") if isinstance(spec.get("type"), str) else "",
        "title": highlight(title or name, term),
        "name": highlight(name, term) if title and title != name else [],
        "description": highlight(description, term),
        "owners": owners,
        "tags": [(tag, tag.lower() == term.lower()) for tag in tags],
    }


def install(ui: UiContext) -> None:
    engine = CatalogSearch(ui.catalog)
    router = APIRouter()

    @router.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request) -> HTMLResponse:
        term = (request.query_params.get("q") or "").strip()[:MAX_TERM_LENGTH]
        kind = (request.query_params.get("kind") or "").strip()[:100] or None
        try:
            page = max(1, min(int(request.query_params.get("page") or 1), 500))
        except ValueError:
            page = 1
        found = engine.run(term, kind=kind, page=page) if term else None

        def url(**changes: Any) -> str:
            params = {"q": term, "kind": kind or "", "page": page, **changes}
            return "/search?" + urlencode({k: v for k, v in params.items() if v not in ("", None, 1)})

        return ui.web.render(
            request,
            "catalog/search/search.html",
            {"term": term, "kind": kind, "page": page, "found": found, "url": url},
            title=f"Search: {term}" if term else "Search",
        )

    ui.web.add_page_router(router)
