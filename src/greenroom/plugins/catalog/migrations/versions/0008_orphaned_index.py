"""Index orphaned entities, so the orphan sweep does not scan `refresh_state` every second.

The processing loop looks for orphans older than the grace period once a second. Without an
index that is a full scan of the table holding every unprocessed and processed entity: at 1M
entities on PostgreSQL, a scan of about 1.2 GB each second. Orphans are rare, so a partial
index over them is tiny and the usual answer ("none") is one index probe.

Revision ID: 0008_orphaned_index
Revises: 0007_catalog_generation
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_orphaned_index"
down_revision = "0007_catalog_generation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "refresh_state_orphaned_at_idx",
        "refresh_state",
        ["orphaned_at"],
        sqlite_where=sa.text("orphaned_at IS NOT NULL"),
        postgresql_where=sa.text("orphaned_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("refresh_state_orphaned_at_idx", table_name="refresh_state")
