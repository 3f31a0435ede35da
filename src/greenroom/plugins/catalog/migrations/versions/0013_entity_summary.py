"""A summary per final entity, so `fields=` projections need not parse whole documents.

The stitcher stores, beside each final entity, the entity reduced to a few paths (kind, name,
namespace, title, description, tags, type, owner, ...; see `query/fields.py`). A projection
within those paths reads it instead of the document. Existing entities get theirs when they are
next stitched; until then their document answers, so no backfill is needed.

Revision ID: 0013_entity_summary
Revises: 0012_relations_target_index
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_entity_summary"
down_revision = "0012_relations_target_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("final_entities", sa.Column("summary", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("final_entities") as batch:
        batch.drop_column("summary")
