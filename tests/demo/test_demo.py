"""`make demo` as a user meets it: the server starts, turns ready, and shows the demo catalog."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import LiveServer, start_demo_server


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    started = time.perf_counter()
    server = start_demo_server(tmp_path_factory.mktemp("demo"))
    server.ready_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    yield server
    server.process.terminate()
    server.process.wait(timeout=15)


def test_demo_serves_the_shell_and_turns_ready(demo: LiveServer) -> None:
    with httpx.Client(base_url=demo.base_url) as client:
        assert client.get("/.backstage/health/v1/readiness").json() == {"status": "ok"}
        home = client.get("/", headers={"accept": "text/html"})
        assert home.status_code == 200 and "Acme Outfitters" in home.text
        assert client.get("/metrics").status_code == 200


def test_demo_catalog_is_loaded_with_every_kind(demo: LiveServer) -> None:
    with httpx.Client(base_url=demo.base_url) as client:
        facets = client.get("/api/catalog/entity-facets", params={"facet": "kind"}).json()["facets"]["kind"]
        counts = {item["value"]: item["count"] for item in facets}
        for kind in (
            "Component",
            "API",
            "Resource",
            "System",
            "Domain",
            "Group",
            "User",
            "Location",
            "Template",
        ):
            assert counts.get(kind, 0) > 0, counts
        assert counts["Component"] >= 40
        greenroom = client.get("/api/catalog/entities/by-name/component/default/greenroom").json()
        assert greenroom["spec"]["owner"] == "group:default/platform-team"
        checkout = client.get(
            "/api/catalog/entities", params={"filter": "kind=api,spec.type=openapi", "limit": 1}
        ).json()
        assert checkout and checkout[0]["spec"]["definition"].lstrip().startswith(("openapi", "{", "#"))


def test_demo_mistakes_are_visible_as_errors(demo: LiveServer) -> None:
    with httpx.Client(base_url=demo.base_url) as client:
        errors = client.get("/api/catalog/processing-errors").json()["items"]
    text = " ".join(str(item) for item in errors)
    assert "Bad Name!" in text  # invalid metadata.name
    assert "mapping values are not allowed" in text or "syntax" in text.lower()  # YAML syntax error
    assert "wishlist" in text  # $text to a missing file
    assert "Conflict" in text or "conflicting" in text  # the duplicated entity


def test_demo_logs_are_structured_json(demo: LiveServer) -> None:
    log = Path(demo.log).read_text().strip().splitlines()
    assert log, "the server logged nothing"
    import json

    first = json.loads(log[0])
    assert {"timestamp", "level", "message"} <= set(first)
