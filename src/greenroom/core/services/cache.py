"""Per-plugin key/value cache (Backstage's `coreServices.cache`), in memory or in Redis.

Every plugin gets its own namespace so two plugins can use the same key without seeing each
other's values. Values go through orjson on both stores, so a cached value is always a copy
and behaves the same whichever store is configured. A cache is an optimisation: when Redis
is down, reads are misses and writes are dropped (logged), only `CacheManager.check()` fails.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import orjson
import redis

from greenroom.core.errors import InputError, ServiceUnavailableError

logger = logging.getLogger(__name__)

TtlLike = timedelta | float | int | str
DEFAULT_MAX_ENTRIES_PER_PLUGIN = 10_000
KEY_PREFIX = "greenroom"

_PLUGIN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DURATION_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# Passthrough makes orjson refuse datetimes and dataclasses instead of silently turning them
# into strings/dicts: what `get` returns must equal what `set` was given.
_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


@runtime_checkable
class CacheService(Protocol):
    """What a plugin sees: a namespaced cache with an optional default TTL."""

    def get(self, key: str) -> Any | None:
        """The value stored under `key`, or None when absent or expired."""
        ...

    def set(self, key: str, value: Any, *, ttl: TtlLike | None = None) -> None:
        """Store a JSON-serialisable `value`; `ttl` overrides the default TTL."""
        ...

    def delete(self, key: str) -> None:
        """Remove `key` if present."""
        ...

    def clear(self) -> None:
        """Remove every key of this namespace, and only those."""
        ...

    def with_options(self, *, default_ttl: TtlLike | None) -> CacheService:
        """The same namespace with another default TTL."""
        ...


def parse_ttl(ttl: TtlLike | None, *, what: str = "ttl") -> float | None:
    """Seconds from a timedelta, a number of seconds or a "30s"/"5m"/"1h"/"1d"/"500ms" string."""
    if ttl is None:
        return None
    if isinstance(ttl, bool):
        raise InputError(f"{what} must be a duration, not a boolean")
    if isinstance(ttl, timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, int | float):
        seconds = float(ttl)
    elif isinstance(ttl, str) and _DURATION_PATTERN.match(ttl):
        match = _DURATION_PATTERN.match(ttl)
        assert match is not None
        seconds = float(match.group(1)) * _DURATION_UNIT_SECONDS[match.group(2)]
    elif isinstance(ttl, str | dict):
        from greenroom.core.config import ConfigError, parse_duration

        try:  # every form the config accepts: ISO 8601, {minutes: 5}, "2 days"
            seconds = parse_duration(ttl).total_seconds()
        except ConfigError as error:
            raise InputError(
                f'{what} {ttl!r} is not a duration; use seconds or e.g. "30s", "PT5M"'
            ) from error
    else:
        raise InputError(f"{what} must be a timedelta, a number of seconds or a duration string")
    if not seconds > 0:
        raise InputError(f"{what} must be positive, got {ttl!r}")
    return seconds


def _encode(key: str, value: Any) -> bytes:
    _check_key(key)
    try:
        return orjson.dumps(value, option=_DUMPS_OPTIONS)
    except orjson.JSONEncodeError as error:
        raise InputError(
            f'cache value for key "{key}" is not JSON-serialisable: {error}', cause=error
        ) from error


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise InputError("cache key must be a non-empty string")


class _MemoryNamespace:
    """One plugin's entries: an LRU of encoded values with absolute monotonic expiry times."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            encoded, expires_at = entry
            if expires_at is not None and expires_at <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return encoded

    def set(self, key: str, encoded: bytes, ttl_seconds: float | None) -> None:
        expires_at = None if ttl_seconds is None else time.monotonic() + ttl_seconds
        with self._lock:
            self._entries[key] = (encoded, expires_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


class MemoryCacheService:
    """In-process cache: fast, but each process (and each worker) has its own copy."""

    def __init__(self, namespace: _MemoryNamespace, *, default_ttl: float | None) -> None:
        self._namespace = namespace
        self._default_ttl = default_ttl

    def get(self, key: str) -> Any | None:
        _check_key(key)
        encoded = self._namespace.get(key)
        return None if encoded is None else orjson.loads(encoded)

    def set(self, key: str, value: Any, *, ttl: TtlLike | None = None) -> None:
        encoded = _encode(key, value)
        ttl_seconds = parse_ttl(ttl) if ttl is not None else self._default_ttl
        self._namespace.set(key, encoded, ttl_seconds)

    def delete(self, key: str) -> None:
        _check_key(key)
        self._namespace.delete(key)

    def clear(self) -> None:
        self._namespace.clear()

    def with_options(self, *, default_ttl: TtlLike | None) -> MemoryCacheService:
        return MemoryCacheService(self._namespace, default_ttl=parse_ttl(default_ttl, what="default_ttl"))


class _RedisHealth:
    """Logs a Redis outage once when it starts and once when it ends, not on every call."""

    def __init__(self) -> None:
        self._failing = False
        self._lock = threading.Lock()

    def failed(self, operation: str, error: redis.RedisError) -> None:
        with self._lock:
            first = not self._failing
            self._failing = True
        if first:
            logger.warning(
                "cache: Redis %s failed, serving cache misses until it recovers: %s", operation, error
            )

    def succeeded(self) -> None:
        if not self._failing:
            return
        with self._lock:
            recovered = self._failing
            self._failing = False
        if recovered:
            logger.info("cache: Redis is reachable again")


class RedisCacheService:
    """Shared cache in Redis under `greenroom:<plugin_id>:<key>`, expiry done by Redis (PX)."""

    def __init__(
        self, client: redis.Redis, plugin_id: str, health: _RedisHealth, *, default_ttl: float | None
    ) -> None:
        self._client = client
        self._plugin_id = plugin_id
        self._prefix = f"{KEY_PREFIX}:{plugin_id}:"
        self._health = health
        self._default_ttl = default_ttl

    def get(self, key: str) -> Any | None:
        _check_key(key)
        try:
            encoded = self._client.get(self._prefix + key)
        except redis.RedisError as error:
            self._health.failed("GET", error)
            return None
        self._health.succeeded()
        if encoded is None:
            return None
        try:
            return orjson.loads(encoded)
        except orjson.JSONDecodeError:
            logger.warning("cache: ignoring undecodable value at %s%s", self._prefix, key)
            return None

    def set(self, key: str, value: Any, *, ttl: TtlLike | None = None) -> None:
        encoded = _encode(key, value)
        ttl_seconds = parse_ttl(ttl) if ttl is not None else self._default_ttl
        expiry_ms = None if ttl_seconds is None else max(1, round(ttl_seconds * 1000))
        try:
            self._client.set(self._prefix + key, encoded, px=expiry_ms)
        except redis.RedisError as error:
            self._health.failed("SET", error)
            return
        self._health.succeeded()

    def delete(self, key: str) -> None:
        _check_key(key)
        try:
            self._client.delete(self._prefix + key)
        except redis.RedisError as error:
            # The stale value still expires with its TTL; failing the caller would not help it.
            self._health.failed("DEL", error)
            return
        self._health.succeeded()

    def clear(self) -> None:
        """SCAN + DEL over this namespace; raises ServiceUnavailableError as nothing was cleared."""
        pattern = _escape_glob(self._prefix) + "*"
        try:
            batch: list[bytes] = []
            for redis_key in self._client.scan_iter(match=pattern, count=500):
                batch.append(redis_key)
                if len(batch) >= 500:
                    self._client.delete(*batch)
                    batch.clear()
            if batch:
                self._client.delete(*batch)
        except redis.RedisError as error:
            self._health.failed("clear", error)
            raise ServiceUnavailableError(
                f'could not clear the cache of plugin "{self._plugin_id}": Redis is unavailable ({error})',
                cause=error,
            ) from error
        self._health.succeeded()

    def with_options(self, *, default_ttl: TtlLike | None) -> RedisCacheService:
        return RedisCacheService(
            self._client,
            self._plugin_id,
            self._health,
            default_ttl=parse_ttl(default_ttl, what="default_ttl"),
        )


def _escape_glob(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class CacheManager:
    """Builds each plugin's cache from `backend.cache` config and owns the Redis connection pool.

    Config: `store` ("memory" default, or "redis"), `connection` (redis URL, required for redis),
    `defaultTtl` (seconds, timedelta or "5m"-style string; no expiry when absent).
    """

    def __init__(
        self,
        cache_config: Mapping[str, Any] | None = None,
        *,
        max_entries_per_plugin: int = DEFAULT_MAX_ENTRIES_PER_PLUGIN,
        socket_timeout: float = 2.0,
    ) -> None:
        config = dict(cache_config or {})
        self._store = config.get("store", "memory")
        self._default_ttl = parse_ttl(config.get("defaultTtl"), what="backend.cache.defaultTtl")
        if max_entries_per_plugin < 1:
            raise InputError("max_entries_per_plugin must be at least 1")
        self._max_entries = max_entries_per_plugin
        self._lock = threading.Lock()
        self._services: dict[str, CacheService] = {}
        self._memory: dict[str, _MemoryNamespace] = {}
        self._redis: redis.Redis | None = None
        self._pool: redis.ConnectionPool | None = None
        self._health = _RedisHealth()
        if self._store == "redis":
            connection = config.get("connection")
            if not isinstance(connection, str) or not connection:
                raise InputError('backend.cache.connection must be a Redis URL when store is "redis"')
            try:
                self._pool = redis.ConnectionPool.from_url(
                    connection,
                    socket_timeout=socket_timeout,
                    socket_connect_timeout=socket_timeout,
                    health_check_interval=30,
                )
            except ValueError as error:
                raise InputError(f"backend.cache.connection is not a valid Redis URL: {error}") from error
            self._redis = redis.Redis(connection_pool=self._pool)
        elif self._store != "memory":
            raise InputError(f'backend.cache.store "{self._store}" is not supported; use "memory" or "redis"')

    @property
    def store(self) -> str:
        return str(self._store)

    def for_plugin(self, plugin_id: str) -> CacheService:
        """The cache of `plugin_id`; the same instance for repeated calls."""
        if not isinstance(plugin_id, str) or not _PLUGIN_ID_PATTERN.match(plugin_id):
            raise InputError(f"invalid plugin id for the cache: {plugin_id!r}")
        with self._lock:
            service = self._services.get(plugin_id)
            if service is None:
                service = self._create(plugin_id)
                self._services[plugin_id] = service
            return service

    def _create(self, plugin_id: str) -> CacheService:
        if self._redis is not None:
            return RedisCacheService(self._redis, plugin_id, self._health, default_ttl=self._default_ttl)
        namespace = self._memory.setdefault(plugin_id, _MemoryNamespace(self._max_entries))
        return MemoryCacheService(namespace, default_ttl=self._default_ttl)

    def check(self) -> None:
        """For health checks: raises ServiceUnavailableError when the store cannot be reached."""
        if self._redis is None:
            return
        try:
            self._redis.ping()
        except redis.RedisError as error:
            raise ServiceUnavailableError(
                f"cache store Redis is unavailable: {error}", cause=error
            ) from error

    def close(self) -> None:
        """Release the Redis connections (memory stores have nothing to release)."""
        if self._pool is not None:
            self._pool.disconnect()
