"""The /api-docs explorer query: API entities filtered by type, lifecycle, owner and text, cursor-paged.

Everything runs in the catalog's SQL (filters, counts, facets, keyset paging) and only the
fields the table shows are loaded, so a page costs the same at 100 or 100,000 APIs and a
multi-megabyte definition is never read to list it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from greenroom.plugins.catalog.query.entities import normalize_ref
from greenroom.plugins.catalog.query.filters import AllOf, FieldMatch, Filter
from greenroom.plugins.catalog.service import CatalogService

PAGE_SIZES = (25, 50, 100)
MAX_FILTER_VALUES = 50
MAX_QUERY_CHARS = 200
FACETS = {"type": "spec.type", "lifecycle": "spec.lifecycle", "owner": "relations.ownedBy"}
LIST_FIELDS = (
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "metadata.tags",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
    "spec.system",
    "relations",
)


@dataclass(frozen=True)
class ExplorerParams:
    """The explorer's URL state."""

    types: tuple[str, ...] = ()
    lifecycles: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    query: str = ""
    cursor: str | None = None
    limit: int = PAGE_SIZES[0]

    @classmethod
    def from_query(cls, params: Mapping[str, Sequence[str]]) -> ExplorerParams:
        def values(key: str) -> tuple[str, ...]:
            cleaned = (v.strip() for v in params.get(key, ()) if v and v.strip())
            return tuple(dict.fromkeys(v[:MAX_QUERY_CHARS] for v in cleaned))[:MAX_FILTER_VALUES]

        limit_text = (params.get("limit") or [""])[0]
        limit = int(limit_text) if limit_text.isdigit() and int(limit_text) in PAGE_SIZES else PAGE_SIZES[0]
        cursor = (params.get("cursor") or [""])[0].strip() or None
        return cls(
            types=values("type"),
            lifecycles=values("lifecycle"),
            # `owner=team-a` and `group:team-a` both name group:default/team-a
            owners=tuple(dict.fromkeys(normalize_ref(owner, "group") for owner in values("owner"))),
            query=((params.get("q") or [""])[0]).strip()[:MAX_QUERY_CHARS],
            cursor=cursor,
            limit=limit,
        )

    def href(self, **changes: Any) -> str:
        """The explorer URL for this state with `changes` applied (a new filter drops the cursor)."""
        state = {
            "type": list(self.types),
            "lifecycle": list(self.lifecycles),
            "owner": list(self.owners),
            "q": [self.query] if self.query else [],
            "limit": [str(self.limit)] if self.limit != PAGE_SIZES[0] else [],
            "cursor": [self.cursor] if self.cursor else [],
        }
        for key, value in changes.items():
            state[key] = (
                [] if value is None else list(value) if isinstance(value, list | tuple) else [str(value)]
            )
        query = urlencode([(k, v) for k, vs in state.items() for v in vs])
        return "/api-docs" + (f"?{query}" if query else "")

    @property
    def has_filters(self) -> bool:
        return bool(self.types or self.lifecycles or self.owners or self.query)


@dataclass
class ApiRow:
    ref: str
    name: str
    title: str | None
    namespace: str
    description: str | None
    type: str | None
    lifecycle: str | None
    owner_ref: str | None
    system_ref: str | None
    tags: list[str]
    href: str


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool


@dataclass
class ExplorerResult:
    rows: list[ApiRow]
    total: int
    next_cursor: str | None
    prev_cursor: str | None
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    total_apis: int = 0


def _kind_filter() -> Filter:
    return FieldMatch("kind", ("api",))


def build_filter(params: ExplorerParams) -> Filter:
    parts: list[Filter] = [_kind_filter()]
    if params.types:
        parts.append(FieldMatch("spec.type", params.types))
    if params.lifecycles:
        parts.append(FieldMatch("spec.lifecycle", params.lifecycles))
    if params.owners:
        parts.append(FieldMatch("relations.ownedBy", params.owners))
    return AllOf(tuple(parts))


def _ref_in(namespace: str, value: Any, default_kind: str) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    if ":" in value:
        kind, _, rest = value.partition(":")
        return f"{kind.lower()}:{rest if '/' in rest else f'{namespace}/{rest}'}"
    return f"{default_kind}:{value if '/' in value else f'{namespace}/{value}'}"


def to_row(entity: Mapping[str, Any]) -> ApiRow:
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") or {}
    namespace = str(metadata.get("namespace") or "default")
    name = str(metadata.get("name") or "")
    owner = next(
        (
            str(r.get("targetRef"))
            for r in entity.get("relations") or []
            if isinstance(r, Mapping) and r.get("type") == "ownedBy" and r.get("targetRef")
        ),
        None,
    ) or _ref_in(namespace, spec.get("owner"), "group")
    tags = [str(t) for t in metadata.get("tags") or [] if isinstance(t, str)]
    return ApiRow(
        ref=f"api:{namespace}/{name}",
        name=name,
        title=metadata.get("title") if isinstance(metadata.get("title"), str) else None,
        namespace=namespace,
        description=metadata.get("description") if isinstance(metadata.get("description"), str) else None,
        type=spec.get("type") if isinstance(spec.get("type"), str) else None,
        lifecycle=spec.get("lifecycle") if isinstance(spec.get("lifecycle"), str) else None,
        owner_ref=owner,
        system_ref=_ref_in(namespace, spec.get("system"), "system"),
        tags=tags[:8],
        href=definition_tab_href(namespace, name),
    )


def definition_tab_href(namespace: str, name: str) -> str:
    return f"/catalog/{quote(namespace.lower(), safe='')}/api/{quote(name, safe='')}/definition"


def explore(catalog: CatalogService, params: ExplorerParams) -> ExplorerResult:
    """One page of APIs plus facet counts for the filter sidebar (two SQL round trips)."""
    text = (
        (params.query, ("metadata.name", "metadata.title", "metadata.description")) if params.query else None
    )
    page = catalog.query.query_entities(
        filter=None if params.cursor else build_filter(params),
        order_fields=() if params.cursor else (("metadata.name", "asc"),),
        full_text=None if params.cursor else text,
        limit=params.limit,
        cursor=params.cursor,
        fields=LIST_FIELDS,
    )
    raw_facets = catalog.query.facets(list(FACETS.values()), filter=_kind_filter())
    selected = {"type": params.types, "lifecycle": params.lifecycles, "owner": params.owners}
    facets: dict[str, list[FacetValue]] = {}
    for key, facet in FACETS.items():
        wanted = {v.lower() for v in selected[key]}
        values = [
            FacetValue(str(f["value"]), int(f["count"]), str(f["value"]).lower() in wanted)
            for f in raw_facets[facet]
        ]
        values.sort(key=lambda v: (-v.count, v.value.lower()))
        facets[key] = values
    total_apis = sum(v.count for v in facets["type"]) if facets["type"] else 0
    return ExplorerResult(
        rows=[to_row(orjson.loads(item)) for item in page.items],
        total=page.total_items,
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
        facets=facets,
        total_apis=total_apis,
    )
