"""Alembic, configured in code: one migration history per plugin, applied under a lock.

A plugin keeps `migrations/env.py` (two lines: import and call `run_alembic_env()`) and
`migrations/versions/`. There is no alembic.ini: the script location, the connection and where the
version table lives all come from the plugin's `PluginDatabase`. The version table
`alembic_version` sits inside the plugin's own schema (PostgreSQL) or file (SQLite), so plugins'
histories never see each other.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import ScriptDirectory

if TYPE_CHECKING:
    import sqlalchemy as sa

    from greenroom.core.db.manager import PluginDatabase

VERSION_TABLE = "alembic_version"
MIGRATIONS_LOCK = "migrations"
TEMPLATE_DIR = Path(__file__).parent / "migration_template"


def alembic_config(
    database: PluginDatabase,
    migrations_dir: Path,
    connection: sa.Connection | None = None,
    *,
    applied_revisions: list[str] | None = None,
) -> Config:
    """An Alembic `Config` for one plugin's history, for commands run through `alembic.command`."""
    config = Config(
        attributes={
            "connection": connection,
            "dialect": database.dialect,
            "version_table_schema": database.schema,
            "applied_revisions": applied_revisions if applied_revisions is not None else [],
        }
    )
    config.set_main_option("script_location", str(Path(migrations_dir).resolve()))
    return config


def upgrade_to_head(database: PluginDatabase, migrations_dir: Path) -> list[str]:
    """Apply every pending revision in one transaction; returns the ids applied, oldest first.

    The advisory lock makes replicas starting together take turns: the second one waits, then
    finds the database at head and applies nothing.
    """
    applied: list[str] = []
    with database.advisory_lock(MIGRATIONS_LOCK), database.engine.begin() as connection:
        command.upgrade(
            alembic_config(database, migrations_dir, connection, applied_revisions=applied), "head"
        )
    return applied


def read_current_revision(database: PluginDatabase, migrations_dir: Path) -> str | None:
    """The revision recorded in the plugin's version table (None if never migrated)."""
    del migrations_dir  # the version table alone knows; the argument keeps the API symmetric
    with database.engine.connect() as connection:
        migration_context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "version_table_schema": database.schema}
        )
        return migration_context.get_current_revision()


def read_head_revision(migrations_dir: Path) -> str | None:
    """The single head of the history in `migrations_dir` (raises if it has branched)."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations_dir).resolve()))
    return ScriptDirectory.from_config(config).get_current_head()


def run_alembic_env(target_metadata: Any = None) -> None:
    """The whole body of a plugin's `migrations/env.py`.

    `target_metadata` (the plugin's SQLAlchemy MetaData) is only needed for autogenerate.
    """
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "Greenroom migrations run through PluginDatabase.migrate() (or alembic_config() with a "
            "connection), not through the alembic command line or offline mode"
        )
    applied: list[str] = config.attributes.setdefault("applied_revisions", [])

    def record_applied(
        ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
    ) -> None:
        if step.is_upgrade and not step.is_stamp and step.up_revision_id is not None:
            applied.append(step.up_revision_id)

    is_sqlite = config.attributes.get("dialect") == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        version_table_schema=config.attributes.get("version_table_schema"),
        # Our SQLite engines emit BEGIN themselves, so DDL there is transactional too.
        transactional_ddl=True,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=is_sqlite,
        on_version_apply=record_applied,
    )
    with context.begin_transaction():
        context.run_migrations()
