"""Index the never-processed rows, so the status endpoint's pending count is two index ranges.

`GET /api/catalog/status` counted `next_update_at <= now OR result_hash IS NULL`; the OR made
both databases scan the whole `refresh_state` table (the wide one holding every unprocessed and
processed entity) on every call: at 100k entities, a dashboard or script polling it a few times
a second took a large share of the database away from ingestion. Pending is now counted as
"due" (the existing next_update_at index) plus "never processed and not yet due" (this partial
index, empty once a catalog has settled).

Revision ID: 0005_unprocessed_index
Revises: 0004_full_text_index
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_unprocessed_index"
down_revision = "0004_full_text_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "refresh_state_unprocessed_idx",
        "refresh_state",
        ["next_update_at"],
        sqlite_where=sa.text("result_hash IS NULL"),
        postgresql_where=sa.text("result_hash IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("refresh_state_unprocessed_idx", table_name="refresh_state")
