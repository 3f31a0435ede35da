"""CacheManager / CacheService on the memory store and on the real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis

from greenroom.core.errors import InputError, ServiceUnavailableError
from greenroom.core.services.cache import CacheManager, CacheService, parse_ttl


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def manager(request: pytest.FixtureRequest) -> Iterator[CacheManager]:
    if request.param == "memory":
        cache_manager = CacheManager({})
    else:
        cache_manager = CacheManager({"store": "redis", "connection": request.getfixturevalue("redis_url")})
    yield cache_manager
    cache_manager.close()


@pytest.fixture
def plugin_ids(manager: CacheManager) -> Iterator[tuple[str, str]]:
    """Unique plugin ids so runs against the shared Redis never see each other's keys."""
    suffix = uuid.uuid4().hex[:8]
    ids = (f"alpha-{suffix}", f"beta-{suffix}")
    yield ids
    for plugin_id in ids:
        manager.for_plugin(plugin_id).clear()


def test_set_get_delete_round_trip(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    cache = manager.for_plugin(plugin_ids[0])
    value = {"name": "x", "items": [1, 2.5, None, True], "nested": {"a": "b"}}
    assert cache.get("k") is None
    cache.set("k", value)
    assert cache.get("k") == value
    cache.delete("k")
    assert cache.get("k") is None
    cache.delete("never-set")


def test_returned_value_is_a_copy(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    cache = manager.for_plugin(plugin_ids[0])
    value = {"list": [1]}
    cache.set("k", value)
    value["list"].append(2)
    assert cache.get("k") == {"list": [1]}


def test_ttl_expires(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    cache = manager.for_plugin(plugin_ids[0])
    cache.set("short", "v", ttl=0.15)
    cache.set("short-delta", "v", ttl=timedelta(milliseconds=150))
    cache.set("long", "v", ttl=60)
    assert cache.get("short") == "v"
    time.sleep(0.3)
    assert cache.get("short") is None
    assert cache.get("short-delta") is None
    assert cache.get("long") == "v"


def test_namespaces_are_isolated(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    alpha, beta = (manager.for_plugin(plugin_id) for plugin_id in plugin_ids)
    alpha.set("same", "from-alpha")
    beta.set("same", "from-beta")
    assert alpha.get("same") == "from-alpha"
    assert beta.get("same") == "from-beta"
    alpha.delete("same")
    assert beta.get("same") == "from-beta"


def test_for_plugin_returns_same_namespace(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    manager.for_plugin(plugin_ids[0]).set("k", 1)
    assert manager.for_plugin(plugin_ids[0]).get("k") == 1


def test_default_ttl_via_with_options(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    cache = manager.for_plugin(plugin_ids[0])
    short_lived = cache.with_options(default_ttl=0.15)
    short_lived.set("expires", 1)
    short_lived.set("explicit-ttl-wins", 2, ttl=60)
    cache.set("no-default", 3)
    assert cache.get("expires") == 1, "with_options shares the namespace"
    time.sleep(0.3)
    assert cache.get("expires") is None
    assert cache.get("explicit-ttl-wins") == 2
    assert cache.get("no-default") == 3


def test_clear_only_own_namespace(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    alpha, beta = (manager.for_plugin(plugin_id) for plugin_id in plugin_ids)
    for index in range(30):
        alpha.set(f"k{index}", index)
        beta.set(f"k{index}", index)
    alpha.clear()
    assert all(alpha.get(f"k{index}") is None for index in range(30))
    assert all(beta.get(f"k{index}") == index for index in range(30))


@pytest.mark.parametrize("bad_value", [{1, 2}, object(), datetime(2024, 1, 1), b"bytes", {1: "int key"}])
def test_non_json_value_is_input_error(
    manager: CacheManager, plugin_ids: tuple[str, str], bad_value: object
) -> None:
    cache = manager.for_plugin(plugin_ids[0])
    with pytest.raises(InputError, match="not JSON-serialisable"):
        cache.set("k", bad_value)
    assert cache.get("k") is None


def test_invalid_keys_ttls_and_plugin_ids(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    cache = manager.for_plugin(plugin_ids[0])
    with pytest.raises(InputError):
        cache.set("", 1)
    with pytest.raises(InputError):
        cache.set("k", 1, ttl=0)
    with pytest.raises(InputError):
        cache.set("k", 1, ttl=-5)
    with pytest.raises(InputError):
        cache.with_options(default_ttl="soon")
    with pytest.raises(InputError):
        manager.for_plugin("bad:id")


def test_concurrent_writers(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    cache = manager.for_plugin(plugin_ids[0])

    def write(thread_index: int) -> None:
        for index in range(50):
            cache.set(f"t{thread_index}-{index}", index)

    threads = [threading.Thread(target=write, args=(thread_index,)) for thread_index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(cache.get(f"t{t}-{i}") == i for t in range(8) for i in range(50))


def test_satisfies_protocol(manager: CacheManager, plugin_ids: tuple[str, str]) -> None:
    assert isinstance(manager.for_plugin(plugin_ids[0]), CacheService)
    manager.check()


def test_memory_store_is_bounded_lru() -> None:
    cache = CacheManager({}, max_entries_per_plugin=3).for_plugin("lru")
    for key in ("a", "b", "c"):
        cache.set(key, key)
    assert cache.get("a") == "a"  # "a" is now the most recently used
    cache.set("d", "d")
    assert cache.get("b") is None
    assert [cache.get(key) for key in ("a", "c", "d")] == ["a", "c", "d"]


def test_config_default_ttl_applies() -> None:
    cache = CacheManager({"defaultTtl": "150ms"}).for_plugin("p")
    cache.set("k", 1)
    time.sleep(0.3)
    assert cache.get("k") is None


def test_parse_ttl_forms() -> None:
    assert parse_ttl(None) is None
    assert parse_ttl(30) == 30.0
    assert parse_ttl(timedelta(minutes=2)) == 120.0
    assert parse_ttl("5m") == 300.0
    assert parse_ttl("1h") == 3600.0
    assert parse_ttl("500ms") == 0.5
    with pytest.raises(InputError):
        parse_ttl(True)


def test_bad_config_is_input_error() -> None:
    with pytest.raises(InputError, match="not supported"):
        CacheManager({"store": "memcache"})
    with pytest.raises(InputError, match="connection"):
        CacheManager({"store": "redis"})


@pytest.mark.redis
def test_redis_keys_are_namespaced(redis_url: str) -> None:
    manager = CacheManager({"store": "redis", "connection": redis_url})
    plugin_id = f"ns-{uuid.uuid4().hex[:8]}"
    cache = manager.for_plugin(plugin_id)
    try:
        cache.set("key", {"v": 1}, ttl=30)
        raw = redis.Redis.from_url(redis_url)
        assert raw.get(f"greenroom:{plugin_id}:key") == b'{"v":1}'
        assert 0 < raw.pttl(f"greenroom:{plugin_id}:key") <= 30_000
        raw.close()
    finally:
        cache.clear()
        manager.close()


def test_unreachable_redis_is_a_miss_but_check_fails(caplog: pytest.LogCaptureFixture) -> None:
    # Port 1 on localhost refuses connections immediately: a real "Redis is down".
    manager = CacheManager({"store": "redis", "connection": "redis://127.0.0.1:1/0"}, socket_timeout=0.5)
    cache = manager.for_plugin("down")
    cache.set("k", 1)
    assert cache.get("k") is None
    cache.delete("k")
    assert "Redis SET failed" in caplog.text
    assert caplog.text.count("Redis") == 1, "an outage is logged once, not on every call"
    with pytest.raises(ServiceUnavailableError):
        manager.check()
    with pytest.raises(ServiceUnavailableError):
        cache.clear()
    manager.close()
