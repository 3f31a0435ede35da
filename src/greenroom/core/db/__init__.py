"""Per-plugin databases (PostgreSQL schema or SQLite file), Alembic migrations and advisory locks."""

from greenroom.core.db.manager import DatabaseManager, PluginDatabase

__all__ = ["DatabaseManager", "PluginDatabase"]
