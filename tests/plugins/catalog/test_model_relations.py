"""Relations (checklist rows 8-10), spec sorting, annotations and placeholder detection (row 11)."""

from __future__ import annotations

import pytest

from greenroom.plugins.catalog.model import (
    BUILTIN_RELATION_RULES,
    RELATION_PAIRS,
    RELATION_TITLES,
    REVERSE_RELATION,
    KindRegistry,
    Relation,
    RelationRule,
    find_placeholders,
    merge_relations,
    pre_process_sort,
    relations_for,
    relations_from,
    sanitize_annotation_urls,
)
from greenroom.plugins.catalog.model.annotations import ANNOTATION_EDIT_URL, ANNOTATION_VIEW_URL


def entity(kind: str, name: str, spec: dict, namespace: str | None = None) -> dict:
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


def test_row8_owner_in_own_namespace_both_directions():
    component = entity(
        "Component", "Petstore", {"type": "service", "lifecycle": "p", "owner": "team-a"}, "ns1"
    )
    relations, errors = relations_for(component)
    assert errors == []
    assert relations == [
        Relation("component:ns1/petstore", "ownedBy", "group:ns1/team-a"),
        Relation("group:ns1/team-a", "ownerOf", "component:ns1/petstore"),
    ]
    assert relations[0].as_entity_relation() == {"type": "ownedBy", "targetRef": "group:ns1/team-a"}


def test_row9_depends_on_requires_a_kind():
    component = entity("Component", "c", {"owner": "user:jdoe", "dependsOn": ["resource:db", "db"]})
    relations, errors = relations_for(component)
    assert Relation("component:default/c", "dependsOn", "resource:default/db") in relations
    assert Relation("resource:default/db", "dependencyOf", "component:default/c") in relations
    assert Relation("component:default/c", "ownedBy", "user:default/jdoe") in relations
    [error] = errors
    assert error.field == "spec.dependsOn.1"
    assert error.message == (
        'spec.dependsOn.1: Entity reference "db" had missing or empty kind '
        '(e.g. did not start with "component:" or similar)'
    )


def test_dependency_of_is_the_mirror_of_depends_on():
    resource = entity(
        "Resource", "db", {"type": "database", "owner": "o", "dependencyOf": ["component:x/app"]}
    )
    relations, _ = relations_for(resource)
    assert Relation("resource:default/db", "dependencyOf", "component:x/app") in relations
    assert Relation("component:x/app", "dependsOn", "resource:default/db") in relations


def test_row10_member_of_and_members_meet_in_the_final_entity():
    user, _ = relations_for(entity("User", "u", {"memberOf": ["g"]}))
    group, _ = relations_for(entity("Group", "g", {"type": "team", "children": [], "members": ["u"]}))
    merged = merge_relations(user + group)
    assert merged == [
        Relation("group:default/g", "hasMember", "user:default/u"),
        Relation("user:default/u", "memberOf", "group:default/g"),
    ]
    assert relations_from("user:default/u", user + group) == [
        {"type": "memberOf", "targetRef": "group:default/g"}
    ]


def test_duplicate_declarations_within_one_entity_are_emitted_once():
    component = entity("Component", "c", {"owner": "o", "providesApis": ["a", "api:default/a", "A"]})
    relations, _ = relations_for(component)
    assert relations.count(Relation("component:default/c", "providesApi", "api:default/a")) == 1
    assert len(relations) == 4


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        ("Component", {"subcomponentOf": "parent"}, ("partOf", "component:default/parent")),
        ("Component", {"consumesApis": ["x"]}, ("consumesApi", "api:default/x")),
        ("Component", {"system": "s"}, ("partOf", "system:default/s")),
        ("API", {"system": "s"}, ("partOf", "system:default/s")),
        ("System", {"domain": "d"}, ("partOf", "domain:default/d")),
        ("Domain", {"subdomainOf": "d"}, ("partOf", "domain:default/d")),
        ("Group", {"parent": "p"}, ("childOf", "group:default/p")),
        ("Group", {"children": ["c"]}, ("parentOf", "group:default/c")),
        ("Group", {"members": ["m"]}, ("hasMember", "user:default/m")),
        ("Resource", {"system": "other/s"}, ("partOf", "system:other/s")),
    ],
)
def test_builtin_table(kind, spec, expected):
    relations, errors = relations_for(entity(kind, "self", spec))
    self_ref = f"{kind.lower()}:default/self"
    relation_type, target = expected
    assert errors == []
    assert relations == [
        Relation(self_ref, relation_type, target),
        Relation(target, REVERSE_RELATION[relation_type], self_ref),
    ]


def test_invalid_refs_name_the_field_and_other_relations_survive():
    relations, errors = relations_for(
        entity("Component", "c", {"owner": "a:/b", "system": 5, "providesApis": ["x"]})
    )
    assert [error.field for error in errors] == ["spec.owner", "spec.system"]
    assert errors[0].message.startswith('spec.owner: Entity reference "a:/b" was not on the form')
    assert Relation("component:default/c", "providesApi", "api:default/x") in relations


def test_kinds_without_rules_and_location_have_no_relations():
    assert relations_for(entity("Location", "l", {"target": "./x.yaml"})) == ([], [])


def test_custom_relation_rules():
    registry = KindRegistry.default()
    rule = RelationRule("Cluster", "spec.runsOn", "Resource", "dependsOn", "dependencyOf")
    registry.register("Cluster", ["acme.io/v1"], {}, [rule])
    registry.add_relation_rules(
        [RelationRule("Component", "spec.deployedTo", "Cluster", "dependsOn", "dependencyOf")]
    )
    cluster = {
        "apiVersion": "acme.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "k"},
        "spec": {"runsOn": "vm"},
    }
    assert relations_for(cluster, registry)[0][0] == Relation(
        "cluster:default/k", "dependsOn", "resource:default/vm"
    )
    component = entity("Component", "c", {"deployedTo": "k"})
    assert (
        Relation("component:default/c", "dependsOn", "cluster:default/k")
        in relations_for(component, registry)[0]
    )
    assert relations_for(component)[0] == []


def test_relation_pairs_and_titles():
    assert len(RELATION_PAIRS) == 7
    assert RELATION_TITLES["ownedBy"] == "owned by" and RELATION_TITLES["ownerOf"] == "owner of"
    for rule in BUILTIN_RELATION_RULES:
        assert REVERSE_RELATION[rule.forward_type] == rule.reverse_type


def test_pre_process_sort_sorts_only_the_documented_arrays():
    raw = entity(
        "Component",
        "c",
        {
            "providesApis": ["b", "a"],
            "dependsOn": ["resource:z", "resource:a"],
            "tags": ["z", "a"],
            "owner": "o",
        },
    )
    sorted_entity = pre_process_sort(raw)
    assert sorted_entity["spec"]["providesApis"] == ["a", "b"]
    assert sorted_entity["spec"]["dependsOn"] == ["resource:a", "resource:z"]
    assert sorted_entity["spec"]["tags"] == ["z", "a"]
    assert raw["spec"]["providesApis"] == ["b", "a"]  # input untouched
    assert pre_process_sort(sorted_entity) is sorted_entity


def test_pre_process_sort_uses_javascript_code_unit_order():
    raw = entity("User", "u", {"memberOf": ["\U0001f600", "\uff5e"]})
    # UTF-16: U+1F600 is D83D DE00, which sorts before U+FF5E (code point order would say otherwise).
    assert pre_process_sort(raw)["spec"]["memberOf"] == ["\U0001f600", "\uff5e"]


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "  JavaScript:alert(1)", "java\tscript:alert(1)", "\x01javascript:x"]
)
def test_script_view_and_edit_urls_are_replaced(url):
    raw = entity("Component", "c", {})
    raw["metadata"]["annotations"] = {
        ANNOTATION_VIEW_URL: url,
        ANNOTATION_EDIT_URL: "https://ok.example",
        "x": url,
    }
    safe = sanitize_annotation_urls(raw)
    annotations = safe["metadata"]["annotations"]
    assert annotations[ANNOTATION_VIEW_URL] == "https://backstage.io/annotation-rejected-for-security-reasons"
    assert annotations[ANNOTATION_EDIT_URL] == "https://ok.example"
    assert annotations["x"] == url
    assert raw["metadata"]["annotations"][ANNOTATION_VIEW_URL] == url


def test_safe_annotations_are_returned_unchanged():
    raw = entity("Component", "c", {})
    raw["metadata"]["annotations"] = {ANNOTATION_VIEW_URL: "https://github.com/a/b"}
    assert sanitize_annotation_urls(raw) is raw


def test_row11_placeholder_detection():
    raw = entity(
        "API",
        "a",
        {
            "definition": {"$text": "./api.yaml"},
            "schemas": [{"$json": "./s.json"}, {"$yaml": "./t.yaml"}],
            "not-a-placeholder": {"$text": "x", "other": 1},
            "unknown": {"$openapi": "./x.yaml"},
            "nested": {"deeper": {"$text": "https://host/x.md"}},
        },
    )
    assert find_placeholders(raw) == [
        ("spec.definition", "text", "./api.yaml"),
        ("spec.schemas.0", "json", "./s.json"),
        ("spec.schemas.1", "yaml", "./t.yaml"),
        ("spec.nested.deeper", "text", "https://host/x.md"),
    ]
    assert find_placeholders(raw, resolvers={"openapi"}) == [("spec.unknown", "openapi", "./x.yaml")]
