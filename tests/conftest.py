"""Shared fixtures: the real PostgreSQL and Redis servers, and how their absence is handled.

A test that needs PostgreSQL or Redis is marked `postgres` / `redis`. On a developer machine
without the server it is skipped with a message saying so; with CI=true it fails instead,
because CI must prove the production paths.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

PG_URL = os.environ.get("GREENROOM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GREENROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 1.0):
            return True
    except OSError:
        return False


_SERVERS = {
    "postgres": (PG_URL, 5432, "PostgreSQL"),
    "redis": (REDIS_URL, 6379, "Redis"),
}
_reachability: dict[str, bool] = {}


def server_available(marker: str) -> bool:
    if marker not in _reachability:
        url, port, _ = _SERVERS[marker]
        _reachability[marker] = _reachable(url, port)
    return _reachability[marker]


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, (url, _, label) in _SERVERS.items():
        if item.get_closest_marker(marker) and not server_available(marker):
            message = f"{label} is not reachable at {url}"
            if IN_CI:
                pytest.fail(f"{message}; CI=true requires it (start it, see README 'Testing')")
            pytest.skip(f"{message}; skipped outside CI")


@pytest.fixture
def pg_url() -> str:
    """URL of the real test database (the test must be marked `postgres`)."""
    return PG_URL


@pytest.fixture
def redis_url() -> str:
    """URL of the real Redis (the test must be marked `redis`)."""
    return REDIS_URL


@pytest.fixture
def pg_schema_prefix(pg_url: str) -> Iterator[str]:
    """A unique schema-name prefix; every schema starting with it is dropped afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    yield prefix
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        schemas = conn.execute(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p"), {"p": prefix + "%"}
        ).scalars()
        for schema in list(schemas):
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
