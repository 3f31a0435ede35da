"""Bounded catalog reads behind the org cards: one `entities_by_refs` per list, facets for counts.

Hierarchies come from the catalog's relations (`childOf`, `parentOf`, `hasMember`, `memberOf`,
`ownedBy`), never from spec fields, so they match what the catalog resolved. Walks up and down
the tree are capped in depth and breadth and guard against cycles in hand-written org files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson

from greenroom.plugins.catalog.query.filters import AllOf, FieldMatch, Filter
from greenroom.plugins.catalog.service import CatalogService

MAX_ANCESTORS = 12
MAX_DESCENDANT_GROUPS = 500
MAX_DESCENDANT_DEPTH = 10
MAX_CHILDREN = 200
MEMBERS_PAGE = 60
OWNED_PREVIEW = 8
SUMMARY_FIELDS = (
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "spec.type",
    "spec.profile",
    "spec.lifecycle",
)


@dataclass
class EntitySummary:
    ref: str
    kind: str
    name: str
    title: str | None
    display_name: str | None
    email: str | None
    type: str | None
    description: str | None
    lifecycle: str | None = None
    missing: bool = False

    @property
    def label(self) -> str:
        return self.display_name or self.title or self.name

    @property
    def initials(self) -> str:
        return initials(self.label)


def initials(text: str) -> str:
    """Up to two letters for a picture-less avatar: 'Jane Doe' -> 'JD', 'checkout-team' -> 'CT'."""
    words = [w for w in text.replace("-", " ").replace("_", " ").replace(".", " ").split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or (text[:1].upper() if text else "?")


def relation_targets(entity: Mapping[str, Any], relation: str, kind: str | None = None) -> list[str]:
    refs: list[str] = []
    for item in entity.get("relations") or []:
        if not isinstance(item, Mapping) or item.get("type") != relation:
            continue
        target = item.get("targetRef")
        if isinstance(target, str) and (kind is None or target.lower().startswith(f"{kind}:")):
            refs.append(target)
    return list(dict.fromkeys(refs))


def entity_ref(entity: Mapping[str, Any]) -> str:
    metadata = entity.get("metadata") or {}
    kind = str(entity.get("kind", "")).lower()
    return f"{kind}:{metadata.get('namespace') or 'default'}/{metadata.get('name', '')}"


def summarize(ref: str, entity: Mapping[str, Any] | None) -> EntitySummary:
    if entity is None:
        kind, _, rest = ref.partition(":")
        return EntitySummary(ref, kind, rest.rsplit("/", 1)[-1], None, None, None, None, None, missing=True)
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") or {}
    raw_profile = spec.get("profile")
    profile: Mapping[str, Any] = raw_profile if isinstance(raw_profile, Mapping) else {}

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value.strip() else None

    return EntitySummary(
        ref=entity_ref(entity),
        kind=str(entity.get("kind") or ""),
        name=str(metadata.get("name") or ""),
        title=text(metadata.get("title")),
        display_name=text(profile.get("displayName")),
        email=text(profile.get("email")),
        type=text(spec.get("type")),
        description=text(metadata.get("description")),
        lifecycle=text(spec.get("lifecycle")),
    )


class OrgQueries:
    def __init__(self, catalog: CatalogService) -> None:
        self.catalog = catalog

    def summaries(self, refs: Sequence[str], fields: Sequence[str] = SUMMARY_FIELDS) -> list[EntitySummary]:
        """Summaries in order, one query; missing entities are kept (shown as missing)."""
        if not refs:
            return []
        raw = self.catalog.query.entities_by_refs(list(refs), fields=list(fields))
        return [
            summarize(ref, None if item is None else orjson.loads(item))
            for ref, item in zip(refs, raw, strict=True)
        ]

    def ancestors(self, entity: Mapping[str, Any]) -> list[EntitySummary]:
        """Parents from the root down to the direct parent (one small lookup per level, capped)."""
        chain: list[EntitySummary] = []
        seen = {entity_ref(entity).lower()}
        current: Mapping[str, Any] = entity
        for _ in range(MAX_ANCESTORS):
            parents = relation_targets(current, "childOf", "group")
            if not parents or parents[0].lower() in seen:
                break
            seen.add(parents[0].lower())
            raw = self.catalog.query.entities_by_refs([parents[0]], fields=[*SUMMARY_FIELDS, "relations"])[0]
            parent = None if raw is None else orjson.loads(raw)
            chain.append(summarize(parents[0], parent))
            if parent is None:
                break
            current = parent
        chain.reverse()
        return chain

    def descendant_groups(self, group: Mapping[str, Any]) -> list[str]:
        """Refs of every sub-group (breadth first, one query per level, capped), not the group itself."""
        seen = {entity_ref(group).lower()}
        found: list[str] = []
        frontier = [r for r in relation_targets(group, "parentOf", "group") if r.lower() not in seen]
        for _ in range(MAX_DESCENDANT_DEPTH):
            if not frontier:
                break
            frontier = frontier[: MAX_DESCENDANT_GROUPS - len(found)]
            for ref in frontier:
                seen.add(ref.lower())
            found.extend(frontier)
            if len(found) >= MAX_DESCENDANT_GROUPS:
                break
            rows = self.catalog.query.entities_by_refs(frontier, fields=["kind", "metadata", "relations"])
            next_level: list[str] = []
            for raw in rows:
                if raw is None:
                    continue
                for child in relation_targets(orjson.loads(raw), "parentOf", "group"):
                    if child.lower() not in seen:
                        seen.add(child.lower())
                        next_level.append(child)
            frontier = next_level
        return found

    def members(
        self, group_refs: Sequence[str], limit: int = MEMBERS_PAGE
    ) -> tuple[list[EntitySummary], int]:
        """Users that are members of any of `group_refs`: a page by name and the total, in SQL."""
        member_filter = AllOf(
            (FieldMatch("kind", ("user",)), FieldMatch("relations.memberOf", tuple(group_refs)))
        )
        page = self.catalog.query.query_entities(
            filter=member_filter,
            order_fields=(("metadata.name", "asc"),),
            limit=limit,
            fields=[*SUMMARY_FIELDS, "relations"],
        )
        users = []
        for raw in page.items:
            entity = orjson.loads(raw)
            users.append(summarize(entity_ref(entity), entity))
        return users, page.total_items

    def ownership(self, owner_refs: Sequence[str]) -> Ownership:
        """Counts of owned entities by kind (one facet query) and the first few by name."""
        owned: Filter = FieldMatch("relations.ownedBy", tuple(owner_refs))
        facets = self.catalog.query.facets(["kind"], filter=owned)["kind"]
        counts = sorted(
            ((str(f["value"]), int(f["count"])) for f in facets), key=lambda kv: (-kv[1], kv[0].lower())
        )
        page = self.catalog.query.query_entities(
            filter=owned,
            order_fields=(("metadata.name", "asc"),),
            limit=OWNED_PREVIEW,
            fields=[*SUMMARY_FIELDS, "relations"],
        )
        preview = []
        for raw in page.items:
            entity = orjson.loads(raw)
            summary = summarize(entity_ref(entity), entity)
            owners = relation_targets(entity, "ownedBy")
            preview.append(OwnedEntity(summary, owners[0] if owners else None))
        return Ownership(
            owner_refs=list(owner_refs),
            by_kind=[KindCount(kind, count, catalog_href(kind, owner_refs)) for kind, count in counts],
            total=page.total_items,
            preview=preview,
            all_href=catalog_href(None, owner_refs),
        )


@dataclass
class KindCount:
    kind: str
    count: int
    href: str


@dataclass
class OwnedEntity:
    entity: EntitySummary
    owner_ref: str | None


@dataclass
class Ownership:
    owner_refs: list[str]
    by_kind: list[KindCount]
    total: int
    preview: list[OwnedEntity] = field(default_factory=list)
    all_href: str = "/catalog"


def catalog_href(kind: str | None, owners: Iterable[str]) -> str:
    """The catalog index (`/catalog?kind=...&owner=...`) filtered to these owners and kind."""
    params: list[tuple[str, str]] = [("kind", kind.lower())] if kind else []
    params.extend(("owner", ref) for ref in owners)
    return "/catalog?" + urlencode(params)
