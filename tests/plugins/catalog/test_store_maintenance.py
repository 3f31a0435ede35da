"""After a bulk load the store vacuums and analyzes PostgreSQL's tables (index-only scans need it)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from .conftest import CatalogHarness, component


def test_bulk_load_is_followed_by_vacuum_analyze(catalog: CatalogHarness) -> None:
    path = catalog.write("catalog-info.yaml", "---\n".join(component(f"svc-{i}") for i in range(5)))
    catalog.register(path)
    catalog.settle()
    store = catalog.service.store
    assert store.analyze_if_grown(1, threshold=10) is False  # below the threshold: nothing to do
    ran = store.analyze_if_grown(10, threshold=10)
    if store.dialect != "postgresql":
        assert ran is False  # SQLite needs neither
        return
    assert ran is True
    # ANALYZE sets reltuples (-1 until a table is first analyzed). Whether VACUUM could also mark
    # pages all-visible depends on other sessions' snapshots, so that is left to the bench.
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT relname, reltuples FROM pg_class "
                "WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'"
            )
        ).all()
    tuples = dict(rows)  # type: ignore[arg-type]
    assert tuples["search"] > 0 and tuples["final_entities"] > 0, tuples


def test_pending_counts_due_and_never_processed_rows_once(catalog: CatalogHarness) -> None:
    from greenroom.plugins.catalog import tables as t

    catalog.register(catalog.write("catalog-info.yaml", component("svc-a")))
    catalog.settle()
    store = catalog.service.store
    # a "now" far ahead of the clock: the running engine never claims these rows meanwhile
    now = time.time() + 1_000_000
    with store.engine.begin() as connection:
        connection.execute(t.refresh_state.update().values(next_update_at=now + 60))
    assert store.queue_depths(now)["processing"] == 0
    with store.engine.begin() as connection:  # one never processed, one due, one both
        connection.execute(
            t.refresh_state.insert(),
            [
                {
                    "entity_id": f"id-{i}",
                    "entity_ref": f"component:default/pending-{i}",
                    "unprocessed_entity": "{}",
                    "result_hash": result_hash,
                    "next_update_at": next_update_at,
                    "last_discovery_at": now,
                }
                for i, (result_hash, next_update_at) in enumerate(
                    [(None, now + 60), ("x", now - 1), (None, now - 1)]
                )
            ],
        )
    assert store.queue_depths(now)["processing"] == 3
    # counted up to a limit, so a status poll costs the same at any size; zero stays exact
    assert store.queue_depths(now, limit=2)["processing"] == 2
    assert store.queue_depths(now, limit=3)["processing"] == 3
    with store.read_engine.connect() as connection:
        queued = connection.execute(sa.text("SELECT count(*) FROM stitch_queue")).scalar_one()
    assert store.queue_depths(now + 3600, limit=100)["stitching"] == min(queued, 100)


def test_deleting_an_entity_removes_its_search_rows(catalog: CatalogHarness) -> None:
    """On PostgreSQL a statement trigger does what the foreign key's cascade did (migration 0006)."""
    from greenroom.plugins.catalog import tables as t

    location = catalog.register(
        catalog.write("catalog-info.yaml", component("svc-a") + "---\n" + component("svc-b"))
    )
    catalog.settle()
    store = catalog.service.store
    with store.engine.connect() as connection:
        uid = connection.execute(
            sa.select(t.final_entities.c.entity_id).where(
                t.final_entities.c.entity_ref == "component:default/svc-a"
            )
        ).scalar_one()
        assert (
            connection.execute(sa.select(sa.func.count()).where(t.search.c.entity_id == uid)).scalar_one() > 0
        )
    assert catalog.client.delete(f"/api/catalog/entities/by-uid/{uid}").status_code == 204
    assert catalog.client.delete(f"/api/catalog/locations/{location['location']['id']}").status_code == 204
    catalog.settle()
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(t.search)).scalar_one() == 0
        assert connection.execute(sa.select(sa.func.count()).select_from(t.final_entities)).scalar_one() == 0
    response = catalog.client.get("/api/catalog/entities/by-query", params={"filter": "kind=component"})
    assert response.json()["totalItems"] == 0


def test_status_reports_post_load_maintenance(catalog: CatalogHarness) -> None:
    engine = catalog.service.engine
    engine._maintain(10_000)  # as the engine does when a stitch backlog of that size drains
    maintenance = catalog.client.get("/api/catalog/status").json()["engine"]["maintenance"]
    assert maintenance["running"] is False
    if catalog.service.store.dialect == "postgresql":
        assert isinstance(maintenance["lastSeconds"], float) and maintenance["lastSeconds"] >= 0
    else:
        assert maintenance["lastSeconds"] is None  # SQLite needs none


def test_stitch_queue_serves_the_least_recently_changed_first(catalog: CatalogHarness) -> None:
    """A hub queued again (it gained another relation) goes behind entities that have settled."""
    catalog.service.engine.stop()  # its rounds would claim or release these rows
    store = catalog.service.store
    base = time.time()
    hub, settled_a, settled_b = (f"group:default/queued-{name}" for name in ("hub", "a", "b"))
    with store.engine.begin() as connection:
        store.mark_for_stitching(connection, [hub], base)  # queued first...
    with store.engine.begin() as connection:
        store.mark_for_stitching(connection, [settled_a, settled_b], base + 1)
    with store.engine.begin() as connection:
        store.mark_for_stitching(connection, [hub], base + 5)  # the hub changes again
    # all three are due; a batch of two takes the two that settled first
    assert {ref for ref, _ in store.claim_stitch(2, base + 5, timeout=60)} == {settled_a, settled_b}
    assert [ref for ref, _ in store.claim_stitch(2, base + 5, timeout=60)] == [hub]
    assert store.claim_stitch(2, base + 6, timeout=60) == []  # all leased until base + 65
    # queued again while in flight: due again at the new time
    with store.engine.begin() as connection:
        store.mark_for_stitching(connection, [settled_a], base + 10)
    assert [ref for ref, _ in store.claim_stitch(10, base + 10, timeout=60)] == [settled_a]


def test_held_restitches_wait_for_release_and_never_delay_a_queued_ref(catalog: CatalogHarness) -> None:
    from greenroom.plugins.catalog.processing.store import RESTITCH_HOLD_SECONDS

    catalog.service.engine.stop()  # its rounds would claim or release these rows
    store = catalog.service.store
    base = time.time()
    hub, queued = "group:default/held-hub", "component:default/held-queued"
    with store.engine.begin() as connection:
        store.mark_for_stitching(connection, [queued], base)
    with store.engine.begin() as connection:
        store.mark_for_stitching(connection, [], base, held=[hub, queued])
    # the hub waits; the ref that was already due stays due
    assert [ref for ref, _ in store.claim_stitch(10, base, timeout=60)] == [queued]
    assert store.claim_stitch(10, base + 59, timeout=60) == []  # the queued one is leased meanwhile
    assert RESTITCH_HOLD_SECONDS > 59
    # released (the processing backlog drained): due now, and leases are left alone
    assert store.release_held_stitches(base + 1, stitch_timeout=60) == 1
    assert store.release_held_stitches(base + 1, stitch_timeout=60) == 0
    assert [ref for ref, _ in store.claim_stitch(10, base + 1, timeout=60)] == [hub]
    # held again while being stitched: held (released with the rest), not left to its lease
    with store.engine.begin() as connection:
        store.mark_for_stitching(connection, [], base + 2, held=[hub], stitch_timeout=60)
    assert store.release_held_stitches(base + 3, stitch_timeout=60) == 1
    assert [ref for ref, _ in store.claim_stitch(10, base + 3, timeout=60)] == [hub]


@pytest.mark.parametrize("catalog", [{"processingBatchSize": 1}], indirect=True)
def test_hubs_get_every_relation_when_their_restitches_were_held(catalog: CatalogHarness) -> None:
    """One entity per batch: every batch is full, so each owner restitch is held until the end."""
    group = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\nspec:\n  type: team\n  children: []\n"
    documents = [group] + [component(f"svc-{i}") for i in range(6)]
    catalog.register(catalog.write("catalog-info.yaml", "---\n".join(documents)))
    catalog.settle()
    owner = catalog.entity("group:default/team-a")
    assert owner is not None
    owned = sorted(r["targetRef"] for r in owner["relations"] if r["type"] == "ownerOf")
    assert owned == [f"component:default/svc-{i}" for i in range(6)]
    assert catalog.service.store.queue_depths(time.time())["stitching"] == 0
