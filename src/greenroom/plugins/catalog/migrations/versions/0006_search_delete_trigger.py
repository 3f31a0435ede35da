"""PostgreSQL: remove search rows with their entity by a statement trigger, not a foreign key.

Every stitch COPYs about 28 search rows per entity, and PostgreSQL checks a foreign key with
one trigger call and one primary-key lookup per inserted row: a large share of the database's
time during a bulk load (100k entities: 2.8M checks). The key's only job was the ON DELETE
CASCADE; a statement-level AFTER DELETE trigger with a transition table does that with one
join per DELETE statement. Search rows are only ever written by the stitcher, in the same
transaction as their entity, so nothing else relied on the check. SQLite checks foreign keys
inline and cheaply, and cannot drop one without rebuilding the table: it keeps its key.

Revision ID: 0006_search_delete_trigger
Revises: 0005_unprocessed_index
Create Date: 2026-11-21
"""

from alembic import op

revision = "0006_search_delete_trigger"
down_revision = "0005_unprocessed_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    name = bind.exec_driver_sql(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'search'::regclass"
    ).scalar_one_or_none()
    if name is not None:
        bind.exec_driver_sql(f'ALTER TABLE search DROP CONSTRAINT "{name}"')
    bind.exec_driver_sql(
        # SET search_path FROM CURRENT: the body's `search` is this plugin's table, whoever deletes
        "CREATE FUNCTION search_delete_with_entity() RETURNS trigger LANGUAGE plpgsql "
        "SET search_path FROM CURRENT AS $$ "
        "BEGIN DELETE FROM search USING gone WHERE search.entity_id = gone.entity_id; RETURN NULL; END $$"
    )
    bind.exec_driver_sql(
        "CREATE TRIGGER final_entities_delete_search AFTER DELETE ON final_entities "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION search_delete_with_entity()"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    bind.exec_driver_sql("DROP TRIGGER IF EXISTS final_entities_delete_search ON final_entities")
    bind.exec_driver_sql("DROP FUNCTION IF EXISTS search_delete_with_entity()")
    bind.exec_driver_sql(
        "ALTER TABLE search ADD FOREIGN KEY (entity_id) REFERENCES final_entities (entity_id) ON DELETE CASCADE"
    )
