"""The catalog's tables (SQLAlchemy Core). Same model as Backstage's catalog, tuned for scale.

- `refresh_state`: one row per known entity: what a provider/parent emitted (unprocessed), the
  last good processed version, its errors, and when it is next due for processing. The claim
  of work pushes `next_update_at` forward, which is the lease, and stores a `claim_token`: only
  the newest claim's outcome is written.
- `refresh_state_references`: the ingestion graph (provider or parent entity → emitted entity);
  an entity with no incoming reference is an orphan.
- `relations`: relation rows produced by processing, both directions, owned by the entity whose
  processing produced them (`originating_entity_id`).
- `final_entities`: the stitched entity served by the API, stored as JSON text so it can be sent
  without re-encoding; `search`: the flattened (key, value) filter index used by filters,
  ordering, full-text and facets.
- `stitch_queue`: entities whose final form must be recomputed; coalesces repeated requests.
- `locations`: user-registered locations; `conflicts`: refs claimed by two locations.
- `catalog_generation`: one row whose value changes with every committed change of a final
  entity (cached totals and facets are keyed by it), and the number of final entities.

Times are epoch seconds (float) on both databases so that SQLite and PostgreSQL behave alike.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

refresh_state = sa.Table(
    "refresh_state",
    metadata,
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
    sa.Column("claim_token", sa.String(32), nullable=True),
    sa.Index("refresh_state_next_update_at_idx", "next_update_at"),
    sa.Index(
        "refresh_state_unprocessed_idx",
        "next_update_at",
        sqlite_where=sa.text("result_hash IS NULL"),
        postgresql_where=sa.text("result_hash IS NULL"),
    ),
    sa.Index(
        "refresh_state_orphaned_at_idx",
        "orphaned_at",
        sqlite_where=sa.text("orphaned_at IS NOT NULL"),
        postgresql_where=sa.text("orphaned_at IS NOT NULL"),
    ),
)

refresh_state_references = sa.Table(
    "refresh_state_references",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("source_key", sa.String(255), nullable=True),
    sa.Column("source_entity_ref", sa.String(512), nullable=True),
    sa.Column("target_entity_ref", sa.String(512), nullable=False),
    sa.Index("refresh_state_references_source_key_idx", "source_key"),
    sa.Index("refresh_state_references_source_entity_ref_idx", "source_entity_ref"),
    sa.Index("refresh_state_references_target_entity_ref_idx", "target_entity_ref"),
)

relations = sa.Table(
    "relations",
    metadata,
    sa.Column(
        "originating_entity_id",
        sa.String(36),
        sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("source_entity_ref", sa.String(512), nullable=False),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("target_entity_ref", sa.String(512), nullable=False),
    sa.Index("relations_source_entity_ref_idx", "source_entity_ref"),
    sa.Index("relations_originating_entity_id_idx", "originating_entity_id"),
)

refresh_keys = sa.Table(
    "refresh_keys",
    metadata,
    sa.Column(
        "entity_id",
        sa.String(36),
        sa.ForeignKey("refresh_state.entity_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("key", sa.Text, nullable=False),
    sa.Index("refresh_keys_entity_id_idx", "entity_id"),
    sa.Index("refresh_keys_key_idx", "key"),
)

final_entities = sa.Table(
    "final_entities",
    metadata,
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
    sa.Column("summary", sa.Text, nullable=True),  # the entity reduced to query/fields.SUMMARY_PATHS
)

search = sa.Table(
    "search",
    metadata,
    sa.Column(
        "entity_id",
        sa.String(36),
        sa.ForeignKey("final_entities.entity_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("value", sa.String(200), nullable=True),
    sa.Column("original_value", sa.String(200), nullable=True),
    # filters and ordering use the (key, value, entity_id) prefix; facets read original_value too
    sa.Index("search_key_value_entity_original_idx", "key", "value", "entity_id", "original_value"),
    sa.Index("search_entity_id_key_idx", "entity_id", "key"),
)

stitch_queue = sa.Table(
    "stitch_queue",
    metadata,
    sa.Column("entity_ref", sa.String(512), primary_key=True),
    sa.Column("stitch_ticket", sa.String(36), nullable=False),
    sa.Column("next_stitch_at", sa.Float, nullable=False),
    sa.Index("stitch_queue_next_stitch_at_idx", "next_stitch_at"),
)

locations = sa.Table(
    "locations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("location_entity_ref", sa.String(512), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("location_entity_ref", name="locations_location_entity_ref_key"),
)

conflicts = sa.Table(
    "conflicts",
    metadata,
    sa.Column("entity_ref", sa.String(512), primary_key=True),
    sa.Column("existing_location_key", sa.Text, nullable=True),
    sa.Column("new_location_key", sa.Text, nullable=False),
    sa.Column("last_conflict_at", sa.Float, nullable=False),
)

catalog_generation = sa.Table(
    "catalog_generation",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    sa.Column("entities", sa.BigInteger, nullable=False, server_default="0"),
)
