"""After a bulk load the store vacuums and analyzes PostgreSQL's tables (index-only scans need it)."""

from __future__ import annotations

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
