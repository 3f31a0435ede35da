"""Writes a small two-revision migrations folder for the database and migration tests."""

from __future__ import annotations

from pathlib import Path

ENV_PY = "from greenroom.core.db.migrations import run_alembic_env\n\nrun_alembic_env()\n"

CREATE_TABLE = '''"""create widgets"""
import time

import sqlalchemy as sa
from alembic import op

revision = "0001_create"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # Slow on purpose: racing processes overlap for sure while this runs.
    time.sleep({delay})
    op.create_table(
        "widgets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
    )


def downgrade():
    op.drop_table("widgets")
'''

INSERT_ROW = '''"""seed one widget"""
import sqlalchemy as sa
from alembic import op

revision = "0002_seed"
down_revision = "0001_create"
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text("INSERT INTO widgets (name) VALUES ('first')"))


def downgrade():
    op.execute(sa.text("DELETE FROM widgets"))
'''


def write_migrations(folder: Path, *, delay: float = 0.0) -> Path:
    """Create `folder` with env.py and revisions 0001_create (table) and 0002_seed (one row)."""
    versions = folder / "versions"
    versions.mkdir(parents=True)
    (folder / "env.py").write_text(ENV_PY)
    (versions / "0001_create.py").write_text(CREATE_TABLE.replace("{delay}", repr(delay)))
    (versions / "0002_seed.py").write_text(INSERT_ROW)
    return folder
