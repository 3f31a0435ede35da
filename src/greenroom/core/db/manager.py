"""Per-plugin databases: every plugin gets its own namespace, engine, migrations and locks.

Config is Backstage's `backend.database` subtree. With `client: pg` all plugins share one
PostgreSQL database and each gets a schema `<prefix><pluginId>` (Backstage's
`pluginDivisionMode: schema`); with SQLite (the embedded default) each plugin gets its own file.
Either way a plugin can name its tables freely without colliding with another plugin's.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from filelock import FileLock
from filelock import Timeout as FileLockTimeout
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

logger = logging.getLogger("greenroom.database")

Dialect = Literal["sqlite", "postgresql"]

DEFAULT_PREFIX = "greenroom_"
SQLITE_CLIENTS = frozenset({"sqlite", "better-sqlite3", "sqlite3"})
POSTGRES_CLIENTS = frozenset({"pg", "postgres", "postgresql"})
SQLITE_BUSY_TIMEOUT_MS = 30_000
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_LOCK_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_LOCK_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class _PluginSettings:
    """The effective settings for one plugin after applying `plugin.<id>` overrides."""

    client: str
    connection: Any
    prefix: str
    connection_is_plugin_specific: bool


class PluginDatabase:
    """One plugin's database: an engine bound to its namespace, plus migrations and locks."""

    def __init__(
        self,
        *,
        plugin_id: str,
        engine: sa.Engine,
        dialect: Dialect,
        schema: str | None,
        sqlite_path: Path | None = None,
    ) -> None:
        self.plugin_id = plugin_id
        self.engine = engine
        self.dialect: Dialect = dialect
        self.schema = schema
        self.sqlite_path = sqlite_path
        # An in-memory SQLite database only exists inside this process, so a thread lock is
        # enough to give "only one does X" semantics there.
        self._memory_locks: dict[str, threading.Lock] = {}
        self._memory_locks_guard = threading.Lock()

    def __repr__(self) -> str:
        where = self.schema if self.dialect == "postgresql" else (self.sqlite_path or ":memory:")
        return f"PluginDatabase({self.plugin_id!r}, {self.dialect}, {where})"

    def migrate(self, migrations_dir: Path) -> list[str]:
        """Upgrade to the newest revision in `migrations_dir`; returns the revision ids applied."""
        from greenroom.core.db.migrations import upgrade_to_head

        return upgrade_to_head(self, migrations_dir)

    def current_revision(self, migrations_dir: Path) -> str | None:
        """The revision this plugin's database is at (None before the first migration)."""
        from greenroom.core.db.migrations import read_current_revision

        return read_current_revision(self, migrations_dir)

    def head_revision(self, migrations_dir: Path) -> str | None:
        """The newest revision in `migrations_dir` (None if it holds no revisions)."""
        from greenroom.core.db.migrations import read_head_revision

        return read_head_revision(migrations_dir)

    @contextmanager
    def advisory_lock(self, name: str, *, timeout: float | None = None) -> Iterator[None]:
        """Hold a lock shared by every process using this plugin's database.

        Use it for "only one replica does X at a time" (migrations, table creation, leader-only
        jobs). On PostgreSQL it is a session advisory lock on a dedicated connection, so a
        crashed holder releases it automatically; on SQLite it is a file lock next to the
        database file. Raises TimeoutError if `timeout` seconds pass without getting it.
        """
        if self.dialect == "postgresql":
            with self._postgres_lock(name, timeout):
                yield
        elif self.sqlite_path is None:
            with self._memory_lock(name, timeout):
                yield
        else:
            with self._file_lock(name, timeout):
                yield

    @contextmanager
    def _postgres_lock(self, name: str, timeout: float | None) -> Iterator[None]:
        key = f"greenroom:{self.schema}:{name}"
        with self.engine.connect() as raw_connection:
            # Autocommit: a session lock must not keep a transaction idle for the whole hold.
            connection = raw_connection.execution_options(isolation_level="AUTOCOMMIT")
            if timeout is None:
                connection.execute(sa.text("SELECT pg_advisory_lock(hashtext(:key))"), {"key": key})
            else:
                deadline = time.monotonic() + timeout
                try_lock = sa.text("SELECT pg_try_advisory_lock(hashtext(:key))")
                while not connection.execute(try_lock, {"key": key}).scalar_one():
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"Could not get lock '{name}' for {self} within {timeout}s")
                    time.sleep(_LOCK_POLL_SECONDS)
            try:
                yield
            finally:
                try:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), {"key": key})
                except sa.exc.DBAPIError:
                    # The server drops session locks with the connection; make sure it is dropped.
                    raw_connection.invalidate()

    @contextmanager
    def _file_lock(self, name: str, timeout: float | None) -> Iterator[None]:
        assert self.sqlite_path is not None
        lock_path = self.sqlite_path.with_name(
            f"{self.sqlite_path.name}.{_LOCK_NAME_UNSAFE.sub('_', name)}.lock"
        )
        # thread_local=False + a fresh object per call: threads of one process exclude each
        # other through the OS lock exactly like separate processes do.
        lock = FileLock(lock_path, timeout=-1 if timeout is None else timeout, thread_local=False)
        try:
            lock.acquire()
        except FileLockTimeout as error:
            raise TimeoutError(f"Could not get lock '{name}' for {self} within {timeout}s") from error
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def _memory_lock(self, name: str, timeout: float | None) -> Iterator[None]:
        with self._memory_locks_guard:
            lock = self._memory_locks.setdefault(name, threading.Lock())
        if not lock.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError(f"Could not get lock '{name}' for {self} within {timeout}s")
        try:
            yield
        finally:
            lock.release()


class DatabaseManager:
    """Creates (once) and caches each plugin's `PluginDatabase` from `backend.database` config."""

    def __init__(self, database_config: Mapping[str, Any], *, data_dir: Path) -> None:
        self._config = dict(database_config)
        self._data_dir = Path(data_dir)
        self._databases: dict[str, PluginDatabase] = {}
        self._guard = threading.Lock()
        self._closed = False
        # Fail at startup, not at the first plugin, when the client is misspelled.
        _normalise_client(self._config.get("client"))

    def for_plugin(self, plugin_id: str) -> PluginDatabase:
        """The plugin's database, created on first use (PostgreSQL schema or SQLite file)."""
        with self._guard:
            if self._closed:
                raise RuntimeError("DatabaseManager is closed")
            database = self._databases.get(plugin_id)
            if database is None:
                database = self._create(plugin_id)
                self._databases[plugin_id] = database
            return database

    def close(self) -> None:
        """Dispose every engine; later `for_plugin` calls fail."""
        with self._guard:
            self._closed = True
            databases, self._databases = list(self._databases.values()), {}
        for database in databases:
            database.engine.dispose()

    def _settings_for(self, plugin_id: str) -> _PluginSettings:
        overrides_by_plugin = self._config.get("plugin") or {}
        overrides: Mapping[str, Any] = overrides_by_plugin.get(plugin_id) or {}
        base_client = _normalise_client(self._config.get("client"))
        client = _normalise_client(overrides.get("client", self._config.get("client")))
        if "connection" in overrides:
            connection, plugin_specific = overrides["connection"], True
        elif client == base_client:
            connection, plugin_specific = self._config.get("connection"), False
        else:
            # A different client than the base one cannot reuse the base connection.
            connection, plugin_specific = None, True
        prefix = overrides.get("prefix", self._config.get("prefix", DEFAULT_PREFIX))
        return _PluginSettings(client, connection, str(prefix), plugin_specific)

    def _create(self, plugin_id: str) -> PluginDatabase:
        settings = self._settings_for(plugin_id)
        namespace = f"{settings.prefix}{plugin_id}".replace("-", "_")
        if settings.client == "pg":
            return _create_postgres(plugin_id, settings.connection, namespace.lower())
        return _create_sqlite(plugin_id, settings, namespace, self._data_dir)


def _normalise_client(client: Any) -> Literal["sqlite", "pg"]:
    if client is None or client in SQLITE_CLIENTS:
        return "sqlite"
    if client in POSTGRES_CLIENTS:
        return "pg"
    raise ValueError(
        f"Unsupported backend.database.client {client!r}; use 'pg' or 'better-sqlite3' (or 'sqlite3')"
    )


def postgres_url(connection: Any) -> sa.URL:
    """Turn Backstage's pg `connection` (URL string or {host, port, user, ...}) into a psycopg URL."""
    if isinstance(connection, str):
        url = sa.make_url(connection)
        if url.get_backend_name() not in ("postgresql", "postgres"):
            raise ValueError(f"backend.database.connection is not a PostgreSQL URL: {url!r}")
        return url.set(drivername="postgresql+psycopg")
    if isinstance(connection, Mapping):
        port = connection.get("port")
        return sa.URL.create(
            "postgresql+psycopg",
            username=connection.get("user"),
            password=connection.get("password"),
            host=connection.get("host"),
            port=int(port) if port is not None else None,
            database=connection.get("database"),
        )
    raise ValueError(
        "backend.database.connection for 'pg' must be a URL string or an object with host/user/..."
    )


def _create_postgres(plugin_id: str, connection: Any, schema: str) -> PluginDatabase:
    if not _IDENTIFIER.match(schema):
        raise ValueError(
            f"Schema name {schema!r} for plugin '{plugin_id}' must be letters, digits and '_' "
            "(at most 63 characters); check backend.database.prefix"
        )
    url = postgres_url(connection)
    _ensure_schema(url, schema)
    # Only the plugin's schema is on the search path, so an unqualified name can never reach
    # another plugin's (or the public schema's) tables by accident.
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    _ping_when_idle(engine)
    return PluginDatabase(plugin_id=plugin_id, engine=engine, dialect="postgresql", schema=schema)


PING_AFTER_IDLE_SECONDS = 5.0
"""A pooled connection unused for longer is checked with a round trip before it is lent out."""


def _ping_when_idle(engine: sa.Engine) -> None:
    """Pre-ping, but only connections that sat idle: a connection returned moments ago is alive.

    SQLAlchemy's `pool_pre_ping` pings on every checkout; a catalog page checks out several
    connections (catalog, user settings), so it was a round trip each, an eighth of the entity
    page's time on PostgreSQL. A server restart still costs no request: an idle connection is
    pinged and replaced, and one that fails mid-use invalidates the whole pool as before.
    """

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["greenroom_idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("greenroom_idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # brand new, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise sa.exc.DisconnectionError(f"idle connection is gone: {error}") from error


def _ensure_schema(url: sa.URL, schema: str) -> None:
    """Create the schema if missing; serialised because concurrent CREATE SCHEMA IF NOT EXISTS can fail."""
    bootstrap = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with bootstrap.begin() as connection:
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"greenroom:schema:{schema}"}
            )
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        bootstrap.dispose()


def _sqlite_file(settings: _PluginSettings, namespace: str, data_dir: Path) -> Path | None:
    """Where the plugin's SQLite file lives (None = in memory).

    A path given in `plugin.<id>.connection` is that plugin's file. A path given for all plugins
    cannot be shared (each plugin needs its own file), so its folder is used instead.
    """
    connection = settings.connection
    if isinstance(connection, Mapping):
        if "directory" in connection:
            return Path(connection["directory"]) / f"{namespace}.sqlite"
        connection = connection.get("filename")
    if connection is None:
        return data_dir / f"{namespace}.sqlite"
    if connection == ":memory:":
        return None
    path = Path(str(connection))
    if settings.connection_is_plugin_specific:
        return path
    folder = path if path.is_dir() or not path.suffix else path.parent
    return folder / f"{namespace}.sqlite"


def _create_sqlite(
    plugin_id: str, settings: _PluginSettings, namespace: str, data_dir: Path
) -> PluginDatabase:
    path = _sqlite_file(settings, namespace, data_dir)
    if path is None:
        engine = sa.create_engine(
            "sqlite://", poolclass=_OneThreadAtATimeStaticPool, connect_args={"check_same_thread": False}
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{path}")
    _configure_sqlite(engine, path)
    return PluginDatabase(plugin_id=plugin_id, engine=engine, dialect="sqlite", schema=None, sqlite_path=path)


SQLITE_IMMEDIATE_OPTION = "sqlite_begin_immediate"


def writer(engine: sa.Engine) -> sa.Engine:
    """An engine whose transactions take SQLite's write lock at BEGIN (no effect on PostgreSQL)."""
    return engine.execution_options(**{SQLITE_IMMEDIATE_OPTION: True})


WAL_RESET_BYTES = 128 * 1024 * 1024
"""A write-ahead log past this size is checkpointed and truncated once the writer is done."""
WAL_RESET_WAIT_MS = 100
"""How long that checkpoint waits for readers before leaving it to the next write."""


def _configure_sqlite(engine: sa.Engine, path: Path | None) -> None:
    """Pragmas for concurrent use, plus real transactions (BEGIN emitted by us, DDL included)."""
    in_memory = path is None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling skips BEGIN before DDL; take it over so migrations
        # and multi-statement writes are atomic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The default 2 MB page cache misses on most index inserts of a large catalog; the cache
        # is per connection (a pool holds several), so 16 MB each keeps memory bounded.
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.execute("PRAGMA temp_store=MEMORY")
        if not in_memory:
            # checkpoint every ~32 MB of WAL instead of 4 MB: bulk ingests commit often
            cursor.execute("PRAGMA wal_autocheckpoint=8000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A transaction that reads and then writes cannot upgrade its lock while another writer
        # is active (SQLite fails at once instead of waiting). Writers ask for the write lock up
        # front with the `sqlite_begin_immediate` execution option and then wait busy_timeout.
        if connection.get_execution_options().get(SQLITE_IMMEDIATE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            connection.connection.info["greenroom_wrote"] = True
        else:
            connection.exec_driver_sql("BEGIN")

    if path is None:
        return
    wal = path.with_name(path.name + "-wal")

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        # SQLite's automatic checkpoints copy the log into the database but start the log over
        # only when no reader is using it; with readers always overlapping (threads stitching
        # while others process, HTTP requests) it grew without end (9 GB during a 100k-entity
        # ingest). After a write, a log past the limit is checkpointed with TRUNCATE, which
        # empties it once the readers of that moment are done: it waits for them briefly (a
        # long reader, such as a stream of every entity, must not stall every writer for the
        # whole busy timeout) and the next write tries again if they are still there.
        if dbapi_connection is None or not record.info.pop("greenroom_wrote", False):
            return
        try:
            if wal.stat().st_size < WAL_RESET_BYTES:
                return
            dbapi_connection.execute(f"PRAGMA busy_timeout={WAL_RESET_WAIT_MS}")
            try:
                dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        except (OSError, sqlite3.Error) as error:
            logger.warning("Could not checkpoint %s: %s", wal, error)


class _OneThreadAtATimeStaticPool(StaticPool):
    """StaticPool (one shared connection, so `:memory:` is one database) lent to one thread at a time.

    A plain StaticPool hands the same connection to every thread at once, so their transactions
    would interleave. Re-entry from the holding thread is let through instead of deadlocking.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn = threading.Lock()
        self._holder: int | None = None

    def _do_get(self) -> Any:
        me = threading.get_ident()
        if self._holder != me:
            self._turn.acquire()
            self._holder = me
        return super()._do_get()

    def _do_return_conn(self, record: Any) -> None:
        super()._do_return_conn(record)
        if self._holder is not None:
            self._holder = None
            self._turn.release()
