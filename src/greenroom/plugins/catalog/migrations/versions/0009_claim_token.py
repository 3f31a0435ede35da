"""A token per processing claim, so a superseded processing round cannot write its outcome.

A claim pushes `next_update_at` forward (the lease). A refresh, or a saved file seen by the
watcher, makes a claimed entity due again at once, so a second round (another thread, replica
or `greenroom worker`) may process it while the first is still running; whichever wrote last
won, and the first round may have read the file before it was saved (or while it was being
written). Each claim now stores a fresh token; an outcome is written only if its row still
carries the token it was claimed with, so the newest round's outcome is the one that lands.

Revision ID: 0009_claim_token
Revises: 0008_orphaned_index
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_claim_token"
down_revision = "0008_orphaned_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a nullable column without a default: no table rewrite on either database
    op.add_column("refresh_state", sa.Column("claim_token", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_state") as batch:
        batch.drop_column("claim_token")
