"""Initial catalog schema: ingestion state, relations, final entities, filter index, locations.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "refresh_state",
        sa.Column("entity_id", sa.String(36), primary_key=True),
        sa.Column("entity_ref", sa.String(512), nullable=False, unique=True),
        sa.Column("unprocessed_entity", sa.Text, nullable=False),
        sa.Column("unprocessed_hash", sa.String(64), nullable=True),
        sa.Column("processed_entity", sa.Text, nullable=True),
        sa.Column("result_hash", sa.String(64), nullable=True),
        sa.Column("cache", sa.Text, nullable=True),
        sa.Column("errors", sa.Text, nullable=False, server_default="[]"),
        sa.Column("next_update_at", sa.Float, nullable=False),
        sa.Column("last_discovery_at", sa.Float, nullable=False),
        sa.Column("location_key", sa.Text, nullable=True),
        sa.Column("orphaned_at", sa.Float, nullable=True),
    )
    op.create_index("refresh_state_next_update_at_idx", "refresh_state", ["next_update_at"])
    op.create_table(
        "refresh_state_references",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("source_key", sa.String(255), nullable=True),
        sa.Column("source_entity_ref", sa.String(512), nullable=True),
        sa.Column("target_entity_ref", sa.String(512), nullable=False),
    )
    op.create_index("refresh_state_references_source_key_idx", "refresh_state_references", ["source_key"])
    op.create_index(
        "refresh_state_references_source_entity_ref_idx", "refresh_state_references", ["source_entity_ref"]
    )
    op.create_index(
        "refresh_state_references_target_entity_ref_idx", "refresh_state_references", ["target_entity_ref"]
    )
    op.create_table(
        "relations",
        sa.Column(
            "originating_entity_id",
            sa.String(36),
            sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source_entity_ref", sa.String(512), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("target_entity_ref", sa.String(512), nullable=False),
    )
    op.create_index("relations_source_entity_ref_idx", "relations", ["source_entity_ref"])
    op.create_index("relations_originating_entity_id_idx", "relations", ["originating_entity_id"])
    op.create_index("relations_target_entity_ref_idx", "relations", ["target_entity_ref"])
    op.create_table(
        "refresh_keys",
        sa.Column(
            "entity_id",
            sa.String(36),
            sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.Text, nullable=False),
    )
    op.create_index("refresh_keys_entity_id_idx", "refresh_keys", ["entity_id"])
    op.create_index("refresh_keys_key_idx", "refresh_keys", ["key"])
    op.create_table(
        "final_entities",
        sa.Column(
            "entity_id",
            sa.String(36),
            sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("entity_ref", sa.String(512), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("final_entity", sa.Text, nullable=False),
        sa.Column("last_updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "search",
        sa.Column(
            "entity_id",
            sa.String(36),
            sa.ForeignKey("final_entities.entity_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.String(200), nullable=True),
        sa.Column("original_value", sa.String(200), nullable=True),
    )
    op.create_index("search_key_value_entity_idx", "search", ["key", "value", "entity_id"])
    op.create_index("search_key_original_value_idx", "search", ["key", "original_value"])
    op.create_index("search_entity_id_idx", "search", ["entity_id"])
    op.create_table(
        "stitch_queue",
        sa.Column("entity_ref", sa.String(512), primary_key=True),
        sa.Column("stitch_ticket", sa.String(36), nullable=False),
        sa.Column("next_stitch_at", sa.Float, nullable=False),
    )
    op.create_index("stitch_queue_next_stitch_at_idx", "stitch_queue", ["next_stitch_at"])
    op.create_table(
        "locations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("location_entity_ref", sa.String(512), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("location_entity_ref", name="locations_location_entity_ref_key"),
    )
    op.create_table(
        "conflicts",
        sa.Column("entity_ref", sa.String(512), primary_key=True),
        sa.Column("existing_location_key", sa.Text, nullable=True),
        sa.Column("new_location_key", sa.Text, nullable=False),
        sa.Column("last_conflict_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "conflicts",
        "locations",
        "stitch_queue",
        "search",
        "final_entities",
        "refresh_keys",
        "relations",
        "refresh_state_references",
        "refresh_state",
    ):
        op.drop_table(table)
