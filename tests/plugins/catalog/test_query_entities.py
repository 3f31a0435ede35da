"""EntitiesQuery: lists, cursor pages, streams, by-refs and facets on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenroom.core.errors import InputError
from greenroom.plugins.catalog.query.entities import EntitiesQuery
from greenroom.plugins.catalog.query.fields import apply_fields
from greenroom.plugins.catalog.query.filters import parse_filter_params, parse_predicate
from greenroom.plugins.catalog.query.search_index import build_search_rows
from greenroom.plugins.catalog.tables import final_entities, search

from ._query_support import StatementCounter, component, engine_fixture, insert_entities, ref_of

engine = engine_fixture()

NAMESPACES = ("default", "ops")


def _dataset() -> list[dict[str, Any]]:
    entities = []
    for i in range(30):
        name = f"{'Svc' if i % 3 == 0 else 'svc'}-{i % 15:02d}"  # names repeat across two namespaces
        spec: dict[str, Any] = {"type": ("service", "website", "library")[i % 3], "lifecycle": "production"}
        extra: dict[str, Any] = {
            "namespace": NAMESPACES[i // 15],
            "tags": ["java"] if i % 2 else ["python", "web"],
        }
        if i % 4:
            extra["title"] = f"Title {i:02d}"
        if i % 5 == 0:
            extra["description"] = "a pet store 100% real"
        entities.append(component(name, **spec, **extra))
    entities.append(component("Team-A", kind="Group", type="team"))
    entities.append(component("jdoe", kind="User"))
    return entities


@pytest.fixture
def stored(engine: sa.Engine) -> list[dict[str, Any]]:
    return insert_entities(engine, _dataset())


@pytest.fixture
def query(engine: sa.Engine, stored: list[dict[str, Any]]) -> EntitiesQuery:
    return EntitiesQuery(engine, stream_page_size=7)


def _components(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in stored if e["kind"] == "Component"]


def _by_name(entities: list[dict[str, Any]], reverse: bool = False) -> list[str]:
    ordered = sorted(
        entities, key=lambda e: (e["metadata"]["name"].lower(), e["metadata"]["uid"]), reverse=reverse
    )
    return [e["metadata"]["uid"] for e in ordered]


def _uids(items: list[bytes]) -> list[str]:
    return [orjson.loads(item)["metadata"]["uid"] for item in items]


KIND_COMPONENT = parse_filter_params(["kind=component"])


# --- GET /entities ------------------------------------------------------------------------------


def test_list_default_order_is_entity_id(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    page = query.list_entities()
    assert _uids(page.items) == sorted(e["metadata"]["uid"] for e in stored)
    assert page.next_after is None


def test_list_items_are_the_stored_json_untouched(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    page = query.list_entities(filter=parse_filter_params(["kind=user"]))
    assert page.items == [orjson.dumps(stored[-1])]


def test_list_order_missing_values_last_and_window(
    query: EntitiesQuery, stored: list[dict[str, Any]]
) -> None:
    comps = _components(stored)
    with_title = sorted((e for e in comps if "title" in e["metadata"]), key=lambda e: e["metadata"]["title"])
    without = sorted(e["metadata"]["uid"] for e in comps if "title" not in e["metadata"])
    for direction, titled in (("asc", with_title), ("desc", list(reversed(with_title)))):
        page = query.list_entities(filter=KIND_COMPONENT, order=[("metadata.title", direction)])
        assert _uids(page.items) == [e["metadata"]["uid"] for e in titled] + without
    # desc on the value, ties still broken by ascending entity id
    by_uid = sorted(comps, key=lambda e: e["metadata"]["uid"])
    expected = sorted(by_uid, key=lambda e: e["metadata"]["name"].lower(), reverse=True)
    page = query.list_entities(filter=KIND_COMPONENT, order=[("metadata.name", "desc")], offset=5, limit=7)
    assert _uids(page.items) == [e["metadata"]["uid"] for e in expected[5:12]]
    assert page.next_after is not None


def test_list_limit_and_after_walk_everything(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    for order in ([], [("metadata.title", "asc"), ("metadata.name", "desc")]):
        everything = _uids(query.list_entities(order=order).items)
        seen: list[str] = []
        after = None
        while True:
            page = query.list_entities(order=order, limit=4, after=after)
            assert len(page.items) <= 4
            seen += _uids(page.items)
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == everything
        assert len(seen) == len(stored)


def test_list_validates_paging(query: EntitiesQuery) -> None:
    with pytest.raises(InputError):
        query.list_entities(limit=0)
    with pytest.raises(InputError):
        query.list_entities(offset=-1)
    with pytest.raises(InputError, match=r"^Malformed cursor in the after parameter"):
        query.list_entities(limit=2, after="!!!")
    with pytest.raises(InputError, match=r"^Malformed cursor in the after parameter"):
        query.list_entities(limit=2, after=base64.b64encode(b'{"v": [1], "id": "x"}').decode())


def test_checklist_23_fields_prune_exactly(query: EntitiesQuery) -> None:
    page = query.list_entities(
        filter=KIND_COMPONENT, fields=["kind", "metadata.name", "spec.nothing"], limit=3
    )
    for item in page.items:
        entity = orjson.loads(item)
        assert list(entity) == ["kind", "metadata"]
        assert list(entity["metadata"]) == ["name"]


PROJECTIONS = [
    ["kind", "metadata.name"],
    ["metadata.name", "metadata.namespace", "metadata.title", "spec.type", "kind"],
    ["metadata.tags.0", "metadata.description", "spec.lifecycle", "metadata.nothing"],
    ["spec"],  # not within the summary: the document answers
    ["metadata.name", "metadata.annotations"],
]


@pytest.mark.parametrize("fields", PROJECTIONS)
def test_projections_from_the_summary_equal_those_from_the_document(
    engine: sa.Engine, query: EntitiesQuery, stored: list[dict[str, Any]], fields: list[str]
) -> None:
    """List, stream and by-refs: the summary answers exactly what the whole document would."""
    late = insert_entities(  # stitched before summaries existed: the document answers
        engine, [component("no-summary", type="service", title="Old", tags=["x"])], summaries=False
    )
    everything = stored + late
    expected = {e["metadata"]["uid"]: apply_fields(e, fields) for e in everything}
    listed = [orjson.loads(item) for item in query.list_entities(fields=fields).items]
    streamed = orjson.loads(b"".join(query.stream_entities(fields=fields)))
    refs = [ref_of(e) for e in everything]
    by_refs = [orjson.loads(item) for item in query.entities_by_refs(refs, fields=fields) if item]
    uids_in_order = sorted(expected)
    assert listed == streamed == [expected[uid] for uid in uids_in_order]
    assert by_refs == [expected[e["metadata"]["uid"]] for e in everything]


def test_a_small_stream_is_served_again_until_the_catalog_changes(
    engine: sa.Engine, query: EntitiesQuery
) -> None:
    fields = ["kind", "metadata.name"]
    first = b"".join(query.stream_entities(filter=KIND_COMPONENT, fields=fields))
    with StatementCounter(engine) as counter:
        again = b"".join(query.stream_entities(filter=KIND_COMPONENT, fields=fields))
    assert again == first
    assert len(counter.statements) == 1 and "catalog_generation" in counter.statements[0]
    insert_entities(engine, [component("late-comer")])
    changed = orjson.loads(b"".join(query.stream_entities(filter=KIND_COMPONENT, fields=fields)))
    assert len(changed) == len(orjson.loads(first)) + 1
    # a body over the size limit is streamed every time and never kept
    query.responses.item_bytes = 10
    with StatementCounter(engine) as counter:
        b"".join(query.stream_entities(filter=KIND_COMPONENT))
        b"".join(query.stream_entities(filter=KIND_COMPONENT))
    assert len(counter.statements) == 4


def test_a_covered_projection_reads_summaries(engine: sa.Engine, query: EntitiesQuery) -> None:
    with StatementCounter(engine) as counter:
        query.list_entities(fields=["kind", "metadata.name"])
        query.list_entities(fields=["kind", "spec.definition"])
    covered, uncovered = counter.statements
    assert "summary" in covered and "summary" not in uncovered


def test_apply_fields_subtrees_and_missing() -> None:
    entity = {
        "kind": "A",
        "metadata": {"name": "n", "tags": ["x", "y"], "labels": {"a": "b"}},
        "spec": {"k": None},
    }
    assert apply_fields(entity, ["metadata.labels", "spec.k", "nope.x", "metadata.tags.1"]) == {
        "metadata": {"labels": {"a": "b"}, "tags": {"1": "y"}},
        "spec": {"k": None},
    }


def test_checklist_24_stream_is_one_json_array(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    body = b"".join(query.stream_entities())
    assert [e["metadata"]["uid"] for e in orjson.loads(body)] == sorted(e["metadata"]["uid"] for e in stored)
    ordered = orjson.loads(
        b"".join(query.stream_entities(filter=KIND_COMPONENT, order=[("metadata.name", "asc")]))
    )
    assert [e["metadata"]["uid"] for e in ordered] == _by_name(_components(stored))
    pruned = orjson.loads(b"".join(query.stream_entities(fields=["kind"])))
    assert pruned[0] == {"kind": "Component"} or pruned[0] in ({"kind": "Group"}, {"kind": "User"})
    assert b"".join(query.stream_entities(filter=parse_filter_params(["kind=nothing"]))) == b"[]"


def test_stream_is_one_query_read_in_batches(
    engine: sa.Engine, query: EntitiesQuery, stored: list[dict[str, Any]]
) -> None:
    with StatementCounter(engine) as counter:
        chunks = list(query.stream_entities(order=[("metadata.name", "asc")]))
    assert len(orjson.loads(b"".join(chunks))) == len(stored)
    # the generation (responses are kept by it), then the one query
    assert len(counter.statements) == 2 and "catalog_generation" in counter.statements[0]
    assert len(chunks) == 2 + -(-len(stored) // 7)  # "[", one chunk per batch of 7, "]"


# --- by-query -----------------------------------------------------------------------------------


def test_checklist_17_page_shape_and_total(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    page = query.query_entities(filter=KIND_COMPONENT, limit=5)
    assert len(page.items) == 5
    assert page.total_items == 30
    assert page.next_cursor is not None and page.prev_cursor is None
    default_limit = query.query_entities()
    assert len(default_limit.items) == len(stored) and default_limit.next_cursor is None


def test_checklist_20_cursor_next_and_prev(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    expected = _by_name(_components(stored))
    first = query.query_entities(filter=KIND_COMPONENT, order_fields=[("metadata.name", "asc")], limit=7)
    pages = [first]
    while pages[-1].next_cursor:
        page = query.query_entities(cursor=pages[-1].next_cursor, limit=7)
        assert page.prev_cursor is not None
        assert page.total_items == 30
        pages.append(page)
    assert [uid for p in pages for uid in _uids(p.items)] == expected
    assert len(pages) == 5
    decoded = orjson.loads(base64.b64decode(first.next_cursor or ""))
    assert decoded["orderFields"] == [{"field": "metadata.name", "order": "asc"}]
    assert decoded["isPrevious"] is False and decoded["totalItems"] == 30
    assert len(decoded["orderFieldValues"]) == 2
    # walk back from the last page: each prevCursor returns exactly the previous page
    current = pages[-1]
    for index in range(len(pages) - 2, -1, -1):
        assert current.prev_cursor is not None
        current = query.query_entities(cursor=current.prev_cursor, limit=7)
        assert _uids(current.items) == _uids(pages[index].items)
        assert current.next_cursor is not None
    assert current.prev_cursor is None


def test_cursor_wins_over_other_params(query: EntitiesQuery) -> None:
    first = query.query_entities(filter=KIND_COMPONENT, order_fields=[("metadata.name", "desc")], limit=10)
    second = query.query_entities(
        cursor=first.next_cursor,
        limit=10,
        filter=parse_filter_params(["kind=user"]),
        order_fields=[("metadata.uid", "asc")],
        full_text=("zzz", ["metadata.name"]),
        offset=3,
    )
    assert len(second.items) == 10
    entities = [orjson.loads(i) for i in first.items + second.items]
    assert {e["kind"] for e in entities} == {"Component"}
    names = [e["metadata"]["name"].lower() for e in entities]
    assert names == sorted(names, reverse=True)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 ***",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(b'{"orderFields": []}').decode(),
        base64.b64encode(
            b'{"orderFields": [{"field": "a", "order": "up"}], "orderFieldValues": ["a", "b"]}'
        ).decode(),
        base64.b64encode(b'{"orderFields": [], "orderFieldValues": ["x"], "filter": {"$all": 3}}').decode(),
        base64.b64encode(b'{"orderFields": [], "orderFieldValues": ["x"], "totalItems": "many"}').decode(),
    ],
)
def test_malformed_cursor_is_input_error(query: EntitiesQuery, cursor: str) -> None:
    with pytest.raises(InputError, match=r"^Malformed cursor$"):
        query.query_entities(cursor=cursor)


def test_checklist_21_order_excludes_missing_and_total_exclude(
    engine: sa.Engine, query: EntitiesQuery, stored: list[dict[str, Any]]
) -> None:
    titled = [e for e in _components(stored) if "title" in e["metadata"]]
    page = query.query_entities(filter=KIND_COMPONENT, order_fields=[("metadata.title", "desc")], limit=100)
    assert page.total_items == len(titled)
    assert _uids(page.items) == [
        e["metadata"]["uid"] for e in sorted(titled, key=lambda e: e["metadata"]["title"], reverse=True)
    ]
    with StatementCounter(engine) as counter:
        excluded = query.query_entities(filter=KIND_COMPONENT, limit=3, total_items=False)
    assert excluded.total_items == 0 and len(excluded.items) == 3
    assert len(counter.statements) == 1 and "count(" not in counter.statements[0].lower()
    follow = query.query_entities(cursor=excluded.next_cursor)
    assert follow.total_items == 0


def test_sort_by_multi_valued_key_has_no_duplicates(
    query: EntitiesQuery, stored: list[dict[str, Any]]
) -> None:
    page = query.query_entities(order_fields=[("metadata.tags", "asc")], limit=1000)
    uids = _uids(page.items)
    assert len(uids) == len(set(uids)) == page.total_items == 30
    listed = _uids(query.list_entities(order=[("metadata.tags", "desc")]).items)
    assert len(listed) == len(set(listed)) == len(stored)


def test_checklist_22_full_text(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    page = query.query_entities(full_text=("  SVC-0 ", ["metadata.name"]), limit=100)
    want = {e["metadata"]["uid"] for e in stored if "svc-0" in e["metadata"]["name"].lower()}
    assert set(_uids(page.items)) == want and page.total_items == len(want) == 20
    # without fields: the sort field is searched
    page = query.query_entities(full_text=("title 1", []), order_fields=[("metadata.title", "asc")])
    assert page.total_items == sum(1 for e in stored if e["metadata"].get("title", "").startswith("Title 1"))
    # without fields or sort: metadata.uid (Backstage's behaviour)
    uid = stored[3]["metadata"]["uid"]
    assert _uids(query.query_entities(full_text=(uid[:13].upper(), None)).items) == [uid]
    # LIKE wildcards in the term are literal
    page = query.query_entities(full_text=("100%", ["metadata.description"]))
    assert page.total_items == 6
    assert query.query_entities(full_text=("1_0", ["metadata.description"])).total_items == 0
    # a cursor keeps the full-text filter
    first = query.query_entities(full_text=("svc-0", ["metadata.name"]), limit=15)
    assert query.query_entities(cursor=first.next_cursor).items.__len__() == 5


def test_query_fields_and_predicate_filter_in_cursor(query: EntitiesQuery) -> None:
    f = parse_predicate({"kind": "component", "spec.type": {"$in": ["website", "library"]}})
    first = query.query_entities(filter=f, limit=15, fields=["kind", "spec.type"])
    assert first.total_items == 20
    rest = query.query_entities(cursor=first.next_cursor, limit=15, fields=["spec.type"])
    assert len(rest.items) == 5 and rest.next_cursor is None
    assert all(orjson.loads(i)["kind"] == "Component" for i in first.items)
    assert {orjson.loads(i)["spec"]["type"] for i in first.items + rest.items} == {"website", "library"}
    assert all(list(orjson.loads(i)) == ["spec"] for i in rest.items)


def test_query_validation(query: EntitiesQuery) -> None:
    with pytest.raises(InputError):
        query.query_entities(limit=-1)
    with pytest.raises(InputError):
        query.query_entities(offset=-1)
    with pytest.raises(InputError):
        query.query_entities(order_fields=[("metadata.name", "sideways")])
    assert query.query_entities(limit=0, filter=KIND_COMPONENT).total_items == 30


# --- lookups and facets -------------------------------------------------------------------------


def test_checklist_25_by_refs_order_and_none(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    refs = [
        ref_of(stored[4]),
        "component:default/missing",
        "USER:default/JDOE",
        ref_of(stored[4]),
        "user:jdoe",
    ]
    items = query.entities_by_refs(refs)
    assert items[0] == orjson.dumps(stored[4]) and items[3] == items[0]
    assert items[1] is None
    assert orjson.loads(items[2] or b"")["kind"] == "User"
    assert items[4] == items[2]
    filtered = query.entities_by_refs(refs, filter=parse_filter_params(["kind=user"]), fields=["kind"])
    assert filtered == [None, None, b'{"kind":"User"}', None, b'{"kind":"User"}']


def test_checklist_26_lookup_by_ref_and_uid(query: EntitiesQuery, stored: list[dict[str, Any]]) -> None:
    group = stored[-2]
    assert query.entity_by_ref("Group:Default/team-a") == orjson.dumps(group)
    assert query.entity_json_by_ref("group:default/team-a") == group
    assert query.entity_by_uid(group["metadata"]["uid"]) == orjson.dumps(group)
    assert query.entity_by_ref("group:default/nope") is None
    assert query.entity_json_by_ref("group:default/nope") is None
    assert query.entity_by_uid("nope") is None


def test_checklist_27_facets(query: EntitiesQuery) -> None:
    facets = query.facets(["kind", "Spec.Type", "metadata.tags", "nothing"])
    assert facets["kind"] == [
        {"value": "Component", "count": 30},
        {"value": "Group", "count": 1},
        {"value": "User", "count": 1},
    ]
    assert facets["Spec.Type"] == [
        {"value": "library", "count": 10},
        {"value": "service", "count": 10},
        {"value": "team", "count": 1},
        {"value": "website", "count": 10},
    ]
    assert facets["metadata.tags"] == [
        {"value": "java", "count": 15},
        {"value": "python", "count": 15},
        {"value": "web", "count": 15},
    ]
    assert facets["nothing"] == []
    filtered = query.facets(
        ["metadata.name"], filter=parse_predicate({"metadata.name": {"$hasPrefix": "svc-01"}})
    )
    assert filtered == {"metadata.name": [{"value": "svc-01", "count": 2}]}
    assert query.facets([]) == {}


def test_facets_count_each_spelling_of_a_value_apart(engine: sa.Engine, query: EntitiesQuery) -> None:
    """`Java` and `java` are one filter value but two facet values, as in Backstage."""
    insert_entities(
        engine,
        [
            component("spelled-1", tags=["Java", "Go"]),
            component("spelled-2", tags=["JAVA"]),
            component("spelled-3", tags=["Java"]),
        ],
    )
    tags = query.facets(["metadata.tags"])["metadata.tags"]
    assert tags == [
        {"value": "Go", "count": 1},
        {"value": "JAVA", "count": 1},
        {"value": "Java", "count": 2},
        {"value": "java", "count": 15},
        {"value": "python", "count": 15},
        {"value": "web", "count": 15},
    ]
    # the same as grouping every row by its original spelling
    with engine.connect() as connection:
        grouped = connection.execute(
            sa.select(search.c.original_value, sa.func.count())
            .where(search.c.key == "metadata.tags", search.c.original_value.is_not(None))
            .group_by(search.c.original_value)
            .order_by(search.c.original_value)
        ).all()
    assert [(t["value"], t["count"]) for t in tags] == [tuple(row) for row in grouped]
    filtered = query.facets(["metadata.tags"], filter=parse_filter_params(["metadata.name=spelled-1"]))
    assert filtered["metadata.tags"] == [{"value": "Go", "count": 1}, {"value": "Java", "count": 1}]


# --- performance guards -------------------------------------------------------------------------


def test_statement_counts_are_constant(
    engine: sa.Engine, query: EntitiesQuery, stored: list[dict[str, Any]]
) -> None:
    with StatementCounter(engine) as counter:
        page = query.query_entities(filter=KIND_COMPONENT, order_fields=[("metadata.name", "asc")], limit=20)
    # the catalog generation (a primary-key read), the total, the page
    assert len(page.items) == 20 and len(counter.statements) <= 3
    with StatementCounter(engine) as counter:
        again = query.query_entities(filter=KIND_COMPONENT, order_fields=[("metadata.name", "asc")], limit=20)
    # nothing changed: the total comes from the generation cache
    assert again.total_items == page.total_items and len(counter.statements) <= 2, counter.statements
    with StatementCounter(engine) as counter:
        query.query_entities(cursor=page.next_cursor, limit=20, fields=["kind"])
    assert len(counter.statements) == 1
    refs = [ref_of(e) for e in stored] * 3 + [f"component:default/missing-{i}" for i in range(4)]
    assert len(refs) == 100
    with StatementCounter(engine) as counter:
        items = query.entities_by_refs(refs, fields=["metadata.name"])
    assert len(counter.statements) == 1 and sum(item is None for item in items) == 4
    with StatementCounter(engine) as counter:
        query.facets(["kind", "spec.type"], filter=KIND_COMPONENT)
        query.list_entities(filter=KIND_COMPONENT, order=[("metadata.name", "asc")], limit=20)
    assert len(counter.statements) == 3  # generation, facets, list


def test_sqlite_ordered_filtered_page_uses_indexes(engine: sa.Engine, query: EntitiesQuery) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    with StatementCounter(engine) as counter:
        query.query_entities(
            filter=KIND_COMPONENT, order_fields=[("metadata.name", "asc")], limit=20, total_items=False
        )
    (sql,), (parameters,) = counter.statements, counter.parameters
    with engine.connect() as connection:
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, parameters)]
    assert any("search_key_value_entity_original_idx" in step for step in plan), plan
    # the page is read in index order and stops after 21 rows instead of sorting every component
    assert not any("TEMP B-TREE FOR ORDER BY" in step for step in plan), plan
    assert not any(step.startswith("SCAN") and "search" in step and "INDEX" not in step for step in plan), (
        plan
    )


ORDER_CASES = [
    (["kind=component"], "metadata.name", "asc"),
    (["kind=component,spec.type=service"], "metadata.name", "desc"),
    (["kind=component,metadata.tags=java"], "metadata.title", "asc"),
    (["kind=component,metadata.tags"], "metadata.tags", "desc"),
    (["metadata.namespace=ops", "kind=group"], "metadata.name", "asc"),
    (["kind=component,spec.type=library,metadata.title"], "spec.type", "asc"),
]


def _walk_pages(query: EntitiesQuery, filter_params: list[str], field: str, order: str) -> list[list[str]]:
    pages = []
    page = query.query_entities(
        filter=parse_filter_params(filter_params), order_fields=[(field, order)], limit=4
    )
    pages.append(_uids(page.items))
    while page.next_cursor:
        page = query.query_entities(cursor=page.next_cursor, limit=4)
        pages.append(_uids(page.items))
    back = query.query_entities(cursor=page.prev_cursor, limit=4) if page.prev_cursor else None
    if back is not None:
        pages.append(_uids(back.items))
    return pages


@pytest.mark.parametrize(("filter_params", "field", "order"), ORDER_CASES)
def test_ordered_pages_are_the_same_whichever_plan_runs(
    query: EntitiesQuery,
    monkeypatch: pytest.MonkeyPatch,
    filter_params: list[str],
    field: str,
    order: str,
) -> None:
    """Few matches sort the matches, many walk the sort index: both must give the same pages."""
    import greenroom.plugins.catalog.query.entities as entities_module

    monkeypatch.setattr(entities_module, "MATERIALIZE_BELOW", 10_000)
    sorted_matches = _walk_pages(query, filter_params, field, order)
    monkeypatch.setattr(entities_module, "MATERIALIZE_BELOW", 0)
    walked_index = _walk_pages(query, filter_params, field, order)
    assert sorted_matches == walked_index
    assert sum(len(page) for page in sorted_matches) > 0


def test_sqlite_count_and_first_page_read_only_the_search_index(
    engine: sa.Engine, query: EntitiesQuery
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    with StatementCounter(engine) as counter:
        query.query_entities(filter=KIND_COMPONENT, limit=20)
    # the first statement reads the catalog generation the total is cached under
    (_, count_sql, page_sql), (_, count_parameters, page_parameters) = counter.statements, counter.parameters
    with engine.connect() as connection:
        count_plan = [
            r[-1] for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + count_sql, count_parameters)
        ]
        page_plan = [
            r[-1] for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + page_sql, page_parameters)
        ]
    # the total is an index range count; the entity rows are not touched
    assert all("final_entities" not in step for step in count_plan), count_plan
    assert any("COVERING INDEX search_key_value_entity_original_idx" in step for step in count_plan), (
        count_plan
    )
    # the first page takes ids off the index already in id order, then looks up 21 rows; only
    # those 21 are sorted again (the outer ORDER BY, last step)
    sorts = [i for i, step in enumerate(page_plan) if "TEMP B-TREE" in step]
    assert sorts == [len(page_plan) - 1], page_plan


FULL_TEXT_CASES = [
    ("svc", ("metadata.name",), None),
    ("SVC-0", ("metadata.name", "metadata.title"), None),
    ("title 1", ("metadata.title",), ("metadata.name", "asc")),
    ("100%", ("metadata.description",), None),  # LIKE wildcards are literal
    ("pet store", ("metadata.description", "metadata.name"), ("metadata.title", "desc")),
    ("sv", ("metadata.name",), None),  # shorter than a trigram: scanned
    ("java", ("metadata.tags",), None),  # not a trigram-indexed key: scanned
]


@pytest.mark.parametrize(("term", "fields", "order"), FULL_TEXT_CASES)
def test_full_text_through_the_trigram_index_equals_the_scan(
    engine: sa.Engine,
    stored: list[dict[str, Any]],
    term: str,
    fields: tuple[str, ...],
    order: tuple[str, str] | None,
) -> None:
    indexed = EntitiesQuery(engine)
    assert indexed._has_text_index()  # migration 0004 ran in the fixture
    scanning = EntitiesQuery(engine)
    scanning._text_index = False

    def pages(query: EntitiesQuery) -> tuple[int, list[list[str]]]:
        page = query.query_entities(
            full_text=(term, fields), order_fields=[order] if order else (), limit=3, filter=None
        )
        total, seen = page.total_items, [_uids(page.items)]
        while page.next_cursor:
            page = query.query_entities(cursor=page.next_cursor, limit=3)
            seen.append(_uids(page.items))
        if page.prev_cursor:
            seen.append(_uids(query.query_entities(cursor=page.prev_cursor, limit=3).items))
        return total, seen

    assert pages(indexed) == pages(scanning)
    assert pages(indexed)[0] > 0


def test_full_text_with_more_matches_than_fit_in_memory_is_found_once_per_generation(
    engine: sa.Engine, stored: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the in-memory limit the page comes from SQL; later requests skip the doomed first read."""
    monkeypatch.setattr("greenroom.plugins.catalog.query.entities.TEXT_MATCHES_IN_MEMORY", 2)
    query = EntitiesQuery(engine)
    scanning = EntitiesQuery(engine)
    scanning._text_index = False
    asked = {"full_text": ("svc", ("metadata.name",)), "limit": 3, "filter": None}
    expected = scanning.query_entities(**asked)
    with StatementCounter(engine) as first:
        page = query.query_entities(**asked)
    with StatementCounter(engine) as again:
        repeated = query.query_entities(**asked)
    for got in (page, repeated):
        assert (got.total_items, _uids(got.items)) == (expected.total_items, _uids(expected.items))
    assert expected.total_items > 2

    def reading_matches(statements: list[str]) -> list[str]:
        return [sql for sql in statements if " LIKE " in sql or " MATCH " in sql]

    # the first request reads matches three times (in-memory attempt, count, page); a repeat
    # only for its page: too many for memory and the total are both known at this generation
    assert len(reading_matches(first.statements)) == 3, first.statements
    assert len(reading_matches(again.statements)) == 1, again.statements


def test_postgres_full_text_reads_only_the_asked_for_keys_trigram_indexes(
    engine: sa.Engine, stored: list[dict[str, Any]]
) -> None:
    """Names and titles come from their own partial indexes; descriptions are never fetched."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the per-key trigram indexes are PostgreSQL's (SQLite has an FTS5 table)")
    query = EntitiesQuery(engine)
    with StatementCounter(engine) as counter:
        query.query_entities(full_text=("svc", ("metadata.name", "metadata.title")), limit=3)
    candidates = next(sql for sql in counter.statements if "LIKE" in sql)
    parameters = counter.parameters[counter.statements.index(candidates)]
    with engine.connect() as connection:
        # A test catalog is small enough for a scan (or the key's B-tree range) to be cheaper; with
        # those ruled out for this transaction's EXPLAIN, what remains is which trigram indexes serve.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("DROP INDEX search_key_value_entity_original_idx")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + candidates, parameters))
        connection.rollback()
    assert "search_name_trgm_idx" in plan and "search_title_trgm_idx" in plan, plan
    assert "search_description_trgm_idx" not in plan, plan


def test_full_text_index_follows_updates_and_deletes(engine: sa.Engine, stored: list[dict[str, Any]]) -> None:
    query = EntitiesQuery(engine)
    victim = next(e for e in stored if e["metadata"].get("description") == "a pet store 100% real")
    text = orjson.loads(orjson.dumps(victim))
    text["metadata"]["description"] = "now a zebra farm"
    uid = victim["metadata"]["uid"]
    with engine.begin() as connection:  # as the stitcher rewrites an entity: its row and its search rows
        connection.execute(
            sa.update(final_entities)
            .where(final_entities.c.entity_id == uid)
            .values(final_entity=orjson.dumps(text).decode())
        )
        connection.execute(sa.delete(search).where(search.c.entity_id == uid))
        connection.execute(
            sa.insert(search),
            [
                {"entity_id": row[0], "key": row[1], "value": row[2], "original_value": row[3]}
                for row in build_search_rows(uid, text)
            ],
        )
    assert query.query_entities(full_text=("zebra", ("metadata.description",))).total_items == 1
    before = query.query_entities(full_text=("pet store", ("metadata.description",))).total_items
    with engine.begin() as connection:
        connection.execute(sa.delete(search).where(search.c.entity_id == victim["metadata"]["uid"]))
        connection.execute(
            sa.delete(final_entities).where(final_entities.c.entity_id == victim["metadata"]["uid"])
        )
    assert query.query_entities(full_text=("zebra", ("metadata.description",))).total_items == 0
    assert query.query_entities(full_text=("pet store", ("metadata.description",))).total_items == before
