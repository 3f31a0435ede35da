"""Fuzz the catalog API with schemathesis, driven by the API's own OpenAPI document.

A real backend (SQLite; PostgreSQL in the `postgres` variant) is loaded with a small catalog,
the document is fetched from the running router (`/api/catalog/openapi.json`), and for every
operation schemathesis generates requests from it. Each response must not be a 5xx, must use a
documented status code and content type, and must match the documented schema and headers.

Operations that could wipe the fixture (DELETE) or change registered locations (PUT) are not
fuzzed; their documented error responses are checked with fixed requests instead.
"""

from __future__ import annotations

import itertools
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from greenroom.core.testing import TestBackend, start_test_backend
from greenroom.plugins.catalog.client import catalog_service_ref
from greenroom.plugins.catalog.plugin import plugin as catalog_plugin
from greenroom.plugins.catalog.router import create_router

pytestmark = [
    pytest.mark.slow,
    # raised inside schemathesis' own strategies, not ours
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

REPO = Path(__file__).resolve().parents[2]
PACKAGED = REPO / "src" / "greenroom" / "plugins" / "catalog" / "openapi.yaml"
PUBLISHED = REPO / "docs" / "openapi" / "catalog.yaml"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ALL_KINDS = ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location", "Template"]

CATALOG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: jdoe
spec:
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: pets
spec:
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: petstore
  tags: [java]
  annotations:
    example.com/slug: petstore
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: pets
  providesApis: [petstore-api]
  dependsOn: [resource:pets-db]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: broken
spec:
  type: website
  lifecycle: experimental
  owner: team-a
  dependsOn: [no-kind-here]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: petstore-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: "openapi: 3.0.0"
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: pets-db
spec:
  type: database
  owner: team-a
"""


def _features() -> list[Any]:
    """The catalog plugin, plus the plugins it depends on when they are installed."""
    features: list[Any] = [catalog_plugin]
    try:
        from greenroom.plugins.user_settings.plugin import plugin as user_settings_plugin
    except ImportError:
        pass
    else:
        features.append(user_settings_plugin)
    return features


@dataclass
class Fixture:
    backend: TestBackend
    schema: Any
    root: Path


def _start(tmp: Path, database: str | None, prefix: str) -> Iterator[Fixture]:
    root = tmp / "repo"
    root.mkdir()
    descriptor = root / "catalog-info.yaml"
    descriptor.write_text(textwrap.dedent(CATALOG).lstrip())
    config = {
        "backend": {"reading": {"roots": [str(root)], "allow": [{"host": "example.com"}]}},
        "catalog": {"rules": [{"allow": ALL_KINDS}], "processingInterval": {"minutes": 10}},
    }
    with start_test_backend(
        _features(), config=config, data_dir=tmp / "data", database=database, schema_prefix=prefix
    ) as backend:
        response = backend.client.post(
            "/api/catalog/locations", json={"type": "file", "target": str(descriptor)}
        )
        assert response.status_code == 201, response.text
        backend.backend.get_service(catalog_service_ref).service.engine.settle(timeout=60)
        assert (
            backend.client.get("/api/catalog/entities/by-name/component/default/petstore").status_code == 200
        )
        schema = schemathesis.openapi.from_asgi("/api/catalog/openapi.json", backend.app)
        yield Fixture(backend, schema, root)


@pytest.fixture(scope="module")
def sqlite_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    yield from _start(tmp_path_factory.mktemp("fuzz-sqlite"), None, "greenroom_")


@pytest.fixture
def pg_fixture(tmp_path: Path, pg_url: str, pg_schema_prefix: str) -> Iterator[Fixture]:
    yield from _start(tmp_path, pg_url, pg_schema_prefix)


def _fuzzable(schema: Any) -> list[Any]:
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() in ("DELETE", "PUT"):
            continue
        operations.append(operation)
    return operations


def _fuzz(fixture: Fixture, max_examples: int) -> None:
    operations = _fuzzable(fixture.schema)
    assert len(operations) >= 20, [op.label for op in operations]
    failures: list[str] = []
    timings: list[tuple[float, str]] = []
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    for operation, mode in itertools.product(operations, modes):
        raw = operation.definition.raw
        if mode is GenerationMode.NEGATIVE and not (raw.get("parameters") or raw.get("requestBody")):
            continue  # only free-form path strings: there is no invalid value to generate

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        started = time.monotonic()
        try:
            run()
        except Unsatisfiable:
            pass  # no invalid value exists for some parameter combinations
        except Exception as error:  # collected so that one report lists every failing operation
            failures.append(f"{operation.label} ({mode.value} data):\n{error}")
        finally:
            timings.append((time.monotonic() - started, f"{operation.label} ({mode.value})"))
    print("slowest operations:", *(f"{t:.1f}s {label}" for t, label in sorted(timings)[-6:]), sep="\n  ")
    assert not failures, "\n\n".join(failures)
    # the fixture survived the fuzzing
    response = fixture.backend.client.get("/api/catalog/entities/by-name/component/default/petstore")
    assert response.status_code == 200


def test_fuzz_sqlite(sqlite_fixture: Fixture) -> None:
    _fuzz(sqlite_fixture, max_examples=15)


@pytest.mark.postgres
def test_fuzz_postgres(pg_fixture: Fixture) -> None:
    _fuzz(pg_fixture, max_examples=8)


# ------------------------------------------------------------------ targeted conformance checks


def _case(fixture: Fixture, method: str, path: str, **kwargs: Any) -> Any:
    operation = fixture.schema[path][method]
    return operation.Case(**kwargs)


def _validated(fixture: Fixture, method: str, path: str, **kwargs: Any) -> Any:
    case = _case(fixture, method, path, **kwargs)
    return case.call_and_validate(checks=CHECKS)


def _entity(fixture: Fixture, ref: str) -> dict[str, Any]:
    kind, _, rest = ref.partition(":")
    namespace, _, name = rest.partition("/")
    response = fixture.backend.client.get(f"/api/catalog/entities/by-name/{kind}/{namespace}/{name}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_documented_destructive_operations(sqlite_fixture: Fixture) -> None:
    """DELETE and PUT are left out of the fuzzing; their answers must still match the document."""
    fx = sqlite_fixture
    missing = "00000000-0000-0000-0000-000000000000"
    assert (
        _validated(fx, "DELETE", "/entities/by-uid/{uid}", path_parameters={"uid": missing}).status_code
        == 404
    )
    assert _validated(fx, "DELETE", "/locations/{id}", path_parameters={"id": missing}).status_code == 404
    response = _validated(
        fx, "PUT", "/locations/{id}", path_parameters={"id": missing}, body={"type": "file", "target": "x"}
    )
    assert response.status_code in (400, 403, 404)

    # a real delete and a real update, on things registered only for this test
    extra = fx.root / "extra.yaml"
    extra.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata:\n  name: scratch\n"
        "spec:\n  type: queue\n  owner: team-a\n"
    )
    created = _validated(fx, "POST", "/locations", body={"type": "file", "target": str(extra)})
    assert created.status_code == 201
    location = created.json()["location"]
    assert location["entityRef"].startswith("location:default/generated-")
    again = _validated(fx, "POST", "/locations", body={"type": "file", "target": str(extra)})
    assert again.status_code == 409
    fx.backend.backend.get_service(catalog_service_ref).service.engine.settle(timeout=60)
    uid = _entity(fx, "resource:default/scratch")["metadata"]["uid"]
    assert _validated(fx, "DELETE", "/entities/by-uid/{uid}", path_parameters={"uid": uid}).status_code == 204
    updated = _validated(
        fx,
        "PUT",
        "/locations/{id}",
        path_parameters={"id": location["id"]},
        body={"type": "file", "target": str(extra)},
    )
    assert updated.status_code == 200 and updated.json()["id"] == location["id"]
    assert (
        _validated(fx, "DELETE", "/locations/{id}", path_parameters={"id": location["id"]}).status_code == 204
    )


def test_documented_success_shapes(sqlite_fixture: Fixture) -> None:
    """Responses that random data rarely reaches (existing entities, pages, cursors) match too."""
    fx = sqlite_fixture
    petstore = {"kind": "component", "namespace": "default", "name": "petstore"}
    page = _validated(fx, "GET", "/entities", query={"limit": 2, "filter": ["kind=component,kind=api"]})
    assert len(page.json()) == 2 and 'rel="next"' in page.headers["link"][0]
    everything = _validated(fx, "GET", "/entities", query={"fields": ["kind,metadata.name"]})
    assert len(everything.json()) >= 7 and "link" not in everything.headers
    assert (
        _validated(
            fx, "GET", "/entities/by-name/{kind}/{namespace}/{name}", path_parameters=petstore
        ).status_code
        == 200
    )
    ancestry = _validated(
        fx, "GET", "/entities/by-name/{kind}/{namespace}/{name}/ancestry", path_parameters=petstore
    )
    assert ancestry.json()["items"][0]["entity"]["metadata"]["name"] == "petstore"
    assert (
        _validated(
            fx, "GET", "/locations/by-entity/{kind}/{namespace}/{name}", path_parameters=petstore
        ).status_code
        == 200
    )
    uid = _entity(fx, "component:default/petstore")["metadata"]["uid"]
    assert _validated(fx, "GET", "/entities/by-uid/{uid}", path_parameters={"uid": uid}).status_code == 200
    first = _validated(
        fx, "GET", "/entities/by-query", query={"limit": 1, "orderField": ["metadata.name,asc"]}
    )
    cursor = first.json()["pageInfo"]["nextCursor"]
    second = _validated(fx, "GET", "/entities/by-query", query={"cursor": cursor, "limit": 1})
    assert second.json()["pageInfo"]["prevCursor"]
    assert _validated(fx, "GET", "/entities/by-query", query={"cursor": "not-a-cursor"}).status_code == 400
    by_refs = _validated(
        fx,
        "POST",
        "/entities/by-refs",
        body={"entityRefs": ["component:default/petstore", "component:default/nope"]},
    )
    assert by_refs.json()["items"][1] is None
    facets = _validated(fx, "GET", "/entity-facets", query={"facet": ["kind", "relations.ownedBy"]})
    assert {"value": "group:default/team-a", "count": 5} in facets.json()["facets"]["relations.ownedBy"]
    locations = _validated(fx, "GET", "/locations")
    location_id = locations.json()[0]["data"]["id"]
    assert _validated(fx, "GET", "/locations/{id}", path_parameters={"id": location_id}).status_code == 200
    assert _validated(fx, "POST", "/locations/by-query", body={"limit": 1}).status_code == 200
    dry = _validated(
        fx,
        "POST",
        "/locations",
        query={"dryRun": "true"},
        body={"type": "file", "target": str(fx.root / "catalog-info.yaml")},
    )
    assert dry.status_code == 201 and dry.json()["exists"] is True
    assert (
        _validated(fx, "POST", "/refresh", body={"entityRef": "component:default/petstore"}).status_code
        == 200
    )
    invalid = _validated(
        fx,
        "POST",
        "/validate-entity",
        body={
            "entity": {"apiVersion": "x/v1", "kind": "Nope", "metadata": {"name": "a"}},
            "location": "url:http://x",
        },
    )
    assert invalid.status_code == 400 and invalid.json()["errors"]
    analyzed = _validated(
        fx,
        "POST",
        "/analyze-location",
        body={"location": {"type": "file", "target": str(fx.root / "catalog-info.yaml")}},
    )
    assert analyzed.json()["existingEntityFiles"]
    errors = _validated(fx, "GET", "/processing-errors")
    assert any(item["entityRef"] == "component:default/broken" for item in errors.json()["items"])
    assert _validated(fx, "GET", "/status").json()["entities"] >= 7
    assert (
        _validated(
            fx,
            "GET",
            "/entities/by-name/{kind}/{namespace}/{name}",
            path_parameters={**petstore, "name": "x"},
        ).status_code
        == 404
    )


# ------------------------------------------------------------------ what the fuzzing found (regressions)

FUZZ_FINDINGS = [
    # integers beyond 64 bits overflowed the SQLite driver (500); they are clamped now
    ("GET", "/api/catalog/entities?offset=99999999999999999999", None, 200),
    ("GET", "/api/catalog/entities?limit=99999999999999999999", None, 200),
    ("GET", "/api/catalog/entities/by-query?limit=99999999999999999999", None, 200),
    ("POST", "/api/catalog/entities/by-query", {"limit": 2**40, "offset": 2**40}, 200),
    # a negative limit reached PostgreSQL's LIMIT (500)
    ("GET", "/api/catalog/processing-errors?limit=-3", None, 400),
    # NUL characters cannot be bound as PostgreSQL text (500)
    ("POST", "/api/catalog/entities/by-refs", {"entityRefs": ["component:default/a\u0000b"]}, 400),
    ("GET", "/api/catalog/entity-facets?facet=kind%00", None, 400),
    ("GET", "/api/catalog/entities?filter=kind%3Dcomponent%00", None, 400),
    ("POST", "/api/catalog/entity-facets", {"facets": ["kind"], "query": {"kind": "a\u0000"}}, 400),
    # malformed POST /entities/by-query bodies raised TypeError (500)
    ("POST", "/api/catalog/entities/by-query", {"orderBy": 1.5}, 400),
    ("POST", "/api/catalog/entities/by-query", {"orderBy": [{"field": "kind", "order": "up"}]}, 400),
    ("POST", "/api/catalog/entities/by-query", {"fullTextFilter": {"term": 3}}, 400),
    ("POST", "/api/catalog/entities/by-query", {"fullTextFilter": "pet"}, 400),
    ("POST", "/api/catalog/analyze-location", {"location": {"target": "x"}, "catalogFilename": 5}, 400),
]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_fixture(request: pytest.FixtureRequest) -> Fixture:
    name = "sqlite_fixture" if request.param == "sqlite" else "pg_fixture"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("method", "url", "body", "status"), FUZZ_FINDINGS)
def test_fuzz_findings_stay_fixed(
    any_fixture: Fixture, method: str, url: str, body: Any, status: int
) -> None:
    client = any_fixture.backend.client
    response = client.request(
        method,
        url,
        content=None if body is None else orjson.dumps(body),
        headers=None if body is None else {"Content-Type": "application/json"},
    )
    assert response.status_code == status, response.text
    if status >= 400:
        assert set(response.json()) == {"error", "request", "response"}
        assert response.json()["error"]["name"] == "InputError"


# ------------------------------------------------------------------ the document itself


def test_packaged_and_published_documents_are_identical() -> None:
    assert PACKAGED.read_bytes() == PUBLISHED.read_bytes(), (
        "src/greenroom/plugins/catalog/openapi.yaml and docs/openapi/catalog.yaml differ; "
        "edit one and copy it over the other"
    )


def test_document_is_served(sqlite_fixture: Fixture) -> None:
    client = sqlite_fixture.backend.client
    as_yaml = client.get("/api/catalog/openapi.yaml")
    assert as_yaml.status_code == 200
    assert as_yaml.content == PACKAGED.read_bytes()
    as_json = client.get("/api/catalog/openapi.json")
    assert as_json.status_code == 200
    assert as_json.json() == yaml.safe_load(PACKAGED.read_text())


def test_document_covers_every_route(sqlite_fixture: Fixture) -> None:
    """Every route the router serves is documented, and every documented operation exists."""
    document = yaml.safe_load(PACKAGED.read_text())
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }
    service = sqlite_fixture.backend.backend.get_service(catalog_service_ref).service
    served = set()
    for route in create_router(service).routes:
        path = getattr(route, "path", "").replace("{location_id}", "{id}")
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}:
            served.add((method, path))
    assert served, "no catalog routes found on the app"
    assert documented == served


def test_document_is_valid_openapi() -> None:
    schema = schemathesis.openapi.from_path(str(PACKAGED))
    assert len(list(schema.get_all_operations())) == sum(
        1
        for item in yaml.safe_load(PACKAGED.read_text())["paths"].values()
        for m in item
        if m != "parameters"
    )
