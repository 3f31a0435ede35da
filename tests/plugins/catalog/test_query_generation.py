"""Totals and facets are reused while the catalog is unchanged, and exact after every change."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.datastructures import QueryParams

from greenroom.plugins.catalog.query.generation import current_generation
from greenroom.plugins.catalog.ui.catalog_index import CatalogIndexQuery, IndexState

from .conftest import CatalogHarness, component


def _total(catalog: CatalogHarness, filter_: str = "kind=component") -> int:
    response = catalog.client.get("/api/catalog/entities/by-query", params={"filter": filter_, "limit": 1})
    assert response.status_code == 200, response.text
    return int(response.json()["totalItems"])


def _owner_facet(catalog: CatalogHarness) -> dict[str, int]:
    response = catalog.client.get("/api/catalog/entity-facets", params={"facet": "spec.owner"})
    assert response.status_code == 200, response.text
    return {item["value"]: item["count"] for item in response.json()["facets"]["spec.owner"]}


def _assert_status_counts_exact(catalog: CatalogHarness) -> None:
    """The status's entity count, kept by the changing transactions, equals a real count.

    A watcher event can start a round between reading the status and counting; a real drift
    persists over a settled retry, a race does not.
    """
    seen: list[tuple[int, int, int, int]] = []
    for _ in range(5):
        catalog.settle()
        status = catalog.client.get("/api/catalog/status").json()
        with catalog.service.store.read_engine.connect() as connection:
            visible = connection.execute(sa.text("SELECT count(*) FROM final_entities")).scalar_one()
            known = connection.execute(sa.text("SELECT count(*) FROM refresh_state")).scalar_one()
        seen.append((status["entities"], visible, status["knownEntities"], known))
        if status["entities"] == visible and status["knownEntities"] == known:
            break
    assert seen[-1][0] == seen[-1][1] and seen[-1][2] == seen[-1][3], seen
    assert status["knownEntitiesEstimated"] is False and status["queueCountLimit"] == 10_000


def _generation(catalog: CatalogHarness) -> int:
    with catalog.service.store.read_engine.connect() as connection:
        value = current_generation(connection)
    assert value is not None
    return value


def test_an_unchanged_catalog_answers_totals_and_facets_from_the_cache(catalog: CatalogHarness) -> None:
    catalog.register(catalog.write("a.yaml", component("one") + "---\n" + component("two", owner="team-b")))
    catalog.settle()
    results = catalog.service.query.results
    assert _total(catalog) == 2 and _owner_facet(catalog) == {"team-a": 1, "team-b": 1}
    hits = results.hits
    for _ in range(3):
        assert _total(catalog) == 2 and _owner_facet(catalog) == {"team-a": 1, "team-b": 1}
    assert results.hits == hits + 6
    # a processing round that changes nothing keeps the generation, and so the cache
    generation = _generation(catalog)
    catalog.service.engine.run_once(force_sweep=True)
    assert _generation(catalog) == generation


def test_every_kind_of_change_is_seen_by_the_next_total_and_facet(catalog: CatalogHarness) -> None:
    path = catalog.write("a.yaml", component("one") + "---\n" + component("two", owner="team-b"))
    catalog.register(path)
    catalog.settle()
    assert _total(catalog) == 2 and _owner_facet(catalog) == {"team-a": 1, "team-b": 1}

    # stitching a new entity
    catalog.write(
        "a.yaml", component("one") + "---\n" + component("two", owner="team-b") + "---\n" + component("three")
    )
    before = _generation(catalog)
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/one"})
    catalog.settle()
    assert _generation(catalog) > before
    assert _total(catalog) == 3 and _owner_facet(catalog) == {"team-a": 2, "team-b": 1}
    _assert_status_counts_exact(catalog)

    # an edit that changes a facet value but not the total
    catalog.write(
        "a.yaml", component("one") + "---\n" + component("two", owner="team-c") + "---\n" + component("three")
    )
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/one"})
    catalog.settle()
    assert _total(catalog) == 3 and _owner_facet(catalog) == {"team-a": 2, "team-c": 1}

    # the orphan policy deleting an entity removed from its file
    catalog.write("a.yaml", component("one") + "---\n" + component("two", owner="team-c"))
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/one"})
    catalog.settle()
    assert _total(catalog) == 2 and _owner_facet(catalog) == {"team-a": 1, "team-c": 1}
    _assert_status_counts_exact(catalog)

    # deleting by uid through the API (the loop is paused: the file still declares the entity,
    # so processing brings it back at once, as Backstage's catalog heals)
    uid = catalog.entity("component:default/two")["metadata"]["uid"]  # type: ignore[index]
    catalog.service.engine.stop()
    try:
        assert catalog.client.delete(f"/api/catalog/entities/by-uid/{uid}").status_code == 204
        assert _total(catalog) == 1 and _owner_facet(catalog) == {"team-a": 1}
    finally:
        catalog.service.engine.start()
    catalog.settle()
    assert _total(catalog) == 2 and _owner_facet(catalog) == {"team-a": 1, "team-c": 1}
    _assert_status_counts_exact(catalog)

    # unregistering the location deletes everything it brought
    location_id = catalog.client.get("/api/catalog/locations").json()[0]["data"]["id"]
    assert catalog.client.delete(f"/api/catalog/locations/{location_id}").status_code == 204
    catalog.settle()
    assert _total(catalog) == 0 and _owner_facet(catalog) == {}
    _assert_status_counts_exact(catalog)


def test_the_catalog_page_counts_follow_changes(catalog: CatalogHarness) -> None:
    path = catalog.write("a.yaml", component("one") + "---\n" + component("two", owner="team-b"))
    catalog.register(path)
    catalog.settle()
    query = CatalogIndexQuery(catalog.service)
    state = IndexState.from_params(QueryParams("kind=component"))
    first = query.run(state, [], [])
    assert first.total == 2 and {f.value: f.count for f in first.facets["owner"]} == {
        "group:default/team-a": 1,
        "group:default/team-b": 1,
    }
    assert query.run(state, [], []).total == 2 and query.results.hits == 2  # total and facets reused
    catalog.write("a.yaml", component("one"))
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/one"})
    catalog.settle()
    after = query.run(state, [], [])
    assert after.total == 1 and {f.value: f.count for f in after.facets["owner"]} == {
        "group:default/team-a": 1
    }


def test_a_catalog_without_the_generation_row_still_answers(catalog: CatalogHarness) -> None:
    catalog.register(catalog.write("a.yaml", component("one")))
    catalog.settle()
    with catalog.service.store.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM catalog_generation"))
    assert _total(catalog) == 1 and _total(catalog) == 1
    assert _owner_facet(catalog) == {"team-a": 1}
