"""Count the final entities in the catalog generation row.

`GET /status` reported the number of visible entities with `count(*)` over `final_entities`:
a scan of a million rows each time a dashboard or script polled it during an ingest. The
transactions that create or delete final entities already bump `catalog_generation`; they now
add or subtract what they changed in `entities` too, so the count is exact and costs one read.

Revision ID: 0010_entity_count
Revises: 0009_claim_token
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_entity_count"
down_revision = "0009_claim_token"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "catalog_generation",
        sa.Column("entities", sa.BigInteger, nullable=False, server_default="0"),
    )
    # the count as of now; from here on the changing transactions keep it
    op.execute("UPDATE catalog_generation SET entities = (SELECT count(*) FROM final_entities)")


def downgrade() -> None:
    with op.batch_alter_table("catalog_generation") as batch:
        batch.drop_column("entities")
