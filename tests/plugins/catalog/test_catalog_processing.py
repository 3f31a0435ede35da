"""Ingestion, processing, stitching and lifecycle invariants, end to end through the API.

Checklist rows 8-16 and 29-33 of the reference, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import textwrap
import time
from typing import Any

import orjson
import sqlalchemy as sa

from .conftest import CatalogHarness, component


def _status_messages(entity: dict) -> list[str]:
    return [item["message"] for item in (entity.get("status") or {}).get("items", [])]


def test_registered_location_becomes_visible_after_processing_and_stitching(catalog: CatalogHarness) -> None:
    path = catalog.write("svc/catalog-info.yaml", component("petstore"))
    catalog.service.engine.stop()  # so "not visible before processing" is not a race; settle() processes
    created = catalog.register(path)
    assert created["location"]["type"] == "file" and created["location"]["target"] == str(path)
    assert created["entities"] == []
    assert catalog.entity("component:default/petstore") is None  # not before processing (row 12)
    catalog.settle()
    entity = catalog.entity("Component:Default/PetStore")  # case-insensitive lookup (row 26)
    assert entity is not None
    assert entity["metadata"]["uid"] and entity["metadata"]["etag"]
    annotations = entity["metadata"]["annotations"]
    assert annotations["backstage.io/managed-by-location"] == f"file:{path}"
    assert annotations["backstage.io/managed-by-origin-location"] == f"file:{path}"
    assert annotations["backstage.io/source-location"] == f"file:{path.parent}/"
    assert {"type": "ownedBy", "targetRef": "group:default/team-a"} in entity["relations"]


def test_uid_is_stable_and_etag_changes_with_content(catalog: CatalogHarness) -> None:
    path = catalog.write("c.yaml", component("stable"))
    catalog.register(path)
    catalog.settle()
    before = catalog.entity("component:default/stable")
    catalog.write("c.yaml", component("stable", description="changed"))
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/stable"})
    catalog.settle()
    after = catalog.entity("component:default/stable")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["etag"] != before["metadata"]["etag"]
    assert after["metadata"]["description"] == "changed"


def test_relations_both_directions_in_the_entitys_namespace(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "ns.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: web, namespace: ns1}
        spec: {type: website, lifecycle: production, owner: team-a, dependsOn: [resource:db]}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Group
        metadata: {name: team-a, namespace: ns1}
        spec: {type: team, children: [], members: [jane]}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: User
        metadata: {name: jane, namespace: ns1}
        spec: {memberOf: [team-a]}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Resource
        metadata: {name: db, namespace: ns1}
        spec: {type: database, owner: team-a}
        """,
    )
    catalog.register(path)
    catalog.settle()
    web = catalog.entity("component:ns1/web")
    group = catalog.entity("group:ns1/team-a")
    user = catalog.entity("user:ns1/jane")
    db = catalog.entity("resource:ns1/db")
    assert {"type": "ownedBy", "targetRef": "group:ns1/team-a"} in web["relations"]  # row 8
    assert {"type": "ownerOf", "targetRef": "component:ns1/web"} in group["relations"]
    assert {"type": "dependsOn", "targetRef": "resource:ns1/db"} in web["relations"]  # row 9
    assert {"type": "dependencyOf", "targetRef": "component:ns1/web"} in db["relations"]
    memberships = [r for r in user["relations"] if r["type"] == "memberOf"]
    assert memberships == [{"type": "memberOf", "targetRef": "group:ns1/team-a"}]  # row 10, de-duplicated
    assert [r for r in group["relations"] if r["type"] == "hasMember"] == [
        {"type": "hasMember", "targetRef": "user:ns1/jane"}
    ]


def test_dependency_without_kind_is_a_processing_error(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "dep.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: needs-db}
        spec: {type: service, lifecycle: production, owner: team-a, dependsOn: [db]}
        """,
    )
    catalog.register(path)
    catalog.settle()
    entity = catalog.entity("component:default/needs-db")
    assert entity is not None
    assert any("kind" in message for message in _status_messages(entity))


def test_failing_new_version_keeps_serving_the_last_good_one(catalog: CatalogHarness) -> None:
    path = catalog.write("c.yaml", component("keeper", description="good"))
    catalog.register(path)
    catalog.settle()
    good = catalog.entity("component:default/keeper")
    catalog.write(
        "c.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata:
          name: keeper
          description: broken
          tags: [Not-A-Valid-Tag]
        spec: {type: service, lifecycle: production, owner: team-a}
        """,
    )
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/keeper"})
    catalog.settle()
    served = catalog.entity("component:default/keeper")
    assert served["metadata"]["description"] == "good"  # row 13
    assert served["metadata"]["uid"] == good["metadata"]["uid"]
    items = served["status"]["items"]
    assert items[0]["type"] == "backstage.io/catalog-processing" and items[0]["level"] == "error"
    assert '"tags.0" is not valid' in items[0]["message"]


def test_orphan_strategy_keep_marks_removed_entities(catalog_keep: CatalogHarness) -> None:
    catalog = catalog_keep
    path = catalog.write("two.yaml", component("stays") + "---\n" + textwrap.dedent(component("goes")))
    catalog.register(path)
    catalog.settle()
    catalog.write("two.yaml", component("stays"))
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/stays"})
    catalog.settle()
    orphan = catalog.entity("component:default/goes")
    assert orphan["metadata"]["annotations"]["backstage.io/orphan"] == "true"  # row 14
    assert "backstage.io/orphan" not in catalog.entity("component:default/stays")["metadata"]["annotations"]


def test_orphan_strategy_delete_removes_them(catalog: CatalogHarness) -> None:
    path = catalog.write("two.yaml", component("stays") + "---\n" + textwrap.dedent(component("goes")))
    catalog.register(path)
    catalog.settle()
    recorder = catalog.recorder("catalog.entity")
    catalog.write("two.yaml", component("stays"))
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/stays"})
    catalog.settle()
    assert catalog.entity("component:default/goes") is None
    assert catalog.entity("component:default/stays") is not None
    assert {"action": "deleted", "entityRef": "component:default/goes"}.items() <= recorder.payloads[
        -1
    ].items()


def test_two_locations_emitting_one_ref_first_keeps_it(catalog: CatalogHarness) -> None:
    first = catalog.write("a/catalog-info.yaml", component("dup", description="from a"))
    second = catalog.write("b/catalog-info.yaml", component("dup", description="from b"))
    conflicts = catalog.recorder("experimental.catalog.conflict")
    catalog.register(first)
    catalog.settle()
    catalog.register(second)
    catalog.settle()
    for _ in range(2):  # refreshing both must not flip ownership (no flip-flopping)
        catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/dup"})
        catalog.settle()
    entity = catalog.entity("component:default/dup")
    assert entity["metadata"]["description"] == "from a"  # row 15
    assert entity["metadata"]["annotations"]["backstage.io/managed-by-location"] == f"file:{first}"
    assert any(
        item["level"] == "warning" and "ConflictError" in item["message"]
        for item in entity["status"]["items"]
    )
    assert conflicts.payloads and conflicts.payloads[0]["entityRef"] == "component:default/dup"


def test_refresh_reprocesses_and_unknown_ref_is_404(catalog: CatalogHarness) -> None:
    path = catalog.write("c.yaml", component("fresh"))
    catalog.register(path)
    catalog.settle()
    assert (
        catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/fresh"}).status_code
        == 200
    )
    missing = catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/missing"})
    assert missing.status_code == 404 and missing.json()["error"]["name"] == "NotFoundError"  # row 16


def test_locations_api_create_conflict_dry_run_list_delete(catalog: CatalogHarness) -> None:
    path = catalog.write("loc/catalog-info.yaml", component("located"))
    dry = catalog.client.post(
        "/api/catalog/locations?dryRun=true", json={"type": "file", "target": str(path)}
    )
    assert dry.status_code == 201
    assert [e["metadata"]["name"] for e in dry.json()["entities"]] == ["located"]
    assert catalog.client.get("/api/catalog/locations").json() == []  # dry run stored nothing
    created = catalog.register(path)
    location = created["location"]
    again = catalog.client.post("/api/catalog/locations", json={"type": "file", "target": str(path)})
    assert again.status_code == 409 and again.json()["error"]["name"] == "ConflictError"  # row 29
    refreshed = catalog.client.post(
        "/api/catalog/locations?onConflict=refresh", json={"type": "file", "target": str(path)}
    )
    assert refreshed.status_code == 201 and refreshed.json()["location"]["id"] == location["id"]
    listed = catalog.client.get("/api/catalog/locations").json()
    assert listed == [{"data": location}]  # row 30
    assert catalog.client.get(f"/api/catalog/locations/{location['id']}").json() == location
    catalog.settle()
    assert catalog.entity("component:default/located") is not None
    by_entity = catalog.client.get("/api/catalog/locations/by-entity/component/default/located")
    assert by_entity.json()["id"] == location["id"]
    recorder = catalog.recorder("catalog.entity")
    assert catalog.client.delete(f"/api/catalog/locations/{location['id']}").status_code == 204
    catalog.settle()
    assert catalog.entity("component:default/located") is None  # the whole tree is gone
    assert any(p["action"] == "deleted" for p in recorder.payloads)
    assert catalog.client.delete(f"/api/catalog/locations/{location['id']}").status_code == 404


def test_validate_entity(catalog: CatalogHarness) -> None:
    good = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "ok"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }
    url = "url:https://example.com/catalog-info.yaml"
    response = catalog.client.post("/api/catalog/validate-entity", json={"entity": good, "location": url})
    assert response.status_code == 200 and response.content == b""
    bad = {**good, "metadata": {"name": "Bad Name!"}}
    response = catalog.client.post("/api/catalog/validate-entity", json={"entity": bad, "location": url})
    assert response.status_code == 400  # row 31
    assert response.json()["errors"][0]["name"] == "InputError"
    assert '"metadata.name" is not valid' in response.json()["errors"][0]["message"]
    wrong_location = catalog.client.post(
        "/api/catalog/validate-entity", json={"entity": good, "location": "file:/x"}
    )
    assert wrong_location.status_code == 400


def test_ancestry_goes_from_the_entity_up_to_the_registered_location(catalog: CatalogHarness) -> None:
    catalog.write("team/svc.yaml", component("child"))
    root = catalog.write(
        "all.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {name: root-list}
        spec: {type: file, targets: [./team/svc.yaml]}
        """,
    )
    catalog.register(root)
    catalog.settle()
    ancestry = catalog.client.get("/api/catalog/entities/by-name/component/default/child/ancestry").json()
    assert ancestry["rootEntityRef"] == "component:default/child"  # row 32
    refs = {
        f"{i['entity']['kind']}:{i['entity']['metadata'].get('namespace', 'default')}/{i['entity']['metadata']['name']}".lower(): i
        for i in ancestry["items"]
    }
    assert refs["component:default/child"]["parentEntityRefs"] == ["location:default/root-list"]
    assert len(refs) == 3  # component, the root-list Location, the generated location


def test_readonly_catalog_refuses_location_changes(catalog_readonly: CatalogHarness) -> None:
    path = catalog_readonly.write("c.yaml", component("ro"))
    response = catalog_readonly.client.post(
        "/api/catalog/locations", json={"type": "file", "target": str(path)}
    )
    assert response.status_code == 403 and response.json()["error"]["name"] == "NotAllowedError"  # row 33


def test_text_substitution_reads_relative_to_the_entity(catalog: CatalogHarness) -> None:
    catalog.write("api/openapi.yaml", "openapi: 3.0.0\ninfo: {title: Pets, version: '1'}\n")
    path = catalog.write(
        "api/catalog-info.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata: {name: pets}
        spec:
          type: openapi
          lifecycle: production
          owner: team-a
          definition: {$text: ./openapi.yaml}
        """,
    )
    catalog.register(path)
    catalog.settle()
    api = catalog.entity("api:default/pets")
    assert api["spec"]["definition"].startswith("openapi: 3.0.0")  # row 11


def test_text_substitution_outside_the_root_fails_and_keeps_nothing_secret(
    catalog: CatalogHarness, tmp_path
) -> None:
    (tmp_path / "secret.txt").write_text("top secret")
    path = catalog.write(
        "api/catalog-info.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: API
        metadata: {name: leaky}
        spec: {type: openapi, lifecycle: production, owner: team-a, definition: {$text: ../../secret.txt}}
        """,
    )
    catalog.register(path)
    catalog.settle()
    assert catalog.entity("api:default/leaky") is None
    errors = catalog.client.get("/api/catalog/processing-errors").json()["items"]
    leaky = next(e for e in errors if e["entityRef"] == "api:default/leaky")
    assert "top secret" not in str(leaky)
    assert leaky["errors"][0]["name"] in ("NotAllowedError", "InputError")


def test_entity_events_for_create_update_delete(catalog: CatalogHarness) -> None:
    recorder = catalog.recorder("catalog.entity")
    path = catalog.write("c.yaml", component("evented"))
    created = catalog.register(path)
    catalog.settle()
    catalog.write("c.yaml", component("evented", description="v2"))
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/evented"})
    catalog.settle()
    catalog.client.delete(f"/api/catalog/locations/{created['location']['id']}")
    catalog.settle()
    actions = [
        (p["action"], p["entityRef"])
        for p in recorder.payloads
        if p["entityRef"] == "component:default/evented"
    ]
    assert actions == [
        ("created", "component:default/evented"),
        ("updated", "component:default/evented"),
        ("deleted", "component:default/evented"),
    ]


def test_delete_entity_by_uid(catalog: CatalogHarness) -> None:
    path = catalog.write("c.yaml", component("removable"))
    catalog.register(path)
    catalog.settle()
    uid = catalog.entity("component:default/removable")["metadata"]["uid"]
    assert catalog.client.get(f"/api/catalog/entities/by-uid/{uid}").status_code == 200
    assert catalog.client.delete(f"/api/catalog/entities/by-uid/{uid}").status_code == 204
    assert catalog.client.get(f"/api/catalog/entities/by-uid/{uid}").status_code == 404
    assert catalog.client.delete(f"/api/catalog/entities/by-uid/{uid}").status_code == 404


def test_unchanged_input_writes_nothing(catalog: CatalogHarness) -> None:
    path = catalog.write("c.yaml", component("quiet"))
    catalog.register(path)
    catalog.settle()
    etag = catalog.entity("component:default/quiet")["metadata"]["etag"]
    engine = catalog.service.engine
    changed_before = engine.stats.changed
    stitched_before = engine.stats.stitched
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/quiet"})
    catalog.settle()
    assert engine.stats.changed == changed_before
    assert engine.stats.stitched == stitched_before
    assert catalog.entity("component:default/quiet")["metadata"]["etag"] == etag


def test_an_outcome_of_a_superseded_claim_is_not_written(catalog: CatalogHarness) -> None:
    """A round claimed again meanwhile (refresh, saved file) loses to the newer round, whatever the write order."""
    catalog.register(catalog.write("a.yaml", component("one", description="first")))
    catalog.settle()
    catalog.service.engine.stop()
    store, orchestrator = catalog.service.store, catalog.service.engine.orchestrator
    with store.read_engine.connect() as connection:
        location_ref = connection.execute(
            sa.text("SELECT entity_ref FROM refresh_state WHERE entity_ref LIKE 'location:%'")
        ).scalar_one()

    def claim_and_process() -> list[tuple[Any, Any]]:
        assert store.refresh(location_ref, time.time())
        rows = [row for row in store.claim_due(10, time.time(), 60) if row.entity_ref == location_ref]
        assert len(rows) == 1
        row = rows[0]
        outcome = orchestrator.process(
            orjson.loads(row.unprocessed_entity), cache=row.cache, input_hash=row.unprocessed_hash
        )
        return [(row, outcome)]

    catalog.write("a.yaml", component("one", description="middle"))
    older = claim_and_process()  # reads "middle"
    catalog.write("a.yaml", component("one", description="second"))
    newer = claim_and_process()  # reads "second"
    assert older[0][0].claim_token != newer[0][0].claim_token
    assert store.write_outcomes(newer, time.time()) == 1
    assert store.write_outcomes(older, time.time()) == 0  # superseded: nothing written
    catalog.settle()
    assert catalog.entity("component:default/one")["metadata"]["description"] == "second"
