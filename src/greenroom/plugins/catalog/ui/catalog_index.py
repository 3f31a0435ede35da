"""The catalog index page (`/catalog`): kind, facet and text filters, sortable columns, cursor paging.

Every filter lives in the query string, so a filtered view is a plain GET URL that can be shared
and that the back button restores; the page works without JavaScript. All filtering, counting,
faceting, sorting and paging runs in SQL on the `search` index, with a bounded number of
statements per render (one count, one page, one UNION of all facets, plus the user lookup):

- facet counts for a dimension are computed under every *other* active filter, so a value's count
  is what the table would show after ticking it;
- paging is keyset (cursor) based in both directions, so page 400 costs what page 1 costs;
- sorting by a column an entity may lack (system, lifecycle, ...) keeps those entities, last.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.sql.elements import ColumnElement

from greenroom.plugins.catalog.query.entities import normalize_ref
from greenroom.plugins.catalog.query.filters import (
    AnyOf,
    FieldMatch,
    Filter,
    filter_to_id_select,
    filter_to_probe,
    intersect_ids,
    no_entity_ids,
    substring_match,
)
from greenroom.plugins.catalog.query.generation import GenerationCache
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.tables import final_entities, refresh_state, search
from greenroom.plugins.catalog.ui import UiContext
from greenroom.plugins.user_settings.client import UserSettingsApi

ORDER = 20

DEFAULT_KIND = "component"
PAGE_SIZES = (25, 50, 100)
MAX_VALUES_PER_FILTER = 50
MAX_QUERY_LENGTH = 200
FACET_VISIBLE = 8
FACET_MAX_SHOWN = 50
"""Values listed per facet (the most common); a longer list is for narrowing with other filters first."""
REGISTER_HREF = "/catalog-import"

UserFilter = Literal["all", "owned", "starred"]
Direction = Literal["asc", "desc"]

_fe = final_entities


@dataclass(frozen=True)
class FacetDef:
    """A filter dimension: URL parameter, `search` key and label."""

    param: str
    key: str
    label: str


FACETS: tuple[FacetDef, ...] = (
    FacetDef("type", "spec.type", "Type"),
    FacetDef("owner", "relations.ownedby", "Owner"),
    FacetDef("lifecycle", "spec.lifecycle", "Lifecycle"),
    FacetDef("tag", "metadata.tags", "Tags"),
    FacetDef("namespace", "metadata.namespace", "Namespace"),
)
_FACET_BY_PARAM = {facet.param: facet for facet in FACETS}


@dataclass(frozen=True)
class Column:
    """A table column: `sort_key` is the `search` key it sorts by (None: not sortable)."""

    id: str
    label: str
    sort_key: str | None


_NAME = Column("name", "Name", "metadata.name")
_SYSTEM = Column("system", "System", "spec.system")
_OWNER = Column("owner", "Owner", "relations.ownedby")
_TYPE = Column("type", "Type", "spec.type")
_LIFECYCLE = Column("lifecycle", "Lifecycle", "spec.lifecycle")
_DESCRIPTION = Column("description", "Description", "metadata.description")
_TAGS = Column("tags", "Tags", "metadata.tags")
_DOMAIN = Column("domain", "Domain", "spec.domain")
_DISPLAY_NAME = Column("display_name", "Display name", "spec.profile.displayname")
_EMAIL = Column("email", "Email", "spec.profile.email")
_PARENT = Column("parent", "Parent", "spec.parent")
_GROUPS = Column("groups", "Groups", None)
_TARGET = Column("target", "Target", "spec.target")

COLUMNS_BY_KIND: dict[str, tuple[Column, ...]] = {
    "component": (_NAME, _SYSTEM, _OWNER, _TYPE, _LIFECYCLE, _DESCRIPTION, _TAGS),
    "api": (_NAME, _SYSTEM, _OWNER, _TYPE, _LIFECYCLE, _DESCRIPTION, _TAGS),
    "resource": (_NAME, _SYSTEM, _OWNER, _TYPE, _DESCRIPTION, _TAGS),
    "system": (_NAME, _DOMAIN, _OWNER, _DESCRIPTION, _TAGS),
    "domain": (_NAME, _OWNER, _DESCRIPTION, _TAGS),
    "group": (_NAME, _DISPLAY_NAME, _TYPE, _PARENT, _DESCRIPTION),
    "user": (_NAME, _DISPLAY_NAME, _EMAIL, _GROUPS),
    "location": (_NAME, _TYPE, _TARGET, _DESCRIPTION),
    "template": (_NAME, _OWNER, _TYPE, _DESCRIPTION, _TAGS),
}
DEFAULT_COLUMNS = (_NAME, _OWNER, _TYPE, _DESCRIPTION, _TAGS)

# Keys holding at most one value per entity: the sort join then needs no de-duplication probe.
_SINGLE_VALUED = frozenset({"metadata.name", "metadata.title", "metadata.description", "kind"})


def columns_for(kind: str) -> tuple[Column, ...]:
    return COLUMNS_BY_KIND.get(kind.lower(), DEFAULT_COLUMNS)


# --- who is asking -------------------------------------------------------------------------------


def current_user_ref(request: Request) -> str | None:
    """The signed-in user's entity ref, or None for callers that are not a user (services)."""
    principal = getattr(request.state, "principal", None)
    ref = getattr(principal, "user_entity_ref", None)
    return ref if isinstance(ref, str) and ref else None


def ownership_refs(catalog: CatalogService, user_ref: str | None) -> list[str]:
    """The refs a user owns through: itself plus every group of its `memberOf` relations."""
    if not user_ref:
        return []
    refs = [normalize_ref(user_ref)]
    user = catalog.query.entity_json_by_ref(user_ref)
    for relation in (user or {}).get("relations") or []:
        if isinstance(relation, Mapping) and relation.get("type") == "memberOf":
            target = relation.get("targetRef")
            if isinstance(target, str) and target:
                refs.append(normalize_ref(target))
    return list(dict.fromkeys(refs))


def starred_refs(user_settings: UserSettingsApi, user_ref: str | None) -> list[str]:
    if not user_ref:
        return []
    try:
        return [ref for ref in user_settings.starred(user_ref) if isinstance(ref, str)]
    except Exception:  # a broken settings store must not take the catalog page down
        return []


# --- URL state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexState:
    """Everything the page shows, as parsed from (and written back to) the query string."""

    kind: str = DEFAULT_KIND
    user: UserFilter = "all"
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    status: str = ""
    q: str = ""
    sort: str = "name"
    direction: Direction = "asc"
    limit: int = PAGE_SIZES[0]
    after: str | None = None
    before: str | None = None

    @classmethod
    def from_params(cls, params: Any) -> IndexState:
        kind = (params.get("kind") or DEFAULT_KIND).strip().lower()[:100] or DEFAULT_KIND
        user_raw = params.get("user")
        user: UserFilter = "owned" if user_raw == "owned" else "starred" if user_raw == "starred" else "all"
        filters: dict[str, tuple[str, ...]] = {}
        for facet in FACETS:
            values = [v.strip()[:200] for v in params.getlist(facet.param) if v and v.strip()]
            if facet.param == "owner":  # `owner=team-a` and `group:team-a` name group:default/team-a
                values = [normalize_ref(v, "group") for v in values]
            if values:
                filters[facet.param] = tuple(dict.fromkeys(values))[:MAX_VALUES_PER_FILTER]
        status = params.get("status") or ""
        sort = params.get("sort") or "name"
        if sort not in {c.id for c in columns_for(kind) if c.sort_key}:
            sort = "name"
        direction: Direction = "desc" if params.get("dir") == "desc" else "asc"
        try:
            limit = int(params.get("limit") or PAGE_SIZES[0])
        except ValueError:
            limit = PAGE_SIZES[0]
        return cls(
            kind=kind,
            user=user,
            filters=filters,
            status=status if status in ("orphan", "errors") else "",
            q=(params.get("q") or "").strip()[:MAX_QUERY_LENGTH],
            sort=sort,
            direction=direction,
            limit=limit if limit in PAGE_SIZES else PAGE_SIZES[0],
            after=params.get("after") or None,
            before=None if params.get("after") else params.get("before") or None,
        )

    @property
    def has_filters(self) -> bool:
        """Whether anything beyond the kind narrows the list (what "Clear filters" resets)."""
        return bool(self.filters or self.user != "all" or self.status or self.q)

    def query_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = [("kind", self.kind)]
        if self.user != "all":
            pairs.append(("user", self.user))
        for facet in FACETS:
            pairs.extend((facet.param, value) for value in self.filters.get(facet.param, ()))
        if self.status:
            pairs.append(("status", self.status))
        if self.q:
            pairs.append(("q", self.q))
        if self.sort != "name" or self.direction != "asc":
            pairs.extend([("sort", self.sort), ("dir", self.direction)])
        if self.limit != PAGE_SIZES[0]:
            pairs.append(("limit", str(self.limit)))
        if self.after:
            pairs.append(("after", self.after))
        elif self.before:
            pairs.append(("before", self.before))
        return pairs

    def url(self, **changes: Any) -> str:
        """This view's URL with `changes` applied; any change but a cursor returns to page one."""
        changes.setdefault("after", None)
        changes.setdefault("before", None)
        return "/catalog?" + urlencode(replace(self, **changes).query_pairs())

    def toggle_url(self, param: str, value: str) -> str:
        """The URL with one facet value added or, when already selected, removed."""
        current = self.filters.get(param, ())
        values = tuple(v for v in current if v != value) if value in current else (*current, value)
        filters = {k: v for k, v in self.filters.items() if k != param}
        if values:
            filters[param] = values
        return self.url(filters=filters)

    def sort_url(self, column: str) -> str:
        direction = "desc" if self.sort == column and self.direction == "asc" else "asc"
        return self.url(sort=column, direction=direction)

    def clear_url(self) -> str:
        return "/catalog?" + urlencode({"kind": self.kind})


# --- cursors -------------------------------------------------------------------------------------


def _encode_cursor(key: Sequence[Any], start: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": list(key), "s": start})).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str | None, width: int) -> tuple[list[Any], int] | None:
    """A cursor's sort key and row offset; None (back to page one) when it is not ours."""
    if not cursor:
        return None
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    key, start = data.get("k"), data.get("s")
    if not isinstance(key, list) or len(key) != width or not isinstance(start, int) or start < 0:
        return None
    if not all(isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in key):
        return None
    return key, start


# --- SQL -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One active filter: its matching entity ids, and the filter itself when it is one.

    Called with an id column it is `col IN (ids)`, right for facet scans over the whole set;
    totals intersect the id sets; a page walking the sort index probes each candidate with
    the filter instead (`filter_to_probe`), which needs no list of every match.
    """

    ids: sa.Select[Any]
    filter: Filter | None = None

    def __call__(self, col: ColumnElement[Any]) -> ColumnElement[bool]:
        return col.in_(self.ids)


NO_ENTITIES = Condition(no_entity_ids(), AnyOf(()))


def _field_condition(key: str, values: Sequence[str]) -> Condition:
    match = FieldMatch(key, tuple(values))
    return Condition(filter_to_id_select(match), match)


def _refs_condition(refs: Sequence[str]) -> Condition:
    wanted = sorted({normalize_ref(ref) for ref in refs})
    return Condition(sa.select(_fe.c.entity_id).where(_fe.c.entity_ref.in_(wanted)))


def _text_condition(text: str) -> Condition:
    matching = substring_match(["metadata.name", "metadata.title"], text.lower())
    return Condition(sa.select(search.c.entity_id).where(matching).distinct())


ERRORS_CONDITION = Condition(sa.select(refresh_state.c.entity_id).where(refresh_state.c.errors != "[]"))


ORPHAN_KEY = "metadata.annotations.backstage.io/orphan"
KIND_LABELS = {"api": "API"}
FACET_CACHE_SIZE = 256


@dataclass
class IndexConditions:
    """The active filters as named conditions, so facets can leave their own dimension out."""

    kind: Condition
    others: dict[str, Condition]
    user_choice: dict[str, Condition]

    def active(self, *, without: str | None = None) -> list[Condition]:
        return [self.kind, *(c for name, c in self.others.items() if name != without)]

    def all(self, col: ColumnElement[Any], *, without: str | None = None) -> list[ColumnElement[bool]]:
        return [condition(col) for condition in self.active(without=without)]

    def probes(self, col: ColumnElement[Any], dialect: str) -> list[ColumnElement[bool]]:
        """Conditions on one candidate id: EXISTS probes where possible, `IN (ids)` otherwise."""
        return [
            filter_to_probe(c.filter, col, dialect) if c.filter is not None else c(col) for c in self.active()
        ]


def build_conditions(state: IndexState, owned: Sequence[str], starred: Sequence[str]) -> IndexConditions:
    others: dict[str, Condition] = {}
    for facet in FACETS:
        if facet.param in state.filters:
            others[facet.param] = _field_condition(facet.key, state.filters[facet.param])
    if state.status == "orphan":
        others["status"] = _field_condition(ORPHAN_KEY, ["true"])
    elif state.status == "errors":
        others["status"] = ERRORS_CONDITION
    if state.q:
        others["q"] = _text_condition(state.q)
    user_choice: dict[str, Condition] = {
        "owned": _field_condition("relations.ownedby", owned) if owned else NO_ENTITIES,
        "starred": _refs_condition(starred) if starred else NO_ENTITIES,
    }
    if state.user != "all":
        others["user"] = user_choice[state.user]
    return IndexConditions(
        kind=_field_condition("kind", [state.kind]), others=others, user_choice=user_choice
    )


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int
    selected: bool


@dataclass
class IndexData:
    rows: list[dict[str, Any]]
    total: int
    start: int
    next_cursor: str | None
    prev_cursor: str | None
    kinds: list[FacetValue]
    facets: dict[str, list[FacetValue]]
    user_counts: dict[str, int]


class CatalogIndexQuery:
    """The SQL behind one index render: a count, one page and one UNION ALL for every facet."""

    def __init__(self, catalog: CatalogService) -> None:
        self.engine = catalog.store.read_engine
        # totals and facets per filter set, exact: reused only while the catalog is unchanged
        self.results = GenerationCache(size=FACET_CACHE_SIZE)

    def run(self, state: IndexState, owned: Sequence[str], starred: Sequence[str]) -> IndexData:
        conditions = build_conditions(state, owned, starred)
        key = (
            state.kind,
            tuple(sorted(state.filters.items())),
            state.status,
            state.q,
            state.user,
            tuple(owned),
            tuple(sorted(starred)),
        )
        with self.engine.connect() as connection:
            # from the search index alone: the entity rows are never read for a total
            matching = intersect_ids([condition.ids for condition in conditions.active()])
            total = self.results.get_or_compute(
                connection,
                ("total", key),
                lambda: int(
                    connection.execute(
                        sa.select(sa.func.count()).select_from(matching.subquery())
                    ).scalar_one()
                ),
            )
            rows, start, next_cursor, prev_cursor = self._page(connection, state, conditions)
            facets = self.results.get_or_compute(
                connection, ("facets", key), lambda: self._facets(connection, state, conditions)
            )
        kinds, facet_values, user_counts = _with_selection(facets, state)
        return IndexData(rows, total, start, next_cursor, prev_cursor, kinds, facet_values, user_counts)

    def kind_counts(self, owners: Sequence[str] | None = None) -> list[tuple[str, int]]:
        """Entities per kind, most first; only those owned by `owners` when given.

        Both forms are covering index scans (no table lookups), cheap at 100k entities.
        """
        if owners is None:
            # grouped by the lower-cased value, in index order; kinds are labelled by value below
            statement = (
                sa.select(sa.func.min(search.c.original_value), sa.func.count())
                .where(search.c.key == "kind", search.c.value.is_not(None))
                .group_by(search.c.value)
            )
        else:
            owned = _field_condition("relations.ownedby", owners)
            statement = (
                sa.select(search.c.value, sa.func.count())
                .where(search.c.key == "kind", search.c.value.is_not(None), owned(search.c.entity_id))
                .group_by(search.c.value)
            )
        with self.engine.connect() as connection:
            counts: dict[str, int] = {}
            for value, n in connection.execute(statement):
                label = KIND_LABELS.get(value.lower(), value[:1].upper() + value[1:])
                counts[label] = counts.get(label, 0) + int(n)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0].lower()))

    # -- one page by keyset ------------------------------------------------------------------

    def _page(
        self, connection: sa.Connection, state: IndexState, conditions: IndexConditions
    ) -> tuple[list[dict[str, Any]], int, str | None, str | None]:
        """One page in two keyset segments: entities with a sort value, then those without one.

        Each segment walks an index in order and stops after a page, on both databases; a single
        ORDER BY over an outer join would sort every matching entity for every page instead.
        The cursor key is (segment, value, entity id).
        """
        column = next(c for c in columns_for(state.kind) if c.id == state.sort)
        key = (column.sort_key or "metadata.name").lower()
        segments = [self._with_value(key, state, conditions)]
        if key != "metadata.name":  # every entity has a name; other keys may be missing
            segments.append(self._without_value(key, state, conditions))

        backwards = state.before is not None and state.after is None
        position = _decode_cursor(state.before if backwards else state.after, 3)
        if position is None or position[0][0] not in range(len(segments)):
            position, backwards = None, False
        wanted = state.limit + 1
        fetched: list[tuple[Any, ...]] = []
        segment = 0 if position is None else int(position[0][0])
        bound = None if position is None else position[0][1:]
        while 0 <= segment < len(segments) and len(fetched) < wanted:
            part = segments[segment](connection, bound, backwards, wanted - len(fetched))
            fetched.extend((*row, segment) for row in part)
            segment, bound = (segment - 1 if backwards else segment + 1), None
        more = len(fetched) > state.limit
        fetched = fetched[: state.limit]
        if backwards:
            fetched.reverse()
        keys = [[row[4], row[2] or "", row[3]] for row in fetched]
        if position is None:
            start = 0
        elif backwards:
            start = position[1] if more else 0
        else:
            start = position[1]
        next_cursor = prev_cursor = None
        if keys:
            if more or backwards:
                next_cursor = _encode_cursor(keys[-1], start + len(keys))
            if start > 0 and (more or not backwards):
                prev_cursor = _encode_cursor(keys[0], max(start - state.limit, 0))
        rows = [_row(row[0], row[1]) for row in fetched]
        return rows, start, next_cursor, prev_cursor

    def _with_value(self, key: str, state: IndexState, conditions: IndexConditions) -> _Segment:
        sort_value = search.alias("sort_value")
        value, entity_id = sort_value.c.value, sort_value.c.entity_id
        # Walk the (key, value, entity_id) index in order, probing each candidate's own search
        # rows, and stop after one page: no list of every match is built first.
        statement = (
            sa.select(_fe.c.entity_ref, _fe.c.final_entity, value, entity_id)
            .select_from(sort_value.join(_fe, _fe.c.entity_id == entity_id))
            .where(
                sort_value.c.key == key,
                value.is_not(None),
                *conditions.probes(entity_id, self.engine.dialect.name),
            )
        )
        if key not in _SINGLE_VALUED:
            # Multi-valued keys (tags, owners) sort by their smallest value, listed once.
            smaller = search.alias("smaller_value")
            smaller_key: ColumnElement[Any] = smaller.c.key
            if self.engine.dialect.name == "sqlite":
                smaller_key = sa.literal_column("+smaller_value.key", sa.String)  # probe by entity id
            statement = statement.where(
                ~sa.select(sa.literal(1))
                .where(smaller.c.entity_id == entity_id, smaller_key == key, smaller.c.value < value)
                .exists()
            )
        return _segment(statement, [(value, state.direction), (entity_id, state.direction)])

    def _without_value(self, key: str, state: IndexState, conditions: IndexConditions) -> _Segment:
        present = sa.select(search.c.entity_id).where(search.c.key == key, search.c.value.is_not(None))
        statement = sa.select(
            _fe.c.entity_ref, _fe.c.final_entity, sa.null().label("value"), _fe.c.entity_id
        ).where(_fe.c.entity_id.not_in(present), *conditions.all(_fe.c.entity_id))
        return _segment(statement, [(_fe.c.entity_id, state.direction)], skip_value=True)

    # -- facets ------------------------------------------------------------------------------

    def _facets(
        self, connection: sa.Connection, state: IndexState, conditions: IndexConditions
    ) -> tuple[list[FacetValue], dict[str, list[FacetValue]], dict[str, int]]:
        """Every facet in one UNION ALL; a dimension's counts ignore that dimension's own filter.

        Search rows are unique per (entity, key, value), so `count(*)` grouped by value counts
        entities, and grouping by the lower-cased `value` keeps every scan inside the covering
        (key, value, entity_id) index: no table lookups, which is what makes 100k entities cheap.
        Kinds are a scope rather than a result: they count the whole catalog, whatever the
        filters. Namespaces are counted like any other facet, so that the panel never promises
        more entities than the list shows.
        """
        parts: list[Any] = []
        parts.append(
            sa.select(
                sa.literal_column("'kind'").label("facet"),
                sa.func.min(search.c.original_value),
                sa.func.count(),
            )
            .where(search.c.key == "kind", search.c.value.is_not(None))
            .group_by(search.c.value)
        )
        unfiltered = [facet for facet in FACETS if facet.param not in state.filters]
        groups: list[tuple[list[FacetDef], str | None]] = [(unfiltered, None)] if unfiltered else []
        groups.extend(([facet], facet.param) for facet in FACETS if facet.param in state.filters)
        for members, without in groups:
            parts.append(
                sa.select(search.c.key.label("facet"), search.c.value, sa.func.count())
                .where(
                    search.c.key.in_([facet.key for facet in members]),
                    search.c.value.is_not(None),
                    *conditions.all(search.c.entity_id, without=without),
                )
                .group_by(search.c.key, search.c.value)
            )
        raw: dict[str, dict[str, int]] = {}
        for facet_key, value, n in connection.execute(sa.union_all(*parts)):
            bucket = raw.setdefault(facet_key, {})
            bucket[value] = bucket.get(value, 0) + int(n)
        # "All / Owned / Starred" counts: one scan, a count plus a CASE sum per choice.
        choices = list(conditions.user_choice.items())
        user_row = connection.execute(
            sa.select(
                sa.func.count(),
                *(
                    sa.func.coalesce(sa.func.sum(sa.case((make(_fe.c.entity_id), 1), else_=0)), 0)
                    for _, make in choices
                ),
            ).where(*conditions.all(_fe.c.entity_id, without="user"))
        ).one()
        for (name, _), n in zip([("all", None), *choices], user_row, strict=True):
            raw[f"~{name}"] = {"": int(n)}

        kinds_by_lower: dict[str, tuple[str, int]] = {}
        for value, n in raw.get("kind", {}).items():
            seen = kinds_by_lower.get(value.lower())
            kinds_by_lower[value.lower()] = (seen[0] if seen else value, n + (seen[1] if seen else 0))
        kinds = sorted(
            (FacetValue(v, n, k == state.kind) for k, (v, n) in kinds_by_lower.items()),
            key=lambda f: f.value.lower(),
        )
        facets: dict[str, list[FacetValue]] = {}
        for facet in FACETS:
            selected = {v.lower() for v in state.filters.get(facet.param, ())}
            counts = raw.get(facet.key, {})
            values = [FacetValue(v, n, v.lower() in selected) for v, n in counts.items()]
            # A selected value with no matches still shows (count 0), so it can be unticked.
            values.extend(FacetValue(v, 0, True) for v in selected if v not in counts)
            values.sort(key=lambda f: (not f.selected, -f.count, f.value.lower()))
            facets[facet.param] = values
        user_counts = {
            name: next(iter(raw.get(f"~{name}", {}).values()), 0) for name in ("all", "owned", "starred")
        }
        return kinds, facets, user_counts


_Segment = Callable[[sa.Connection, list[Any] | None, bool, int], list[tuple[Any, ...]]]


def _segment(
    statement: sa.Select[Any], terms: list[tuple[ColumnElement[Any], Direction]], *, skip_value: bool = False
) -> _Segment:
    """A runner for one ordered part of the list: rows after (or before) a bound, `n` at most."""

    def run(
        connection: sa.Connection, bound: list[Any] | None, backwards: bool, n: int
    ) -> list[tuple[Any, ...]]:
        query = statement
        if bound is not None:
            query = query.where(_beyond(terms, bound[1:] if skip_value else bound, backwards=backwards))
        query = query.order_by(*(_ordered(t, d, flip=backwards) for t, d in terms)).limit(n)
        return [tuple(row) for row in connection.execute(query)]

    return run


_FacetResult = tuple[list[FacetValue], dict[str, list[FacetValue]], dict[str, int]]


def _with_selection(result: _FacetResult, state: IndexState) -> _FacetResult:
    """A cached facet result with `selected` flags for this request (the kind may differ in case)."""
    kinds = [replace(k, selected=k.value.lower() == state.kind) for k in result[0]]
    return kinds, result[1], result[2]


def _ordered(term: ColumnElement[Any], direction: Direction, *, flip: bool) -> ColumnElement[Any]:
    ascending = (direction == "asc") != flip
    return term.asc() if ascending else term.desc()


def _beyond(
    terms: Sequence[tuple[ColumnElement[Any], Direction]], key: Sequence[Any], *, backwards: bool
) -> ColumnElement[bool]:
    """Rows strictly after `key` in the terms' order (strictly before it when `backwards`)."""
    directions = {d for _, d in terms}
    if len(directions) == 1:
        # One direction: a row-value comparison, which both databases answer as an index range.
        row, bound = sa.tuple_(*(t for t, _ in terms)), sa.tuple_(*key)
        return row > bound if (directions.pop() == "asc") != backwards else row < bound
    clauses: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for (term, direction), value in zip(terms, key, strict=True):
        greater = (direction == "asc") != backwards
        clauses.append(sa.and_(*equal, term > value if greater else term < value))
        equal.append(term == value)
    return sa.or_(*clauses)


def _ref(value: Any, default_kind: str, namespace: str) -> str | None:
    """A full ref from a (possibly short) spec reference like `payments` or `group:team-a`."""
    if not isinstance(value, str) or not value:
        return None
    kind, colon, rest = value.partition(":")
    if not colon:
        kind, rest = default_kind, value
    if "/" not in rest:
        rest = f"{namespace}/{rest}"
    return f"{kind}:{rest}"


def _row(entity_ref: str, text: str) -> dict[str, Any]:
    """The view model of one table row: only the values the columns show."""
    entity: dict[str, Any] = orjson.loads(text)
    metadata: dict[str, Any] = entity["metadata"] if isinstance(entity.get("metadata"), dict) else {}
    spec: dict[str, Any] = entity["spec"] if isinstance(entity.get("spec"), dict) else {}
    profile: dict[str, Any] = spec["profile"] if isinstance(spec.get("profile"), dict) else {}
    namespace = metadata.get("namespace") or "default"
    kind = entity.get("kind") or ""
    raw_relations = entity.get("relations")
    relations = [r for r in raw_relations if isinstance(r, dict)] if isinstance(raw_relations, list) else []
    name = metadata.get("name") or ""
    tags: list[Any] = metadata["tags"] if isinstance(metadata.get("tags"), list) else []
    return {
        "ref": f"{kind.lower()}:{namespace}/{name}",
        "kind": kind,
        "name": name,
        "namespace": namespace,
        "title": metadata.get("title") if isinstance(metadata.get("title"), str) else None,
        "description": metadata.get("description") if isinstance(metadata.get("description"), str) else "",
        "tags": [str(tag) for tag in tags],
        "type": spec.get("type") if isinstance(spec.get("type"), str) else "",
        "lifecycle": spec.get("lifecycle") if isinstance(spec.get("lifecycle"), str) else "",
        "system": _ref(spec.get("system"), "system", namespace),
        "domain": _ref(spec.get("domain"), "domain", namespace),
        "parent": _ref(spec.get("parent"), "group", namespace),
        "owners": [r["targetRef"] for r in relations if r.get("type") == "ownedBy" and r.get("targetRef")],
        "groups": [r["targetRef"] for r in relations if r.get("type") == "memberOf" and r.get("targetRef")],
        "display_name": profile.get("displayName") if isinstance(profile.get("displayName"), str) else "",
        "email": profile.get("email") if isinstance(profile.get("email"), str) else "",
        "target": spec.get("target") if isinstance(spec.get("target"), str) else "",
        "stored_ref": entity_ref,
    }


# --- the page ------------------------------------------------------------------------------------


def install(ui: UiContext) -> None:
    ui.web.add_nav_item("Catalog", "/catalog", icon="catalog", order=10)
    query = CatalogIndexQuery(ui.catalog)
    router = APIRouter()

    @router.get("/catalog", response_class=HTMLResponse, include_in_schema=False)
    def catalog_index(request: Request) -> HTMLResponse:
        state = IndexState.from_params(request.query_params)
        user_ref = current_user_ref(request)
        owned = ownership_refs(ui.catalog, user_ref)
        starred = starred_refs(ui.user_settings, user_ref)
        data = query.run(state, owned, starred)
        starred_set = {normalize_ref(ref) for ref in starred}
        for row in data.rows:
            row["starred"] = row["stored_ref"] in starred_set
        kind_label = next((k.value for k in data.kinds if k.selected), state.kind.capitalize())
        return ui.web.render(
            request,
            "catalog/index/index.html",
            {
                "state": state,
                "data": data,
                "columns": columns_for(state.kind),
                "facet_defs": [f for f in FACETS if data.facets[f.param]],
                "kind_label": kind_label,
                "signed_in": user_ref is not None,
                "page_sizes": PAGE_SIZES,
                "facet_visible": FACET_VISIBLE,
                "facet_max": FACET_MAX_SHOWN,
                "register_href": REGISTER_HREF,
                "catalog_empty": not data.kinds,
            },
            title="Catalog",
        )

    ui.web.add_page_router(router)
