"""DatabaseManager, per-plugin namespaces, migrations and advisory locks on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenroom.core.db import DatabaseManager, PluginDatabase
from greenroom.core.db.manager import postgres_url
from tests.support.processes import run_workers

from ._migrations_fixture import write_migrations

WORKER = Path(__file__).with_name("_migrate_worker.py")


@pytest.fixture
def manager(database_config: dict[str, Any], tmp_path: Path) -> Iterator[DatabaseManager]:
    databases = DatabaseManager(database_config, data_dir=tmp_path / "data")
    yield databases
    databases.close()


def _scalar(database: PluginDatabase, sql: str) -> Any:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(sql)).scalar()


# --- namespaces ---------------------------------------------------------------------------------


def test_plugins_get_separate_namespaces(manager: DatabaseManager) -> None:
    catalog, scaffolder = manager.for_plugin("catalog"), manager.for_plugin("scaffolder")
    for database, name in ((catalog, "entity"), (scaffolder, "task")):
        with database.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE things (name VARCHAR(20))"))
            connection.execute(sa.text("INSERT INTO things VALUES (:name)"), {"name": name})
    assert _scalar(catalog, "SELECT name FROM things") == "entity"
    assert _scalar(scaffolder, "SELECT name FROM things") == "task"
    assert manager.for_plugin("catalog") is catalog


def test_sqlite_file_per_plugin_with_pragmas(tmp_path: Path) -> None:
    manager = DatabaseManager({}, data_dir=tmp_path)
    try:
        database = manager.for_plugin("tech-docs")
        assert database.dialect == "sqlite" and database.schema is None
        assert database.sqlite_path == tmp_path / "greenroom_tech_docs.sqlite"
        assert _scalar(database, "PRAGMA journal_mode") == "wal"
        assert _scalar(database, "PRAGMA foreign_keys") == 1
        assert _scalar(database, "PRAGMA synchronous") == 1  # NORMAL
        assert _scalar(database, "PRAGMA busy_timeout") > 0
    finally:
        manager.close()
    assert (tmp_path / "greenroom_tech_docs.sqlite").exists()


def test_sqlite_transactions_include_ddl(tmp_path: Path) -> None:
    manager = DatabaseManager({"client": "sqlite3"}, data_dir=tmp_path)
    database = manager.for_plugin("catalog")
    with pytest.raises(RuntimeError), database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE rolled_back (x INTEGER)"))
        raise RuntimeError("abort")
    assert not sa.inspect(database.engine).has_table("rolled_back")
    manager.close()


def test_sqlite_log_is_emptied_after_a_write_once_it_grows_past_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers that always overlap keep SQLite from starting its log over; the writer does it."""
    import greenroom.core.db.manager as manager_module

    monkeypatch.setattr(manager_module, "WAL_RESET_BYTES", 256 * 1024)
    manager = DatabaseManager({}, data_dir=tmp_path)
    try:
        database = manager.for_plugin("catalog")
        wal = database.sqlite_path.with_name(database.sqlite_path.name + "-wal")  # type: ignore[union-attr]
        writer = manager_module.writer(database.engine)
        with writer.begin() as connection:
            connection.execute(sa.text("CREATE TABLE blobs (data TEXT)"))
        reader = database.engine.connect()
        reader.execute(sa.text("SELECT count(*) FROM blobs")).scalar()  # a snapshot held open
        for _ in range(20):
            with writer.begin() as connection:
                connection.execute(sa.text("INSERT INTO blobs VALUES (:data)"), {"data": "x" * 50_000})
        # the open reader kept the log from starting over, and each write waited for it only briefly
        assert wal.stat().st_size > 256 * 1024
        reader.close()
        with writer.begin() as connection:
            connection.execute(sa.text("INSERT INTO blobs VALUES ('last')"))
        assert wal.stat().st_size == 0
        assert _scalar(database, "SELECT count(*) FROM blobs") == 21
        # a read-only transaction never checkpoints
        with writer.begin() as connection:
            connection.execute(sa.text("INSERT INTO blobs VALUES (:data)"), {"data": "y" * 400_000})
        size = wal.stat().st_size
        with database.engine.connect() as connection:
            connection.execute(sa.text("SELECT count(*) FROM blobs")).scalar()
        assert wal.stat().st_size == size
    finally:
        manager.close()


def test_sqlite_memory_is_shared_across_threads(tmp_path: Path) -> None:
    manager = DatabaseManager({"client": "better-sqlite3", "connection": ":memory:"}, data_dir=tmp_path)
    database = manager.for_plugin("catalog")
    assert database.sqlite_path is None
    with database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE counter (n INTEGER)"))

    def insert_many() -> None:
        for n in range(50):
            with database.engine.begin() as connection:
                connection.execute(sa.text("INSERT INTO counter VALUES (:n)"), {"n": n})

    threads = [threading.Thread(target=insert_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _scalar(database, "SELECT COUNT(*) FROM counter") == 200
    assert not list(tmp_path.iterdir())
    manager.close()


def test_plugin_overrides_and_file_paths(tmp_path: Path) -> None:
    config = {
        "client": "sqlite3",
        "connection": str(tmp_path / "shared" / "greenroom.sqlite"),
        "prefix": "gr_",
        "plugin": {
            "search": {"connection": str(tmp_path / "own" / "search.db")},
            "auth": {"prefix": "x_"},
        },
    }
    manager = DatabaseManager(config, data_dir=tmp_path / "unused")
    assert manager.for_plugin("catalog").sqlite_path == tmp_path / "shared" / "gr_catalog.sqlite"
    assert manager.for_plugin("search").sqlite_path == tmp_path / "own" / "search.db"
    assert manager.for_plugin("auth").sqlite_path == tmp_path / "shared" / "x_auth.sqlite"
    manager.close()
    with pytest.raises(RuntimeError):
        manager.for_plugin("catalog")


def test_unknown_client_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mysql2"):
        DatabaseManager({"client": "mysql2"}, data_dir=tmp_path)


def test_postgres_url_forms() -> None:
    from_string = postgres_url("postgres://me:secret@db.example:6543/portal")
    from_object = postgres_url(
        {"host": "db.example", "port": "6543", "user": "me", "password": "secret", "database": "portal"}
    )
    for url in (from_string, from_object):
        assert url.drivername == "postgresql+psycopg"
        assert (url.host, url.port, url.username, url.password, url.database) == (
            "db.example",
            6543,
            "me",
            "secret",
            "portal",
        )
    with pytest.raises(ValueError):
        postgres_url("sqlite:///x.db")


@pytest.mark.postgres
def test_postgres_schema_and_search_path(pg_url: str, pg_schema_prefix: str, tmp_path: Path) -> None:
    host_part = postgres_url(pg_url)
    connection_object = {
        "host": host_part.host,
        "port": host_part.port,
        "user": host_part.username,
        "database": host_part.database,
    }
    manager = DatabaseManager(
        {"client": "pg", "connection": connection_object, "prefix": pg_schema_prefix}, data_dir=tmp_path
    )
    database = manager.for_plugin("my-plugin")
    assert database.dialect == "postgresql"
    assert database.schema == f"{pg_schema_prefix}my_plugin"
    assert _scalar(database, "SELECT current_schema()") == database.schema
    # A second manager (another replica) finds the schema already there.
    other = DatabaseManager(
        {"client": "pg", "connection": pg_url, "prefix": pg_schema_prefix}, data_dir=tmp_path
    )
    assert _scalar(other.for_plugin("my-plugin"), "SELECT current_schema()") == database.schema
    other.close()
    manager.close()


@pytest.mark.postgres
def test_postgres_pings_only_idle_connections_and_replaces_dead_ones(
    pg_url: str, pg_schema_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = DatabaseManager(
        {"client": "pg", "connection": pg_url, "prefix": pg_schema_prefix}, data_dir=tmp_path
    )
    database = manager.for_plugin("pinged")
    pings: list[object] = []
    real_ping = database.engine.dialect.do_ping
    monkeypatch.setattr(
        database.engine.dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn)
    )

    backend_pid = _scalar(database, "SELECT pg_backend_pid()")
    assert _scalar(database, "SELECT pg_backend_pid()") == backend_pid  # reused at once: no ping
    assert pings == []

    # The server drops the pooled connection (a restart, an idle timeout) while it sits unused.
    with sa.create_engine(postgres_url(pg_url)).connect() as admin:
        assert admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pid}).scalar()
    monkeypatch.setattr("greenroom.core.db.manager.PING_AFTER_IDLE_SECONDS", 0.0)
    # the next checkout pings, finds it dead and lends a fresh connection: the request succeeds
    assert _scalar(database, "SELECT 1") == 1
    assert len(pings) >= 1
    assert _scalar(database, "SELECT pg_backend_pid()") != backend_pid
    manager.close()


# --- migrations ---------------------------------------------------------------------------------


def test_migrate_applies_pending_revisions_once(manager: DatabaseManager, tmp_path: Path) -> None:
    migrations = write_migrations(tmp_path / "migrations")
    database = manager.for_plugin("widgets")
    assert database.head_revision(migrations) == "0002_seed"
    assert database.current_revision(migrations) is None
    assert database.migrate(migrations) == ["0001_create", "0002_seed"]
    assert database.current_revision(migrations) == "0002_seed"
    assert database.migrate(migrations) == []
    assert _scalar(database, "SELECT COUNT(*) FROM widgets") == 1
    # The version table lives in the plugin's namespace, not anyone else's.
    assert sa.inspect(database.engine).has_table("alembic_version", schema=database.schema)
    assert manager.for_plugin("other").current_revision(migrations) is None


def test_failed_migration_rolls_back_entirely(manager: DatabaseManager, tmp_path: Path) -> None:
    migrations = write_migrations(tmp_path / "migrations")
    broken = migrations / "versions" / "0002_seed.py"
    broken.write_text(broken.read_text().replace("INSERT INTO widgets", "INSERT INTO no_such_table"))
    database = manager.for_plugin("widgets")
    with pytest.raises(sa.exc.DBAPIError):
        database.migrate(migrations)
    assert database.current_revision(migrations) is None
    assert not sa.inspect(database.engine).has_table("widgets", schema=database.schema)


def test_env_py_refuses_to_run_without_connection(manager: DatabaseManager, tmp_path: Path) -> None:
    from alembic import command

    from greenroom.core.db.migrations import alembic_config

    migrations = write_migrations(tmp_path / "migrations")
    with pytest.raises(RuntimeError, match=r"PluginDatabase\.migrate"):
        command.upgrade(alembic_config(manager.for_plugin("widgets"), migrations), "head")


def test_concurrent_processes_migrate_exactly_once(database_config: dict[str, Any], tmp_path: Path) -> None:
    migrations = write_migrations(tmp_path / "migrations", delay=0.5)
    start_at = time.time() + 2.0
    outputs = run_workers(
        WORKER, json.dumps(database_config), str(tmp_path / "data"), str(migrations), str(start_at)
    )
    applied = sorted(json.loads(stdout) for stdout in outputs)
    assert applied == [[], ["0001_create", "0002_seed"]]
    manager = DatabaseManager(database_config, data_dir=tmp_path / "data")
    assert _scalar(manager.for_plugin("widgets"), "SELECT COUNT(*) FROM widgets") == 1
    manager.close()


# --- advisory locks -----------------------------------------------------------------------------


def test_advisory_lock_excludes_other_holders(manager: DatabaseManager) -> None:
    database = manager.for_plugin("locks")
    inside: list[int] = []
    overlaps: list[int] = []

    def critical_section() -> None:
        with database.advisory_lock("job"):
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=critical_section) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not overlaps


def test_advisory_lock_timeout_and_independent_names(manager: DatabaseManager) -> None:
    database = manager.for_plugin("locks")
    outcome: dict[str, Any] = {}

    def try_same_and_other() -> None:
        try:
            with database.advisory_lock("job", timeout=0.2):
                outcome["same"] = "acquired"
        except TimeoutError:
            outcome["same"] = "timeout"
        with database.advisory_lock("another", timeout=2):
            outcome["other"] = "acquired"

    with database.advisory_lock("job"):
        contender = threading.Thread(target=try_same_and_other)
        contender.start()
        contender.join()
    assert outcome == {"same": "timeout", "other": "acquired"}
    with database.advisory_lock("job", timeout=1):
        pass


def test_revision_template_renders_a_runnable_revision(manager: DatabaseManager, tmp_path: Path) -> None:
    import shutil

    from alembic import command

    from greenroom.core.db.migrations import TEMPLATE_DIR, alembic_config

    migrations = write_migrations(tmp_path / "migrations")
    shutil.copy(TEMPLATE_DIR / "script.py.mako", migrations / "script.py.mako")
    database = manager.for_plugin("widgets")
    command.revision(alembic_config(database, migrations), message="noop", rev_id="0003_noop")
    assert database.head_revision(migrations) == "0003_noop"
    assert database.migrate(migrations) == ["0001_create", "0002_seed", "0003_noop"]
