"""Test helpers for Greenroom and for plugin authors: a real backend, in-process, in one call.

    with start_test_backend([my_plugin], config={"hello": {"greeting": "Hi"}}) as backend:
        assert backend.client.get("/api/hello/greeting").status_code == 200

The backend is real (real SQLite or PostgreSQL, real services); only its data folder is
temporary. Pass `database=` a PostgreSQL URL (and a schema prefix) to run against PostgreSQL.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from greenroom.core.config import LoadedConfig
from greenroom.core.plugin_api import BackendFeature
from greenroom.core.runtime import Backend


def deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def make_test_config(
    data_dir: Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    database: str | None = None,
    schema_prefix: str = "greenroom_",
) -> dict[str, Any]:
    """A complete config for a test backend: SQLite in `data_dir` unless `database` is a PostgreSQL URL."""
    if database:
        db: dict[str, Any] = {"client": "pg", "connection": database, "prefix": schema_prefix}
    else:
        db = {"client": "sqlite", "connection": {"directory": str(data_dir)}, "prefix": schema_prefix}
    base: dict[str, Any] = {
        "app": {"title": "Greenroom (test)", "baseUrl": "http://127.0.0.1:7007"},
        "backend": {
            "baseUrl": "http://127.0.0.1:7007",
            "listen": {"host": "127.0.0.1", "port": 7007},
            "dataDir": str(data_dir),
            "database": db,
            "logging": {"level": "warning", "format": "pretty"},
        },
    }
    return deep_merge(base, overrides or {})


class TestBackend:
    """A started backend with its ASGI app and an HTTP client."""

    __test__ = False  # not a pytest test class

    def __init__(self, backend: Backend, app: FastAPI, client: TestClient) -> None:
        self.backend = backend
        self.app = app
        self.client = client


@contextmanager
def start_test_backend(
    features: Sequence[BackendFeature] = (),
    *,
    config: Mapping[str, Any] | None = None,
    discover: bool = False,
    data_dir: Path | None = None,
    database: str | None = None,
    schema_prefix: str = "greenroom_",
    start: bool = True,
) -> Iterator[TestBackend]:
    """Start a backend with `features` (and, with `discover`, every installed plugin)."""
    from greenroom.core.http.app import create_app

    with tempfile.TemporaryDirectory(prefix="greenroom-test-") as scratch:
        directory = data_dir or Path(scratch)
        data = make_test_config(directory, config, database=database, schema_prefix=schema_prefix)
        backend = Backend(LoadedConfig(data=data, files=[]), features=features, discover=discover)
        app = create_app(backend)
        try:
            if start:
                backend.start()
            with TestClient(app, raise_server_exceptions=False) as client:
                yield TestBackend(backend, app, client)
        finally:
            backend.stop()
