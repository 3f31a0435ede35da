"""PostgreSQL: byte-order sorting of filter values and statistics on (key, value).

Backstage clients compare names by code unit; a locale collation would order pages
differently from what they expect, so sort values use the "C" collation. Without extended
statistics the planner underestimates rows per key and sorts every match of a filter on each
page (955 ms vs 0.7 ms per page measured at 60k entities). SQLite already compares bytes.

Revision ID: 0002_pg_sort_stats
Revises: 0001_initial
Create Date: 2026-11-21
"""

from alembic import op

revision = "0002_pg_sort_stats"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute('ALTER TABLE search ALTER COLUMN value TYPE varchar(200) COLLATE "C"')
    op.execute('ALTER TABLE search ALTER COLUMN original_value TYPE varchar(200) COLLATE "C"')
    op.execute(
        "CREATE STATISTICS IF NOT EXISTS search_key_value_stats (dependencies, mcv) ON key, value FROM search"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP STATISTICS IF EXISTS search_key_value_stats")
    op.execute("ALTER TABLE search ALTER COLUMN value TYPE varchar(200)")
    op.execute("ALTER TABLE search ALTER COLUMN original_value TYPE varchar(200)")
