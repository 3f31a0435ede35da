"""After a bulk load the store vacuums and analyzes PostgreSQL's tables (index-only scans need it)."""

from __future__ import annotations

import time

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
