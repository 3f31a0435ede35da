"""Alembic environment of the catalog plugin (the core runs it on the plugin's own database)."""

from greenroom.core.db.migrations import run_alembic_env

run_alembic_env()
