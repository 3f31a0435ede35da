"""Hostile and broken input: every case gets a precise, stored error and loses nothing else."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from .conftest import CatalogHarness, component


def _errors_for(catalog: CatalogHarness, needle: str) -> list[dict]:
    """Processing errors whose entity ref or location mentions `needle`."""
    items = catalog.client.get("/api/catalog/processing-errors").json()["items"]
    return [
        e
        for item in items
        if needle in item["entityRef"] or needle in str(item["location"])
        for e in item["errors"]
    ]


def _location_errors(catalog: CatalogHarness, path: Path) -> list[dict]:
    items = catalog.client.get("/api/catalog/processing-errors").json()["items"]
    return [e for item in items for e in item["errors"] if str(path) in str(e.get("location", ""))]


def test_yaml_syntax_error_has_line_and_column_and_siblings_survive(catalog: CatalogHarness) -> None:
    good = catalog.write("good.yaml", component("survivor"))
    bad = catalog.write(
        "bad.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: broken
           description: indented one space too far
        spec: {type: service, lifecycle: production, owner: team-a}
        """,
    )
    root = catalog.write(
        "root.yaml",
        f"""
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {{name: mixed}}
        spec: {{type: file, targets: [{bad}, {good}]}}
        """,
    )
    catalog.register(root)
    catalog.settle()
    assert catalog.entity("component:default/survivor") is not None
    errors = _location_errors(catalog, bad)
    assert errors, "the YAML error must be stored"
    assert errors[0]["line"] == 5  # the over-indented `description:` line
    assert "column" in errors[0]["message"]


def test_one_broken_document_does_not_stop_the_others(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "multi.yaml",
        component("first")
        + "---\n- just\n- a list\n---\n"
        + component("third").lstrip()
        + "---\nplain scalar\n",
    )
    catalog.register(path)
    catalog.settle()
    assert catalog.entity("component:default/first") is not None
    assert catalog.entity("component:default/third") is not None
    messages = " ".join(e["message"] for e in _location_errors(catalog, path))
    assert "list" in messages and ("scalar" in messages or "string" in messages)


@pytest.mark.parametrize(
    "catalog", [{"rules": [{"allow": ["Component", "Location", "Service"]}]}], indirect=True
)
def test_unknown_kind_is_reported(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "kind.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Service
        metadata: {name: newsletter}
        spec: {type: service}
        """,
    )
    catalog.register(path)
    catalog.settle()
    errors = _errors_for(catalog, "service:default/newsletter")
    assert errors and "No processor recognized the entity service:default/newsletter" in errors[0]["message"]
    assert catalog.entity("service:default/newsletter") is None


@pytest.mark.parametrize("catalog", [{"rules": [{"allow": ["Component", "Location"]}]}], indirect=True)
def test_kind_not_allowed_by_rules_is_reported_on_the_location(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "rules.yaml",
        component("allowed")
        + """---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: sneaky-group}
spec: {type: team, children: []}
""",
    )
    catalog.register(path)
    catalog.settle()
    assert catalog.entity("component:default/allowed") is not None
    assert catalog.entity("group:default/sneaky-group") is None
    errors = _location_errors(catalog, path)
    assert errors and errors[0]["name"] == "NotAllowedError"
    assert "group:default/sneaky-group" in errors[0]["message"] and "catalog.rules" in errors[0]["message"]


def test_invalid_name_and_invalid_ref_are_precise(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "names.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: "Bad Name!"}
        spec: {type: service, lifecycle: production, owner: team-a}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: bad-owner}
        spec: {type: service, lifecycle: production, owner: "group:"}
        """,
    )
    catalog.register(path)
    catalog.settle()
    name_errors = _errors_for(catalog, "bad name!")
    assert name_errors and '"metadata.name" is not valid' in name_errors[0]["message"]
    assert 'found "Bad Name!"' in name_errors[0]["message"]
    owner = catalog.entity("component:default/bad-owner")
    owner_errors = _errors_for(catalog, "component:default/bad-owner")
    assert owner is None or owner_errors, "an invalid owner ref must surface as an error"
    assert any("spec.owner" in str(e) or "group:" in e["message"] for e in owner_errors)


def test_relations_to_missing_entities_are_kept_as_dangling(catalog: CatalogHarness) -> None:
    path = catalog.write("dangling.yaml", component("lonely", owner="group:default/nobody"))
    catalog.register(path)
    catalog.settle()
    entity = catalog.entity("component:default/lonely")
    assert {"type": "ownedBy", "targetRef": "group:default/nobody"} in entity["relations"]
    assert catalog.entity("group:default/nobody") is None


def test_text_placeholder_to_a_missing_file(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "api.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata: {name: ghost-api}
        spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ./missing.yaml}}
        """,
    )
    catalog.register(path)
    catalog.settle()
    errors = _errors_for(catalog, "api:default/ghost-api")
    assert errors and errors[0]["name"] == "NotFoundError"
    assert "missing.yaml" in errors[0]["message"]


def test_a_50_mb_file_is_refused_without_reading_it_all(catalog: CatalogHarness) -> None:
    big = catalog.root / "huge.yaml"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    good = catalog.write("fine.yaml", component("fine"))
    root = catalog.write(
        "root.yaml",
        f"""
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {{name: with-big}}
        spec: {{type: file, targets: [{big}, {good}]}}
        """,
    )
    catalog.register(root)
    catalog.settle()
    assert catalog.entity("component:default/fine") is not None
    errors = _location_errors(catalog, big)
    assert errors and ("limit" in errors[0]["message"] or "too large" in errors[0]["message"].lower())


def test_yaml_bomb_is_refused(catalog: CatalogHarness) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    bomb = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: bomb}\nspec:\n  "
        + "\n  ".join(lines)
        + "\n"
    )
    path = catalog.write("bomb.yaml", bomb)
    catalog.register(path)
    catalog.settle()
    errors = _location_errors(catalog, path)
    assert errors and ("alias" in errors[0]["message"].lower() or "nodes" in errors[0]["message"].lower())
    assert catalog.entity("component:default/bomb") is None


def test_deep_nesting_is_refused(catalog: CatalogHarness) -> None:
    deep = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: deep}\nspec:\n  x: "
        + "[" * 500
        + "]" * 500
        + "\n"
    )
    path = catalog.write("deep.yaml", deep)
    catalog.register(path)
    catalog.settle()
    errors = _location_errors(catalog, path)
    assert errors and ("deep" in errors[0]["message"].lower() or "nest" in errors[0]["message"].lower())


def test_keys_differing_only_in_case_are_refused(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "case.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: cased}
        spec: {type: service, lifecycle: production, owner: team-a, Owner: team-b}
        """,
    )
    catalog.register(path)
    catalog.settle()
    messages = [e["message"] for e in _location_errors(catalog, path)] + [
        e["message"] for e in _errors_for(catalog, "component:default/cased")
    ]
    assert any("case" in m.lower() for m in messages)


def test_non_utf8_bytes_are_reported_and_other_documents_kept(catalog: CatalogHarness) -> None:
    content = (
        component("clean").encode()
        + b'---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: dirty, description: "\xff\xfe"}\nspec: {type: service, lifecycle: production, owner: team-a}\n'
    )
    path = catalog.write("latin.yaml", content)
    catalog.register(path)
    catalog.settle()
    assert catalog.entity("component:default/clean") is not None
    errors = _location_errors(catalog, path)
    assert errors and ("utf" in errors[0]["message"].lower() or "byte" in errors[0]["message"].lower())


def test_location_pointing_at_itself_terminates(catalog: CatalogHarness) -> None:
    path = catalog.root / "self.yaml"
    catalog.write(
        "self.yaml",
        textwrap.dedent(
            f"""
            apiVersion: backstage.io/v1alpha1
            kind: Location
            metadata: {{name: narcissus}}
            spec: {{type: file, target: {path}}}
            ---"""
        )
        + component("reflected"),
    )
    catalog.register(path)
    catalog.settle()
    assert catalog.entity("location:default/narcissus") is not None
    assert catalog.entity("component:default/reflected") is not None


def test_cycles_of_location_entities_terminate(catalog: CatalogHarness) -> None:
    a = catalog.root / "a.yaml"
    b = catalog.root / "b.yaml"
    catalog.write(
        "a.yaml",
        f"""
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {{name: loc-a}}
        spec: {{type: file, target: {b}}}
        """,
    )
    catalog.write(
        "b.yaml",
        textwrap.dedent(
            f"""
            apiVersion: backstage.io/v1alpha1
            kind: Location
            metadata: {{name: loc-b}}
            spec: {{type: file, target: {a}}}
            ---"""
        )
        + component("in-cycle"),
    )
    created = catalog.register(a)
    catalog.settle()
    assert catalog.entity("component:default/in-cycle") is not None
    catalog.client.delete(f"/api/catalog/locations/{created['location']['id']}")
    catalog.settle()
    assert catalog.entity("component:default/in-cycle") is None
    assert catalog.entity("location:default/loc-a") is None


def test_location_target_host_not_allowed(catalog: CatalogHarness) -> None:
    response = catalog.client.post(
        "/api/catalog/locations", json={"type": "url", "target": "https://evil.example.org/catalog-info.yaml"}
    )
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["name"] == "NotAllowedError"
    assert (
        "evil.example.org" in body["error"]["message"] and "backend.reading.allow" in body["error"]["message"]
    )


def test_file_location_outside_the_roots_is_refused(catalog: CatalogHarness) -> None:
    response = catalog.client.post("/api/catalog/locations", json={"type": "file", "target": "/etc/passwd"})
    assert response.status_code == 403
    assert "backend.reading.roots" in response.json()["error"]["message"]


def test_malformed_location_requests(catalog: CatalogHarness) -> None:
    for body in (
        {},
        {"type": "file"},
        {"type": "", "target": "x"},
        {"type": "http", "target": "http://x"},
        {"type": "url", "target": "javascript:alert(1)"},
        {"type": "url", "target": "x", "extra": 1},
    ):
        response = catalog.client.post("/api/catalog/locations", json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["error"]["name"] == "InputError"
    not_json = catalog.client.post(
        "/api/catalog/locations", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400


def test_hostile_query_parameters_are_input_errors(catalog: CatalogHarness) -> None:
    for url in (
        "/api/catalog/entities?filter=%3Dvalue",
        "/api/catalog/entities?limit=-1",
        "/api/catalog/entities?limit=abc",
        "/api/catalog/entities?order=sideways:name",
        "/api/catalog/entities/by-query?cursor=not-base64!!",
        "/api/catalog/entities/by-query?orderField=metadata.name,up",
        "/api/catalog/entity-facets",
    ):
        response = catalog.client.get(url)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"]["name"] == "InputError"
    repeated = catalog.client.get("/api/catalog/entities?limit=1&limit=2")
    assert repeated.status_code == 400
    assert (
        repeated.json()["error"]["message"]
        == "Invalid query parameter 'limit': expected one integer, got 2 values"
    )
    after = catalog.client.get("/api/catalog/entities?limit=1&after=garbage")
    assert after.status_code == 400 and "after parameter" in after.json()["error"]["message"]
    predicate = catalog.client.post("/api/catalog/entities/by-query", json={"query": ["not", "an", "object"]})
    assert predicate.status_code == 400
