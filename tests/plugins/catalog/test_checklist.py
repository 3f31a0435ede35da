"""The reference's compatibility checklist, rows 1-33, through the HTTP API on SQLite and PostgreSQL.

Each test names its row. Rows 13-16 (last good version kept, orphans, conflicts, refresh) need
files edited between processing rounds and are tested in test_catalog_processing.py, also on
both databases; deeper coverage of every row lives in the other catalog tests.
"""

from __future__ import annotations

import base64
import textwrap

import orjson
import pytest

from greenroom.plugins.catalog.model import parse_entity_ref, stringify_entity_ref

from .conftest import CatalogHarness, component

URL_LOCATION = "url:https://example.com/catalog-info.yaml"


def _validate(catalog: CatalogHarness, entity: dict) -> list[dict]:
    response = catalog.client.post(
        "/api/catalog/validate-entity", json={"entity": entity, "location": URL_LOCATION}
    )
    if response.status_code == 200:
        return []
    assert response.status_code == 400, response.text
    return response.json()["errors"]


def _component(**metadata: object) -> dict:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "x", **metadata},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }


@pytest.fixture
def loaded(catalog: CatalogHarness) -> CatalogHarness:
    """A small catalog exercising filters, relations, tags and namespaces."""
    path = catalog.write(
        "all.yaml",
        textwrap.dedent(
            """
            apiVersion: backstage.io/v1alpha1
            kind: Group
            metadata: {name: a}
            spec: {type: team, children: []}
            ---
            apiVersion: backstage.io/v1alpha1
            kind: Group
            metadata: {name: b}
            spec: {type: team, children: []}
            ---
            apiVersion: backstage.io/v1alpha1
            kind: User
            metadata: {name: jane}
            spec: {memberOf: [a]}
            ---
            apiVersion: backstage.io/v1alpha1
            kind: Component
            metadata: {name: petstore, tags: [java], title: Pet Store}
            spec: {type: service, lifecycle: production, owner: a}
            ---
            apiVersion: backstage.io/v1alpha1
            kind: Component
            metadata: {name: pet-web, tags: [react]}
            spec: {type: website, lifecycle: production, owner: b}
            ---
            apiVersion: backstage.io/v1alpha1
            kind: Component
            metadata: {name: billing}
            spec: {type: library, lifecycle: experimental, owner: a}
            """
        ),
    )
    catalog.register(path)
    catalog.settle()
    return catalog


def test_row_01_entity_names(catalog: CatalogHarness) -> None:
    assert _validate(catalog, _component(name="Foo_Bar.1")) == []
    for bad in ("-foo", "foo-", "a" * 64):
        errors = _validate(catalog, _component(name=bad))
        assert errors and '"metadata.name" is not valid' in errors[0]["message"], bad


def test_row_02_namespaces(loaded: CatalogHarness) -> None:
    errors = _validate(loaded, _component(namespace="Team-A"))
    assert errors and '"metadata.namespace" is not valid' in errors[0]["message"]
    assert loaded.entity("component:default/petstore")["metadata"]["namespace"] == "default"


def test_row_03_tags(catalog: CatalogHarness) -> None:
    assert _validate(catalog, _component(tags=["c++", "lang:go"])) == []
    for bad in ("Java", "a--b"):
        assert _validate(catalog, _component(tags=[bad])), bad


def test_row_04_annotation_keys(catalog: CatalogHarness) -> None:
    assert _validate(catalog, _component(annotations={"example.com/my-key": "any <value> at all!"})) == []
    assert _validate(catalog, _component(annotations={"a/b/c": "x"}))


def test_row_05_foreign_root_fields(catalog: CatalogHarness) -> None:
    for field in ("relations", "status"):
        entity = {**_component(), field: []}
        errors = _validate(catalog, entity)
        assert errors and field in errors[0]["message"], field


def test_row_06_and_07_refs() -> None:
    assert parse_entity_ref("group:team-a", default_namespace="ns1") == parse_entity_ref("group:ns1/team-a")
    parsed = parse_entity_ref("a/b:c", default_kind="component")  # the colon is part of the name
    assert (parsed.kind, parsed.namespace, parsed.name) == ("component", "a", "b:c")
    assert (
        stringify_entity_ref({"kind": "Component", "namespace": "Default", "name": "Foo"})
        == "component:default/foo"
    )


def test_row_08_to_10_relations(loaded: CatalogHarness) -> None:
    assert {"type": "ownedBy", "targetRef": "group:default/a"} in loaded.entity("component:default/petstore")[
        "relations"
    ]
    assert {"type": "ownerOf", "targetRef": "component:default/petstore"} in loaded.entity("group:default/a")[
        "relations"
    ]
    assert {"type": "hasMember", "targetRef": "user:default/jane"} in loaded.entity("group:default/a")[
        "relations"
    ]


def test_row_11_text_substitution(catalog: CatalogHarness) -> None:
    catalog.write("def.txt", "hello definition")
    path = catalog.write(
        "api.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: s}\n"
        "spec: {type: openapi, lifecycle: production, owner: a, definition: {$text: ./def.txt}}\n",
    )
    catalog.register(path)
    catalog.settle()
    assert catalog.entity("api:default/s")["spec"]["definition"] == "hello definition"


def test_row_12_visible_after_processing_with_uid_etag_annotations(loaded: CatalogHarness) -> None:
    entity = loaded.entity("component:default/petstore")
    assert entity["metadata"]["uid"] and entity["metadata"]["etag"]
    assert "backstage.io/managed-by-location" in entity["metadata"]["annotations"]
    assert "backstage.io/managed-by-origin-location" in entity["metadata"]["annotations"]


def test_row_17_by_query_shape(loaded: CatalogHarness) -> None:
    body = loaded.client.get(
        "/api/catalog/entities/by-query", params={"filter": "kind=component", "limit": 2}
    ).json()
    assert set(body) == {"items", "totalItems", "pageInfo"}
    assert len(body["items"]) <= 2 and body["totalItems"] == 3 and "nextCursor" in body["pageInfo"]


def test_row_18_filter_sets(loaded: CatalogHarness) -> None:
    response = loaded.client.get(
        "/api/catalog/entities",
        params=[("filter", "kind=user,metadata.namespace=default"), ("filter", "kind=GROUP,spec.type")],
    )
    kinds = sorted(e["kind"] for e in response.json())
    assert kinds == ["Group", "Group", "User"]


def test_row_19_tag_and_relation_filters(loaded: CatalogHarness) -> None:
    tagged = loaded.client.get("/api/catalog/entities", params={"filter": "metadata.tags.java"}).json()
    assert [e["metadata"]["name"] for e in tagged] == ["petstore"]
    owned = loaded.client.get(
        "/api/catalog/entities", params={"filter": "relations.ownedby=group:default/a"}
    ).json()
    assert sorted(e["metadata"]["name"] for e in owned) == ["billing", "petstore"]


def test_row_20_cursors(loaded: CatalogHarness) -> None:
    first = loaded.client.get(
        "/api/catalog/entities/by-query",
        params={"filter": "kind=component", "limit": 1, "orderField": "metadata.name,asc"},
    ).json()
    cursor = first["pageInfo"]["nextCursor"]
    assert isinstance(orjson.loads(base64.b64decode(cursor)), dict)
    second = loaded.client.get("/api/catalog/entities/by-query", params={"cursor": cursor, "limit": 1}).json()
    assert second["items"][0]["metadata"]["name"] == "pet-web"
    back = loaded.client.get(
        "/api/catalog/entities/by-query", params={"cursor": second["pageInfo"]["prevCursor"]}
    ).json()
    assert back["items"][0]["metadata"]["name"] == "billing"
    assert loaded.client.get("/api/catalog/entities/by-query", params={"cursor": "%%%"}).status_code == 400


def test_row_21_order_field_and_total_items(loaded: CatalogHarness) -> None:
    ordered = loaded.client.get(
        "/api/catalog/entities/by-query", params={"orderField": "metadata.title,asc", "limit": 10}
    ).json()
    assert [e["metadata"]["name"] for e in ordered["items"]] == ["petstore"]  # only it has a title
    assert ordered["totalItems"] == 1
    excluded = loaded.client.get(
        "/api/catalog/entities/by-query", params={"filter": "kind=component", "totalItems": "exclude"}
    ).json()
    assert excluded["totalItems"] == 0


def test_row_22_full_text(loaded: CatalogHarness) -> None:
    body = loaded.client.get(
        "/api/catalog/entities/by-query",
        params={"fullTextFilterTerm": "PET", "fullTextFilterFields": "metadata.name"},
    ).json()
    assert sorted(e["metadata"]["name"] for e in body["items"]) == ["pet-web", "petstore"]


def test_row_23_fields(loaded: CatalogHarness) -> None:
    items = loaded.client.get(
        "/api/catalog/entities", params={"filter": "kind=group", "fields": "kind,metadata.name"}
    ).json()
    assert all(set(e) == {"kind", "metadata"} and set(e["metadata"]) == {"name"} for e in items)


def test_row_24_plain_list_and_link_header(loaded: CatalogHarness) -> None:
    everything = loaded.client.get("/api/catalog/entities").json()
    assert isinstance(everything, list) and len(everything) >= 6
    page = loaded.client.get("/api/catalog/entities", params={"limit": 2})
    assert len(page.json()) == 2
    assert 'rel="next"' in page.headers["link"] and "after=" in page.headers["link"]


def test_row_25_by_refs(loaded: CatalogHarness) -> None:
    body = loaded.client.post(
        "/api/catalog/entities/by-refs",
        json={"entityRefs": ["component:default/petstore", "component:default/missing"]},
    ).json()
    assert body["items"][0]["metadata"]["name"] == "petstore" and body["items"][1] is None


def test_row_26_by_name(loaded: CatalogHarness) -> None:
    assert loaded.client.get("/api/catalog/entities/by-name/Component/Default/PetStore").status_code == 200
    missing = loaded.client.get("/api/catalog/entities/by-name/component/default/nope")
    assert missing.status_code == 404
    body = missing.json()
    assert body["error"]["name"] == "NotFoundError" and body["response"] == {"statusCode": 404}
    assert body["request"]["method"] == "GET"


def test_row_27_facets(loaded: CatalogHarness) -> None:
    facets = loaded.client.get(
        "/api/catalog/entity-facets", params=[("facet", "kind"), ("facet", "spec.type")]
    ).json()
    assert {"value": "Component", "count": 3} in facets["facets"]["kind"]
    assert {"value": "website", "count": 1} in facets["facets"]["spec.type"]


def test_row_28_predicates(loaded: CatalogHarness) -> None:
    def names(query: dict) -> list[str]:
        body = loaded.client.post("/api/catalog/entities/by-query", json={"query": query}).json()
        return sorted(e["metadata"]["name"] for e in body["items"])

    assert names({"$all": [{"kind": "component"}, {"spec.type": {"$in": ["service", "website"]}}]}) == [
        "pet-web",
        "petstore",
    ]
    assert names({"$any": [{"metadata.name": "billing"}, {"metadata.name": "jane"}]}) == ["billing", "jane"]
    assert "petstore" not in names({"$all": [{"kind": "component"}, {"$not": {"metadata.name": "petstore"}}]})
    assert names({"metadata.title": {"$exists": True}}) == ["petstore"]
    assert names({"kind": "component", "metadata.name": {"$hasPrefix": "PET"}}) == ["pet-web", "petstore"]
    assert names(
        {"kind": "component", "relations": {"$contains": {"type": "ownedBy", "targetRef": "group:default/b"}}}
    ) == ["pet-web"]


def test_row_29_and_30_locations(catalog: CatalogHarness) -> None:
    path = catalog.write("c.yaml", component("located"))
    created = catalog.client.post("/api/catalog/locations", json={"type": "file", "target": str(path)})
    assert created.status_code == 201
    location = created.json()["location"]
    assert {"id", "type", "target"} <= set(location) and created.json()["entities"] == []
    assert (
        catalog.client.post("/api/catalog/locations", json={"type": "file", "target": str(path)}).status_code
        == 409
    )
    listed = catalog.client.get("/api/catalog/locations").json()
    assert listed and all(set(item) == {"data"} for item in listed)
    catalog.settle()
    assert catalog.client.delete(f"/api/catalog/locations/{location['id']}").status_code == 204
    catalog.settle()
    assert catalog.entity("component:default/located") is None


def test_row_31_validate_entity(catalog: CatalogHarness) -> None:
    assert _validate(catalog, _component()) == []
    assert _validate(catalog, _component(name="Bad Name!"))
    wrong = catalog.client.post(
        "/api/catalog/validate-entity", json={"entity": _component(), "location": "file:/x"}
    )
    assert wrong.status_code == 400


def test_row_32_ancestry(loaded: CatalogHarness) -> None:
    body = loaded.client.get("/api/catalog/entities/by-name/component/default/petstore/ancestry").json()
    assert body["rootEntityRef"] == "component:default/petstore"
    assert all({"entity", "parentEntityRefs"} == set(item) for item in body["items"])
    assert len(body["items"]) == 2  # the entity and its generated location


@pytest.mark.parametrize("catalog", [{"readonly": True}], indirect=True)
def test_row_33_readonly(catalog: CatalogHarness) -> None:
    path = catalog.write("c.yaml", component("ro"))
    response = catalog.client.post("/api/catalog/locations", json={"type": "file", "target": str(path)})
    assert response.status_code == 403 and response.json()["error"]["name"] == "NotAllowedError"
