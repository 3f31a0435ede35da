"""Shared pieces of the catalog query tests: a real engine per database and an entity writer."""

from __future__ import annotations

import hashlib
import importlib
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from greenroom.plugins.catalog.processing.store import bump_generation
from greenroom.plugins.catalog.query.fields import summary_of
from greenroom.plugins.catalog.query.search_index import build_search_rows
from greenroom.plugins.catalog.tables import (
    catalog_generation,
    final_entities,
    metadata,
    refresh_state,
    search,
)

_full_text_migration = importlib.import_module(
    "greenroom.plugins.catalog.migrations.versions.0004_full_text_index"
)
_trigram_per_key_migration = importlib.import_module(
    "greenroom.plugins.catalog.migrations.versions.0014_trigram_index_per_key"
)


def engine_fixture() -> Callable[..., Iterator[sa.Engine]]:
    """A fixture giving a migrated engine on SQLite and on PostgreSQL (own schema)."""

    @pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
    def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
        if request.param == "sqlite":
            created = sa.create_engine(f"sqlite:///{tmp_path / 'catalog.sqlite'}")

            @sa.event.listens_for(created, "connect")
            def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute("PRAGMA foreign_keys=ON")

        else:
            prefix = request.getfixturevalue("pg_schema_prefix")
            url = request.getfixturevalue("pg_url").replace("postgresql://", "postgresql+psycopg://", 1)
            schema = f"{prefix}catalog"
            admin = sa.create_engine(url)
            with admin.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            admin.dispose()
            created = sa.create_engine(url)

            @sa.event.listens_for(created, "connect")
            def _search_path(dbapi_connection: Any, _record: Any) -> None:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute(f'SET search_path TO "{schema}"')
                dbapi_connection.commit()

        metadata.create_all(created)
        with (
            created.begin() as connection
        ):  # the trigram indexes of migrations 0004 and 0014, as in production
            connection.execute(
                catalog_generation.insert().values(id=1, value=0, entities=0)
            )  # migration 0007
            if connection.dialect.name == "sqlite":
                _full_text_migration._sqlite_upgrade(connection)
            else:
                _full_text_migration._postgres_upgrade(connection)
                _trigram_per_key_migration._postgres_upgrade(connection)
        yield created
        created.dispose()

    return engine


def ref_of(entity: dict[str, Any]) -> str:
    meta = entity["metadata"]
    return f"{entity['kind']}:{meta.get('namespace', 'default')}/{meta['name']}".lower()


def insert_entities(
    engine: sa.Engine, entities: Sequence[dict[str, Any]], *, summaries: bool = True
) -> list[dict[str, Any]]:
    """Store entities as the stitcher does (refresh_state, final_entities, search); return them with uids.

    `summaries=False` stores them as entities stitched before summaries existed.
    """
    stored = []
    state_rows, final_rows, search_rows = [], [], []
    for entity in entities:
        entity = orjson.loads(orjson.dumps(entity))
        meta = entity["metadata"]
        meta.setdefault("uid", str(uuid.uuid4()))
        text = orjson.dumps(entity).decode()
        meta.setdefault("etag", hashlib.sha1(text.encode()).hexdigest())
        text = orjson.dumps(entity).decode()
        entity_id, ref = meta["uid"], ref_of(entity)
        state_rows.append(
            {
                "entity_id": entity_id,
                "entity_ref": ref,
                "unprocessed_entity": text,
                "next_update_at": 0.0,
                "last_discovery_at": 0.0,
            }
        )
        final_rows.append(
            {
                "entity_id": entity_id,
                "entity_ref": ref,
                "hash": meta["etag"],
                "final_entity": text,
                "last_updated_at": 0.0,
                "summary": summary_of(entity) if summaries else None,
            }
        )
        search_rows.extend(
            {"entity_id": e, "key": k, "value": v, "original_value": o}
            for e, k, v, o in build_search_rows(entity_id, entity)
        )
        stored.append(entity)
    with engine.begin() as connection:
        connection.execute(refresh_state.insert(), state_rows)
        connection.execute(final_entities.insert(), final_rows)
        for start in range(0, len(search_rows), 5000):
            connection.execute(search.insert(), search_rows[start : start + 5000])
        bump_generation(connection, len(final_rows))
    return stored


def component(name: str, **spec: Any) -> dict[str, Any]:
    metadata_: dict[str, Any] = {"name": name}
    for key in ("tags", "title", "namespace", "description", "annotations"):
        if key in spec:
            metadata_[key] = spec.pop(key)
    relations = spec.pop("relations", None)
    entity: dict[str, Any] = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": spec.pop("kind", "Component"),
        "metadata": metadata_,
        "spec": spec,
    }
    if relations is not None:
        entity["relations"] = relations
    return entity


class StatementCounter:
    """Counts SQL statements sent to the database while active (the N+1 guard)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.parameters: list[Any] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        self.statements.append(statement)
        self.parameters.append(parameters)

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._record)
