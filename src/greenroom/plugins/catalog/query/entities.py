"""The catalog's read queries: lists, cursor pages, streams, lookups by ref and facets, all in SQL.

Entities are stored as JSON text and returned as bytes untouched unless `fields` asks for
pruning, so a page costs one query plus no re-encoding. Ordering joins the `search` row of the
sort key and pages by keyset on (value, entity_id), which stays fast deep into a 1M-entity
catalog where OFFSET would not.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from greenroom.core.errors import InputError
from greenroom.plugins.catalog.query.fields import apply_fields, summary_covers
from greenroom.plugins.catalog.query.filters import (
    Filter,
    filter_to_id_select,
    filter_to_predicate,
    filter_to_probe,
    intersect_ids,
    parse_predicate,
    substring_match,
)
from greenroom.plugins.catalog.query.generation import (
    GenerationCache,
    GenerationResponses,
    current_generation,
)
from greenroom.plugins.catalog.tables import final_entities, search

SortOrder = Literal["asc", "desc"]

DEFAULT_QUERY_LIMIT = 200
"""Backstage's server-side default page size for /entities/by-query."""

STREAM_PAGE_SIZE = 2000
TEXT_MATCHES_IN_MEMORY = 5000
"""Up to this many full-text matches are counted, sorted and paged in one pass in Python."""
MATERIALIZE_BELOW = 2000
"""Up to this many matches an ordered page sorts the matches; above, it walks the sort index."""
REFS_CHUNK_SIZE = 1000

# Keys that hold one scalar per entity by construction (re-added by the indexer or validated as
# strings), so a sort join on them cannot duplicate an entity and needs no de-duplication probe.
_SINGLE_VALUED_KEYS = frozenset(
    {
        "kind",
        "apiversion",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.etag",
        "metadata.title",
        "metadata.description",
    }
)

TEXT_COLUMNS = {
    "metadata.name": "name",
    "metadata.title": "title",
    "metadata.description": "description",
    "spec.profile.displayname": "display_name",
}
"""Search keys the trigram indexes cover (migrations 0004, 0014), with their SQLite FTS5 column."""

_ALWAYS_PRESENT_KEYS = frozenset(
    {"kind", "apiversion", "metadata.name", "metadata.namespace", "metadata.uid", "metadata.etag"}
)
"""Keys every stitched entity has a value for, so "has the sort key" filters nothing out."""

_fe = final_entities


@dataclass(frozen=True, slots=True)
class EntityPage:
    """One page of GET /entities: raw entity JSON and the `after` cursor when more exist."""

    items: list[bytes]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class QueryPage:
    """One page of /entities/by-query."""

    items: list[bytes]
    total_items: int
    next_cursor: str | None
    prev_cursor: str | None


def normalize_ref(ref: str, default_kind: str | None = None) -> str:
    """Lower-case a ref and add the default namespace, matching how `entity_ref` is stored.

    With `default_kind`, a ref without a kind (`team-a`, `default/team-a`) gets that kind, as
    people write owners by hand (`owner=team-a` in a shared link means the group).
    """
    ref = ref.strip().lower()
    kind, colon, rest = ref.partition(":")
    if not colon:
        if default_kind is None:
            return ref
        kind, rest = default_kind.lower(), ref
    if "/" not in rest:
        rest = f"default/{rest}"
    return f"{kind}:{rest}"


def _encode_cursor(payload: Mapping[str, Any]) -> str:
    return base64.b64encode(orjson.dumps(payload)).decode("ascii")


def _decode_cursor(cursor: str, message: str = "Malformed cursor") -> dict[str, Any]:
    try:
        text = cursor.strip().replace("-", "+").replace("_", "/")
        decoded = orjson.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as error:
        raise InputError(message, cause=error) from error
    if not isinstance(decoded, dict):
        raise InputError(message)
    return decoded


_MALFORMED_AFTER = "Malformed cursor in the after parameter (pass on the one a previous response linked to)"


def _check_direction(order: str) -> SortOrder:
    if order == "asc":
        return "asc"
    if order == "desc":
        return "desc"
    raise InputError(f"Invalid sort order '{order}', expected 'asc' or 'desc'")


@dataclass(frozen=True, slots=True)
class _QueryState:
    """Everything a by-query page depends on; what the cursor carries between requests."""

    filter: Filter | None
    sort_field: str | None
    sort_order: SortOrder
    full_text: tuple[str, tuple[str, ...] | None] | None
    is_previous: bool
    values: tuple[Any, ...] | None
    first_values: tuple[Any, ...] | None
    total_items: int

    def to_cursor(self, *, values: Sequence[Any], is_previous: bool) -> str:
        payload: dict[str, Any] = {
            "orderFields": [{"field": self.sort_field, "order": self.sort_order}] if self.sort_field else [],
            "orderFieldValues": list(values),
            "isPrevious": is_previous,
            "totalItems": self.total_items,
        }
        if self.filter is not None:
            payload["filter"] = filter_to_predicate(self.filter)
        if self.full_text is not None:
            term, fields = self.full_text
            payload["fullTextFilter"] = (
                {"term": term} if fields is None else {"term": term, "fields": list(fields)}
            )
        if self.first_values is not None:
            payload["firstSortFieldValues"] = list(self.first_values)
        return _encode_cursor(payload)

    @classmethod
    def from_cursor(cls, cursor: str) -> _QueryState:
        data = _decode_cursor(cursor)
        try:
            order_fields = data.get("orderFields") or []
            sort_field: str | None = None
            sort_order: SortOrder = "asc"
            if order_fields:
                first = order_fields[0]
                sort_field = first["field"]
                sort_order = _check_direction(first["order"])
                if not isinstance(sort_field, str) or not sort_field:
                    raise ValueError("sort field")
            values = data["orderFieldValues"]
            if not isinstance(values, list) or len(values) != (2 if sort_field else 1):
                raise ValueError("values")
            if not all(isinstance(value, str) for value in values):
                raise ValueError("values")
            raw_filter = data.get("filter")
            parsed = parse_predicate(raw_filter) if raw_filter is not None else None
            full_text = _full_text_from_json(data.get("fullTextFilter"))
            is_previous = data.get("isPrevious", False)
            total = data.get("totalItems", 0)
            if not isinstance(is_previous, bool) or not isinstance(total, int) or isinstance(total, bool):
                raise ValueError("flags")
            first_values = data.get("firstSortFieldValues")
            return cls(
                filter=parsed,
                sort_field=sort_field,
                sort_order=sort_order,
                full_text=full_text,
                is_previous=is_previous,
                values=tuple(values),
                first_values=tuple(first_values) if isinstance(first_values, list) else None,
                total_items=total,
            )
        except (KeyError, TypeError, ValueError, IndexError, InputError) as error:
            raise InputError("Malformed cursor", cause=error) from error


def _full_text_from_json(raw: Any) -> tuple[str, tuple[str, ...] | None] | None:
    if raw is None:
        return None
    term = raw["term"]
    fields = raw.get("fields")
    if not isinstance(term, str) or (fields is not None and not all(isinstance(f, str) for f in fields)):
        raise ValueError("fullTextFilter")
    return term, None if fields is None else tuple(fields)


class EntitiesQuery:
    """Read-only queries over `final_entities` + `search`; every filter, sort and count runs in SQL."""

    def __init__(self, engine: Engine, *, stream_page_size: int = STREAM_PAGE_SIZE) -> None:
        self._engine = engine
        self._stream_page_size = stream_page_size
        self._text_index: bool | None = None
        self.results = GenerationCache()
        self.responses = GenerationResponses()

    # --- GET /entities --------------------------------------------------------------------------

    def list_entities(
        self,
        *,
        filter: Filter | None = None,
        fields: Sequence[str] | None = None,
        order: Sequence[tuple[str, SortOrder]] = (),
        offset: int | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> EntityPage:
        """One page of entities ordered by `order` (missing values last) then entity id."""
        if limit is not None and limit <= 0:
            raise InputError("limit must be a positive number")
        if offset is not None and offset < 0:
            raise InputError("offset must be zero or a positive number")
        position = self._decode_after(after, len(order)) if after else None
        statement = self._ordered_statement(
            filter=filter,
            order=order,
            position=position,
            offset=offset,
            limit=None if limit is None else limit + 1,
            fields=fields,
        )
        with self._engine.connect() as connection:
            rows: list[tuple[Any, ...]] = [tuple(row) for row in connection.execute(statement)]
        next_after = None
        if limit is not None and len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_after = _encode_cursor({"v": list(last[2:]), "id": last[0]})
        render = self._projection(fields)[1]
        return EntityPage(items=[render(row[1]) for row in rows], next_after=next_after)

    def stream_entities(
        self,
        *,
        filter: Filter | None = None,
        fields: Sequence[str] | None = None,
        order: Sequence[tuple[str, SortOrder]] = (),
    ) -> Iterator[bytes]:
        """The bytes of one JSON array of every matching entity, with flat memory at any size.

        One query read through a server-side cursor in batches: re-running the filter for each
        keyset page would cost O(matches) per page, quadratic over a 1M-entity stream. A body
        small enough for `responses` is kept and served again until the catalog changes.
        """
        statement = self._ordered_statement(
            filter=filter, order=order, position=None, offset=None, limit=None, fields=fields
        )
        render = self._projection(fields)[1]
        key = ("stream", filter, tuple(fields or ()), tuple(order))
        with self._engine.connect() as connection:
            generation = current_generation(connection)
            cached = self.responses.get(generation, key)
            if cached is not None:
                yield cached
                return
            result = connection.execution_options(yield_per=self._stream_page_size).execute(statement)

            def body() -> Iterator[bytes]:
                yield b"["
                separator = b""
                for batch in result.partitions():
                    yield separator + b",".join(render(row[1]) for row in batch)
                    separator = b","
                yield b"]"

            kept: list[bytes] | None = []  # the body so far, while it may still fit the cache
            size = 0
            for chunk in body():
                if kept is not None:
                    kept.append(chunk)
                    size += len(chunk)
                    if size > self.responses.item_bytes:
                        kept = None
                yield chunk
            if kept is not None:
                self.responses.put(generation, key, b"".join(kept))

    def _decode_after(self, after: str, order_count: int) -> tuple[list[Any], str]:
        data = _decode_cursor(after, _MALFORMED_AFTER)
        values, entity_id = data.get("v"), data.get("id")
        if not isinstance(values, list) or len(values) != order_count or not isinstance(entity_id, str):
            raise InputError(_MALFORMED_AFTER)
        if not all(value is None or isinstance(value, str) for value in values):
            raise InputError(_MALFORMED_AFTER)
        return values, entity_id

    def _ordered_statement(
        self,
        *,
        filter: Filter | None,
        order: Sequence[tuple[str, SortOrder]],
        position: tuple[list[Any], str] | None,
        offset: int | None,
        limit: int | None,
        fields: Sequence[str] | None = None,
    ) -> sa.Select[Any]:
        source: sa.FromClause = _fe
        sort_columns: list[tuple[ColumnElement[Any], SortOrder]] = []
        for index, (field, direction) in enumerate(order):
            alias = search.alias(f"order_{index}")
            source = source.outerjoin(alias, _sort_join_condition(alias, field, _fe.c.entity_id))
            sort_columns.append((alias.c.value, _check_direction(direction)))
        statement = sa.select(
            _fe.c.entity_id, self._projection(fields)[0], *(col for col, _ in sort_columns)
        ).select_from(source)
        if filter is not None:
            statement = statement.where(_fe.c.entity_id.in_(filter_to_id_select(filter)))
        if position is not None:
            statement = statement.where(
                _after_nulls_last(sort_columns, position[0], _fe.c.entity_id, position[1])
            )
        statement = statement.order_by(
            *(
                (col.asc() if direction == "asc" else col.desc()).nulls_last()
                for col, direction in sort_columns
            ),
            _fe.c.entity_id.asc(),
        )
        if limit is not None:
            statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        return statement

    # --- /entities/by-query ---------------------------------------------------------------------

    def query_entities(
        self,
        *,
        filter: Filter | None = None,
        order_fields: Sequence[tuple[str, str]] = (),
        full_text: tuple[str, Sequence[str]] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        fields: Sequence[str] | None = None,
        cursor: str | None = None,
        total_items: bool = True,
    ) -> QueryPage:
        """A cursor-paged query; a `cursor` replaces filter, order, full text and offset."""
        if limit is not None and limit < 0:
            raise InputError("limit must be zero or a positive number")
        if offset is not None and offset < 0:
            raise InputError("offset must be zero or a positive number")
        page_size = DEFAULT_QUERY_LIMIT if limit is None else limit
        if cursor is not None:
            state = _QueryState.from_cursor(cursor)
            offset = None
        else:
            sort_field: str | None = order_fields[0][0] if order_fields else None
            sort_order: SortOrder = _check_direction(order_fields[0][1]) if order_fields else "asc"
            normalized_text = None
            if full_text is not None and full_text[0].strip():
                normalized_text = (full_text[0], tuple(full_text[1]) if full_text[1] else None)
            state = _QueryState(
                filter=filter,
                sort_field=sort_field,
                sort_order=sort_order,
                full_text=normalized_text,
                is_previous=False,
                values=None,
                first_values=None,
                total_items=0,
            )

        backwards = state.is_previous
        direction = state.sort_order
        if backwards:
            direction = "desc" if direction == "asc" else "asc"
        with self._engine.connect() as connection:
            total = state.total_items
            text_page = self._text_page(connection, state, direction, page_size + 1, offset)
            if text_page is not None:
                matches, rows = text_page
                if cursor is None and total_items:
                    total = matches
                    state = dataclasses.replace(state, total_items=total)
            else:
                if cursor is None and total_items:
                    total = self.results.get_or_compute(
                        connection,
                        ("total", state.filter, state.full_text, state.sort_field),
                        lambda: int(connection.execute(self._count_statement(state)).scalar_one()),
                    )
                    state = dataclasses.replace(state, total_items=total)
                if state.sort_field is None:
                    statement = self._unordered_page(state, direction, page_size + 1, offset)
                else:
                    known_total = total if (cursor is not None or total_items) else None
                    statement = self._ordered_page(state, direction, page_size + 1, offset, known_total)
                rows = list(connection.execute(statement).all())

        more = len(rows) > page_size
        rows = rows[:page_size]
        if backwards:
            rows.reverse()
        keys = [tuple(row[1:]) for row in rows]
        if state.values is None and keys:
            state = dataclasses.replace(state, first_values=keys[0])
        next_cursor = prev_cursor = None
        if keys:
            if backwards or more:
                next_cursor = state.to_cursor(values=keys[-1], is_previous=False)
            if (backwards and more) or (not backwards and state.values is not None):
                prev_cursor = state.to_cursor(values=keys[0], is_previous=True)
        return QueryPage(
            items=[self._render(row[0], fields) for row in rows],
            total_items=total,
            next_cursor=next_cursor,
            prev_cursor=prev_cursor,
        )

    @staticmethod
    def _id_sets(state: _QueryState) -> list[sa.Select[Any]]:
        """The id sets a query's entities must all be in: filter, full text, sort key present."""
        sets: list[sa.Select[Any]] = []
        if state.filter is not None:
            sets.append(filter_to_id_select(state.filter))
        if state.full_text is not None:
            sets.append(_full_text_ids(state.full_text, state.sort_field))
        if state.sort_field is not None and state.sort_field.lower() not in _ALWAYS_PRESENT_KEYS:
            sets.append(_keys_present(state.sort_field))
        return sets

    def _matching_ids(self, state: _QueryState) -> sa.Select[Any] | None:
        """The ids of every match (None: every entity), from the search index alone.

        With a full-text term the trigram index gives a short candidate list, so the matches
        are those candidates probed against the filter; otherwise the id sets intersect.
        """
        candidates = self._text_candidates(state)
        if candidates is None:
            sets = self._id_sets(state)
            return intersect_ids(sets) if sets else None
        found = candidates.subquery("text_match")
        conditions: list[ColumnElement[bool]] = []
        if state.filter is not None:
            conditions.append(filter_to_probe(state.filter, found.c.entity_id, self._engine.dialect.name))
        if state.sort_field is not None and state.sort_field.lower() not in _ALWAYS_PRESENT_KEYS:
            conditions.append(found.c.entity_id.in_(_keys_present(state.sort_field)))
        return sa.select(found.c.entity_id).where(*conditions)

    def _text_candidates(self, state: _QueryState) -> sa.Select[Any] | None:
        """Exact full-text matches through the trigram index, or None where it cannot serve."""
        if state.full_text is None or not self._has_text_index():
            return None
        keys, needle = _full_text_terms(state.full_text, state.sort_field)
        if len(needle) < 3 or not set(keys) <= set(TEXT_COLUMNS):
            return None  # trigrams need three characters; other fields are not indexed
        if self._engine.dialect.name == "postgresql":
            # each key's partial GIN index answers its LIKE directly and exactly
            return sa.select(search.c.entity_id).where(substring_match(keys, needle)).distinct()
        columns = " ".join(TEXT_COLUMNS[key] for key in keys)
        phrase = '"' + needle.replace('"', '""') + '"'
        text = sa.table("search_text", sa.column("rowid"))
        fe_rowid: ColumnElement[Any] = sa.literal_column("final_entities.rowid")
        # A trigram phrase matches exactly the rows containing the term, case-folded; values the
        # search index drops (over 200 characters) are not in the FTS table either.
        return (
            sa.select(_fe.c.entity_id)
            .select_from(text.join(_fe, fe_rowid == text.c.rowid))
            .where(sa.literal_column("search_text").op("MATCH")(f"{{{columns}}} : {phrase}"))
        )

    def _text_page(
        self,
        connection: sa.Connection,
        state: _QueryState,
        direction: SortOrder,
        limit: int,
        offset: int | None,
    ) -> tuple[int, list[tuple[Any, ...]]] | None:
        """Total and page of a full-text query from one pass over its (few) trigram matches.

        The matches' sort keys are read once and counted, sorted and cut in Python, then only
        the page's entities are fetched; counting and paging in SQL would find the matches
        twice. None when the trigram index cannot serve the term, or it matches too many; the
        latter is remembered for the catalog generation, so the next page of a common term (13k
        matches for "payments" in a million entities) does not read its first matches in vain.
        """
        if self._text_candidates(state) is None:
            return None
        ids = self._matching_ids(state)
        assert ids is not None
        found = ids.subquery("text_match")
        if state.sort_field is None:
            keys_query: sa.Select[Any] = sa.select(found.c.entity_id)
        else:
            sort_value = search.alias("sort_value")
            keys_query = sa.select(sort_value.c.value, found.c.entity_id).select_from(
                found.join(
                    sort_value,
                    _sort_join_condition(
                        sort_value, state.sort_field, found.c.entity_id, by_entity=self._engine.dialect.name
                    ),
                )
            )
        keys: list[tuple[Any, ...]] = []

        def read_keys() -> bool:
            """Whether there are too many matches; the keys read stay for this request."""
            keys.extend(
                tuple(row) for row in connection.execute(keys_query.limit(TEXT_MATCHES_IN_MEMORY + 1))
            )
            return len(keys) > TEXT_MATCHES_IN_MEMORY

        too_many_key = ("text matches over the limit", state.filter, state.full_text, state.sort_field)
        if self.results.get_or_compute(connection, too_many_key, read_keys):
            return None
        if not keys:  # known to fit from an earlier request at this generation
            read_keys()
        matches = len(keys)
        keys.sort(reverse=direction == "desc")  # code point order: the C/binary collation's order
        if state.values is not None:
            bound = tuple(state.values)
            keys = [key for key in keys if (key > bound if direction == "asc" else key < bound)]
        start = offset or 0
        page_keys = keys[start : start + limit]
        page_ids = [key[-1] for key in page_keys]
        texts = (
            dict(
                connection.execute(
                    sa.select(_fe.c.entity_id, _fe.c.final_entity).where(_fe.c.entity_id.in_(page_ids))
                ).all()
            )
            if page_ids
            else {}
        )
        return matches, [(texts[key[-1]], *key) for key in page_keys if key[-1] in texts]

    def _has_text_index(self) -> bool:
        if self._text_index is None:
            with self._engine.connect() as connection:
                if self._engine.dialect.name == "sqlite":
                    found = connection.exec_driver_sql(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_text'"
                    ).first()
                elif self._engine.dialect.name == "postgresql":
                    found = connection.exec_driver_sql(
                        "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() "
                        "AND indexname = 'search_name_trgm_idx'"
                    ).first()
                else:
                    found = None
            self._text_index = found is not None
        return self._text_index

    def _count_statement(self, state: _QueryState) -> sa.Select[Any]:
        """Count from the search index alone; the entity rows are never read for a total."""
        ids = self._matching_ids(state)
        if ids is None:
            return sa.select(sa.func.count()).select_from(_fe)
        return sa.select(sa.func.count()).select_from(ids.subquery())

    def _ordered_page(
        self,
        state: _QueryState,
        direction: SortOrder,
        limit: int,
        offset: int | None,
        known_total: int | None,
    ) -> sa.Select[Any]:
        """A page in sort-key order, planned from the number of matches.

        Few matches (≤ `MATERIALIZE_BELOW`): collect them and sort, a cost bounded by the matches.
        Many matches: walk the sort key's (key, value, entity_id) index in order and probe each
        candidate against the filter, stopping after one page; with m matches out of n entities
        that reads about limit·n/m index entries, small exactly when m is large.
        """
        assert state.sort_field is not None
        dialect = self._engine.dialect.name
        sort_value = search.alias("sort_value")
        key = state.sort_field.lower()
        materialize = (
            known_total is not None
            and known_total <= MATERIALIZE_BELOW
            and (state.filter is not None or state.full_text is not None)
        )
        if materialize:
            ids = self._matching_ids(state)
            assert ids is not None  # a filter or a full-text term is present
            matching = ids.subquery("matching")
            condition = _sort_join_condition(sort_value, key, matching.c.entity_id, by_entity=dialect)
            source: sa.FromClause = matching.join(sort_value, condition).join(
                _fe, _fe.c.entity_id == sort_value.c.entity_id
            )
            conditions: list[ColumnElement[bool]] = []
        else:
            source = sort_value.join(_fe, _sort_join_condition(sort_value, state.sort_field, _fe.c.entity_id))
            conditions = []
            if state.filter is not None:
                conditions.append(filter_to_probe(state.filter, sort_value.c.entity_id, dialect))
            if state.full_text is not None:
                conditions.append(_full_text_probe(state.full_text, state.sort_field, sort_value.c.entity_id))
        columns = [sort_value.c.value, sort_value.c.entity_id]
        statement = sa.select(_fe.c.final_entity, *columns).select_from(source).where(*conditions)
        if state.values is not None:
            statement = statement.where(_keyset(columns, state.values, direction))
        statement = statement.order_by(*(col.asc() if direction == "asc" else col.desc() for col in columns))
        statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        return statement

    def _unordered_page(
        self, state: _QueryState, direction: SortOrder, limit: int, offset: int | None
    ) -> sa.Select[Any]:
        """A page in entity id order: ids come off the index in order, then one lookup per row."""
        ids = self._matching_ids(state)
        if ids is None:
            ids = sa.select(_fe.c.entity_id.label("entity_id"))
        id_rows = ids.subquery("matching")
        page = sa.select(id_rows.c.entity_id)
        if state.values is not None:
            page = page.where(_keyset([id_rows.c.entity_id], state.values, direction))
        ordered = id_rows.c.entity_id.asc() if direction == "asc" else id_rows.c.entity_id.desc()
        page = page.order_by(ordered).limit(limit)
        if offset:
            page = page.offset(offset)
        page_ids = page.subquery("page")
        return (
            sa.select(_fe.c.final_entity, _fe.c.entity_id)
            .select_from(page_ids.join(_fe, _fe.c.entity_id == page_ids.c.entity_id))
            .order_by(_fe.c.entity_id.asc() if direction == "asc" else _fe.c.entity_id.desc())
        )

    # --- lookups --------------------------------------------------------------------------------

    def entities_by_refs(
        self,
        refs: Sequence[str],
        *,
        fields: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> list[bytes | None]:
        """Entities in request order; None for refs that are missing or excluded by `filter`."""
        wanted = [normalize_ref(ref) for ref in refs]
        unique = list(dict.fromkeys(wanted))
        found: dict[str, bytes] = {}
        column, render = self._projection(fields)
        with self._engine.connect() as connection:
            for start in range(0, len(unique), REFS_CHUNK_SIZE):
                chunk = unique[start : start + REFS_CHUNK_SIZE]
                statement = sa.select(_fe.c.entity_ref, column).where(_fe.c.entity_ref.in_(chunk))
                if filter is not None:
                    statement = statement.where(_fe.c.entity_id.in_(filter_to_id_select(filter)))
                for entity_ref, text in connection.execute(statement):
                    found[entity_ref] = render(text)
        return [found.get(ref) for ref in wanted]

    def entity_by_ref(self, ref: str) -> bytes | None:
        """The stored JSON of one entity by ref (case-insensitive), or None."""
        return self._one(_fe.c.entity_ref == normalize_ref(ref))

    def entity_by_uid(self, uid: str) -> bytes | None:
        """The stored JSON of one entity by `metadata.uid` (the entity id), or None."""
        return self._one(_fe.c.entity_id == uid)

    def entity_json_by_ref(self, ref: str) -> dict[str, Any] | None:
        """One entity by ref, parsed, for callers that need to read it (e.g. ancestry, pages)."""
        raw = self.entity_by_ref(ref)
        return None if raw is None else orjson.loads(raw)

    def _one(self, condition: ColumnElement[bool]) -> bytes | None:
        with self._engine.connect() as connection:
            text = connection.execute(sa.select(_fe.c.final_entity).where(condition)).scalar_one_or_none()
        return None if text is None else text.encode()

    # --- facets ---------------------------------------------------------------------------------

    def facets(
        self, facets: Sequence[str], *, filter: Filter | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Distinct original values and entity counts per facet key, over the filtered entities."""
        keys = {facet: facet.lower() for facet in facets}
        result: dict[str, list[dict[str, Any]]] = {facet: [] for facet in facets}
        if not keys:
            return result
        ids = None if filter is None else filter_to_id_select(filter)
        by_key: dict[str, list[dict[str, Any]]] = {}
        with self._engine.connect() as connection:
            rows = self.results.get_or_compute(
                connection,
                ("facets", tuple(sorted(set(keys.values()))), filter),
                lambda: tuple(original_value_counts(connection, sorted(set(keys.values())), ids)),
            )
            for key, value, count in rows:
                by_key.setdefault(key, []).append({"value": value, "count": count})
        for facet, key in keys.items():
            result[facet] = list(by_key.get(key, []))
        return result

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _render(text: str, fields: Sequence[str] | None) -> bytes:
        if not fields:
            return text.encode()
        return orjson.dumps(apply_fields(orjson.loads(text), fields))

    def _projection(self, fields: Sequence[str] | None) -> tuple[ColumnElement[Any], Callable[[str], bytes]]:
        """What to select for `fields`, and how to turn it into the response's bytes.

        Without fields: the stored document, as is. Within the summary: the summary (or, for
        entities stitched before summaries existed, the document), parsed and pruned.
        """
        if not fields:
            return _fe.c.final_entity, _encoded
        if not summary_covers(fields):
            return _fe.c.final_entity, lambda text: self._render(text, fields)
        document = sa.func.coalesce(_fe.c.summary, _fe.c.final_entity)
        return document, lambda text: self._render(text, fields)


def original_value_counts(
    connection: sa.Connection, keys: Sequence[str], ids: sa.Select[Any] | None = None
) -> list[tuple[str, str, int]]:
    """(key, original value, entities) for every value of `keys`, by key then original value.

    An entity has at most one row per (key, value), so `count(*)` counts entities. Groups are
    the (key, value) ranges of the filter index, which it delivers in order, each with the
    least and greatest original spelling read from the index's last column; only a value
    spelled in several ways (`Java` and `java`) is counted again by spelling.
    """
    conditions: list[ColumnElement[bool]] = [search.c.key.in_(keys), search.c.value.is_not(None)]
    if ids is not None:
        conditions.append(search.c.entity_id.in_(ids))
    statement = (
        sa.select(
            search.c.key,
            search.c.value,
            sa.func.min(search.c.original_value),
            sa.func.max(search.c.original_value),
            sa.func.count(),
        )
        .where(*conditions)
        .group_by(search.c.key, search.c.value)
    )
    counts: list[tuple[str, str, int]] = []
    for key, value, least, greatest, count in connection.execute(statement).all():
        if least == greatest:
            counts.append((key, least, int(count)))
            continue
        spelled = (
            sa.select(search.c.original_value, sa.func.count())
            .where(search.c.key == key, search.c.value == value, *conditions[2:])
            .group_by(search.c.original_value)
        )
        counts.extend((key, original, int(n)) for original, n in connection.execute(spelled))
    # byte order, as PostgreSQL's "C" collation and SQLite compare (UTF-8 orders like code points)
    counts.sort(key=lambda item: (item[0], item[1]))
    return counts


def _encoded(text: str) -> bytes:
    return text.encode()


def _no_smaller_value(alias: sa.FromClause, key: str) -> list[ColumnElement[bool]]:
    """For a multi-valued key, only an entity's smallest value is its sort value."""
    if key in _SINGLE_VALUED_KEYS:
        return []
    smaller = search.alias("smaller_value")
    duplicate = (
        sa.select(sa.literal(1))
        .where(
            smaller.c.entity_id == alias.c.entity_id, smaller.c.key == key, smaller.c.value < alias.c.value
        )
        .exists()
    )
    return [~duplicate]


def _full_text_terms(
    full_text: tuple[str, tuple[str, ...] | None], sort_field: str | None
) -> tuple[list[str], str]:
    """The search keys a full-text term is matched in (default: the sort field, else uid) and the term."""
    term, fields = full_text
    keys = sorted({field.lower() for field in fields}) if fields else [(sort_field or "metadata.uid").lower()]
    return keys, term.strip().lower()


def _full_text_probe(
    full_text: tuple[str, tuple[str, ...] | None], sort_field: str | None, entity_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    keys, needle = _full_text_terms(full_text, sort_field)
    return (
        sa.select(sa.literal(1))
        .where(search.c.entity_id == entity_id, substring_match(keys, needle))
        .exists()
    )


def _sort_join_condition(
    alias: sa.FromClause, field: str, entity_id: ColumnElement[Any], *, by_entity: str | None = None
) -> ColumnElement[bool]:
    """Join the (single, smallest) non-null search value of `field` for each entity.

    `by_entity` (a dialect name) says the join must be driven from `entity_id`'s side: on
    SQLite the key is then hidden from the (key, value) index (`key || ''`), which SQLite would
    otherwise walk in full in sort order, probing each row against a short list of matches.
    """
    key = field.lower()
    key_column: ColumnElement[Any] = alias.c.key
    if by_entity == "sqlite":
        key_column = alias.c.key.op("||")(sa.literal_column("''"))
    condition = sa.and_(alias.c.entity_id == entity_id, key_column == key, alias.c.value.is_not(None))
    return sa.and_(condition, *_no_smaller_value(alias, key))


def _keys_present(field: str) -> sa.Select[Any]:
    key = field.lower()
    present = sa.select(search.c.entity_id).where(search.c.key == key, search.c.value.is_not(None))
    return present if key in _SINGLE_VALUED_KEYS else present.distinct()


def _full_text_ids(full_text: tuple[str, tuple[str, ...] | None], sort_field: str | None) -> sa.Select[Any]:
    keys, needle = _full_text_terms(full_text, sort_field)
    return sa.select(search.c.entity_id).where(substring_match(keys, needle)).distinct()


def _keyset(
    columns: Sequence[ColumnElement[Any]], values: Sequence[Any], direction: SortOrder
) -> ColumnElement[bool]:
    """Rows strictly after `values` in `direction`; a row-value comparison, so it is an index range."""
    if len(columns) == 1:
        return columns[0] > values[0] if direction == "asc" else columns[0] < values[0]
    row, bound = sa.tuple_(*columns), sa.tuple_(*values)
    return row > bound if direction == "asc" else row < bound


def _after_nulls_last(
    sort_columns: Sequence[tuple[ColumnElement[Any], SortOrder]],
    values: Sequence[Any],
    entity_id: ColumnElement[Any],
    last_id: str,
) -> ColumnElement[bool]:
    """Rows after a position under ORDER BY each column (nulls last), then entity id ascending."""
    clauses: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for (column, direction), value in zip(sort_columns, values, strict=True):
        if value is None:
            equal.append(column.is_(None))  # nothing sorts after a null in this column
            continue
        beyond = column > value if direction == "asc" else column < value
        clauses.append(sa.and_(*equal, sa.or_(beyond, column.is_(None))))
        equal.append(column == value)
    clauses.append(sa.and_(*equal, entity_id > last_id))
    return sa.or_(*clauses)
