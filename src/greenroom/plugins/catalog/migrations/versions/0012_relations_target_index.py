"""Drop the index on `relations.target_entity_ref`: no query reads relations by target.

Relations are read by their source (stitching) and by the entity that emitted them (replacing
an entity's relations, deleting an entity); incoming relations reach an entity as rows whose
source it is. The target index only cost an entry per relation row, about six per entity.

Revision ID: 0012_relations_target_index
Revises: 0011_search_filter_index
Create Date: 2026-12-07
"""

from alembic import op

revision = "0012_relations_target_index"
down_revision = "0011_search_filter_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("relations_target_entity_ref_idx", table_name="relations")


def downgrade() -> None:
    op.create_index("relations_target_entity_ref_idx", "relations", ["target_entity_ref"])
