"""A trigram index for full-text filters on names, titles, descriptions and display names.

`fullTextFilterTerm` is a substring match (`LIKE '%term%'`), which no B-tree can answer: at
100k entities it read every name and title (about 170k index entries, 50 to 80 ms per query).
SQLite gets an FTS5 table with the trigram tokenizer, one row per final entity keyed by its
rowid and kept in step by triggers; PostgreSQL gets a pg_trgm GIN index over those keys'
search rows. Either is optional: where FTS5's trigram tokenizer or the pg_trgm extension is
not available the migration leaves it out and full-text filters keep scanning.

Revision ID: 0004_full_text_index
Revises: 0003_search_entity_key
Create Date: 2026-11-21
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0004_full_text_index"
down_revision = "0003_search_entity_key"
branch_labels = None
depends_on = None

logger = logging.getLogger(__name__)

# (FTS5 column, JSON path in the final entity); the search keys are the lower-cased paths.
TEXT_COLUMNS = (
    ("name", "$.metadata.name"),
    ("title", "$.metadata.title"),
    ("description", "$.metadata.description"),
    ("display_name", "$.spec.profile.displayName"),
)
TEXT_KEYS = ("metadata.name", "metadata.title", "metadata.description", "spec.profile.displayname")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_upgrade(bind)
    elif bind.dialect.name == "postgresql":
        _postgres_upgrade(bind)


def _sqlite_upgrade(bind: sa.Connection) -> None:
    try:
        bind.exec_driver_sql("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(a, tokenize='trigram')")
        bind.exec_driver_sql("DROP TABLE temp.fts5_probe")
    except sa.exc.OperationalError:
        logger.warning("SQLite has no FTS5 trigram tokenizer; full-text filters will scan")
        return
    names = ", ".join(name for name, _ in TEXT_COLUMNS)
    # values the search index drops (over 200 characters) are left out here too
    values = ", ".join(
        f"CASE WHEN length(json_extract({{row}}.final_entity, '{path}')) <= 200 "
        f"THEN json_extract({{row}}.final_entity, '{path}') END"
        for _, path in TEXT_COLUMNS
    )
    bind.exec_driver_sql(f"CREATE VIRTUAL TABLE search_text USING fts5({names}, tokenize='trigram')")
    insert_new = f"INSERT INTO search_text (rowid, {names}) VALUES (new.rowid, {values.format(row='new')});"
    bind.exec_driver_sql(
        f"CREATE TRIGGER final_entities_text_insert AFTER INSERT ON final_entities BEGIN {insert_new} END"
    )
    bind.exec_driver_sql(
        "CREATE TRIGGER final_entities_text_update AFTER UPDATE OF final_entity ON final_entities BEGIN "
        f"DELETE FROM search_text WHERE rowid = old.rowid; {insert_new} END"
    )
    bind.exec_driver_sql(
        "CREATE TRIGGER final_entities_text_delete AFTER DELETE ON final_entities BEGIN "
        "DELETE FROM search_text WHERE rowid = old.rowid; END"
    )
    bind.exec_driver_sql(
        f"INSERT INTO search_text (rowid, {names}) "
        f"SELECT final_entities.rowid, {values.format(row='final_entities')} FROM final_entities"
    )


def _postgres_upgrade(bind: sa.Connection) -> None:
    # In `public` when possible: an extension created inside this plugin's schema would be dropped
    # with that schema, taking every other schema's trigram index with it.
    # Serialised across schemas (replicas, other Greenroom instances in this database): two
    # concurrent CREATE EXTENSION IF NOT EXISTS can both try to create it.
    bind.exec_driver_sql("SELECT pg_advisory_xact_lock(7400417)")
    for statement in (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    ):
        try:
            with bind.begin_nested():
                bind.exec_driver_sql(statement)
            break
        except sa.exc.DBAPIError as error:
            failure = error
    else:
        logger.warning("pg_trgm is not available (%s); full-text filters will scan", failure.orig)
        return
    schema = bind.exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    ).scalar_one()
    keys = ", ".join(f"'{key}'" for key in TEXT_KEYS)
    bind.exec_driver_sql(
        f"CREATE INDEX search_value_trgm_idx ON search USING gin (value {schema}.gin_trgm_ops) "
        f"WHERE key IN ({keys})"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS final_entities_text_{trigger}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS search_text")
    elif bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP INDEX IF EXISTS search_value_trgm_idx")
