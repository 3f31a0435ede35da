"""Entity validation: checklist rows 1-5, message texts, kind schemas and custom kinds."""

from __future__ import annotations

import copy

import pytest

from greenroom.plugins.catalog.model import (
    EntityValidationErrors,
    KindRegistry,
    is_valid_annotation_key,
    is_valid_api_version,
    is_valid_dns_subdomain,
    is_valid_entity_name,
    is_valid_kind,
    is_valid_label_value,
    is_valid_tag,
    is_valid_url,
    prepare_entity,
    validate_entity,
)

LEARN_MORE = (
    " To learn more about catalog file format, visit: "
    "https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/"
    "adr002-default-catalog-file-format.md"
)


def component(**metadata) -> dict:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "petstore", **metadata},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"},
    }


def fields(errors) -> list[str]:
    return [error.field for error in errors]


def test_valid_component_has_no_errors():
    assert validate_entity(component(tags=["java"], annotations={"backstage.io/techdocs-ref": "dir:."})) == []


def test_row1_names():
    assert validate_entity(component(name="Foo_Bar.1")) == []
    for bad in ("-foo", "foo-", "a" * 64, "foo bar", ""):
        errors = validate_entity(component(name=bad))
        assert fields(errors) == ["metadata.name"], bad
    [error] = validate_entity(component(name="-foo"))
    assert error.message == (
        '"metadata.name" is not valid; expected a string that is sequences of [a-zA-Z0-9] separated by '
        'any of [-_.], at most 63 characters in total but found "-foo".' + LEARN_MORE
    )
    assert error.value == "-foo"


def test_row2_namespace_is_a_lower_case_dns_label_and_defaults():
    [error] = validate_entity(component(namespace="Team-A"))
    assert error.field == "metadata.namespace"
    assert error.message.startswith(
        '"metadata.namespace" is not valid; expected a string that is sequences of [a-z0-9] separated by '
        '[-], at most 63 characters in total but found "Team-A".'
    )
    prepared = prepare_entity(component())
    assert prepared["metadata"]["namespace"] == "default"
    assert prepare_entity(component(namespace="ops"))["metadata"]["namespace"] == "ops"


def test_prepare_entity_returns_a_new_dict_and_raises_with_every_error():
    raw = component()
    prepared = prepare_entity(raw)
    assert prepared is not raw and "namespace" not in raw["metadata"]
    with pytest.raises(EntityValidationErrors) as caught:
        prepare_entity(component(name="-x", namespace="A"))
    assert fields(caught.value.errors) == ["metadata.name", "metadata.namespace"]
    assert caught.value.status_code == 400


def test_row3_tags():
    assert validate_entity(component(tags=["c++", "lang:go", "c#", "a-b"])) == []
    errors = validate_entity(component(tags=["ok", "Java", "a--b"]))
    assert fields(errors) == ["metadata.tags.1", "metadata.tags.2"]
    assert errors[0].message.startswith(
        '"tags.1" is not valid; expected a string that is sequences of [a-z0-9+#] separated by [-], '
        'at most 63 characters in total but found "Java".'
    )
    assert is_valid_tag("lang:go") and not is_valid_tag("lang:go", allow_colon=False)


def test_row4_annotations():
    assert validate_entity(component(annotations={"example.com/my-key": "any value at all: {}[]"})) == []
    [error] = validate_entity(component(annotations={"a/b/c": "x"}))
    assert error.field == "metadata.annotations.a/b/c"
    assert error.message.startswith('"annotations.a/b/c" is not valid; expected a valid prefix and/or suffix')
    assert is_valid_annotation_key("backstage.io/techdocs-ref")
    assert not is_valid_annotation_key("Example.com/key")


def test_annotation_value_must_be_a_string():
    errors = validate_entity(component(annotations={"a": 5}))
    assert fields(errors) == ["metadata.annotations.a"]


def test_labels():
    assert validate_entity(component(labels={"tier": "gold", "example.com/x": ""})) == []
    errors = validate_entity(component(labels={"tier": "not valid!"}))
    assert fields(errors) == ["metadata.labels.tier"]
    assert '"labels.tier" is not valid' in errors[0].message
    assert is_valid_label_value("") and not is_valid_label_value("-a")


@pytest.mark.parametrize("root_field", ["relations", "status", "foo"])
def test_row5_foreign_root_fields(root_field):
    entity = component()
    entity[root_field] = []
    errors = validate_entity(entity)
    assert [error.message for error in errors] == [f"Unknown field '{root_field}'"]
    assert errors[0].field == root_field


def test_links():
    good = [{"url": "https://admin.example.com", "title": "Admin", "icon": "dashboard", "type": "admin"}]
    assert validate_entity(component(links=good)) == []
    errors = validate_entity(
        component(
            links=[{"url": "not a url"}, {"url": "https://x.example", "title": "  "}, {"url": "mailto:a@b"}]
        )
    )
    assert fields(errors) == ["metadata.links.0.url", "metadata.links.1.title"]
    assert errors[0].message.startswith(
        '"links.0.url" is not valid; expected a string that is a valid url but found "not a url".'
    )
    assert errors[1].message.startswith(
        '"links.1.title" is not valid; expected a non empty string but found "  "'
    )
    assert fields(validate_entity(component(links=[{"title": "no url"}]))) == ["metadata.links.0.url"]


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://example.com", True),
        ("https://example.com:8080/path?q=1#x", True),
        ("http://user:pw@host/x", True),
        ("https://[::1]:3000/", True),
        ("mailto:someone@example.com", True),
        ("file:///etc/hosts", True),
        ("https:example.com", True),
        ("example.com", False),
        ("/relative/path", False),
        ("https://", False),
        ("https://exa mple.com", False),
        ("https://example.com:99999", False),
        ("", False),
    ],
)
def test_url_validator_follows_the_url_standard(url, valid):
    assert is_valid_url(url) is valid


def test_simple_validators():
    assert is_valid_api_version("backstage.io/v1alpha1") and is_valid_api_version("v1")
    assert not is_valid_api_version("a/b/c") and not is_valid_api_version("backstage.io/")
    assert is_valid_kind("Component") and not is_valid_kind("1Component") and not is_valid_kind("a-b")
    assert is_valid_entity_name("a") and not is_valid_entity_name(5)
    assert is_valid_dns_subdomain("a.b-c.d") and not is_valid_dns_subdomain("a..b")
    assert not is_valid_dns_subdomain("a" * 254)


def test_envelope_problems():
    errors = validate_entity({"kind": "Component", "metadata": {"name": "x"}})
    assert any(error.field == "apiVersion" and error.message == "apiVersion is required" for error in errors)
    errors = validate_entity({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": "x"})
    assert errors[0].field == "metadata" and errors[0].message == "metadata: must be an object"
    assert validate_entity([1, 2])[0].message == "Entity must be an object, found a list"


def test_schema_errors_name_the_field():
    entity = component()
    entity["spec"]["owner"] = 5
    errors = validate_entity(entity)
    assert [(error.field, error.message) for error in errors] == [
        ("spec.owner", "spec.owner: must be a string")
    ]
    del entity["spec"]["type"]
    entity["spec"]["owner"] = "x"
    assert [error.message for error in validate_entity(entity)] == ["spec.type is required"]
    entity["spec"] = {}
    assert [error.field for error in validate_entity(entity)] == ["spec.type", "spec.lifecycle", "spec.owner"]
    entity["spec"] = {"type": "s", "lifecycle": "p", "owner": "o", "providesApis": ["a", 3]}
    assert [error.field for error in validate_entity(entity)] == ["spec.providesApis.1"]


def test_unknown_kind_or_api_version():
    entity = component()
    entity["kind"] = "Widget"
    [error] = validate_entity(entity)
    assert error.message == (
        "No processor recognized the entity widget:default/petstore as valid, "
        "possibly caused by a foreign kind or apiVersion"
    )
    entity = component()
    entity["apiVersion"] = "backstage.io/v2"
    assert [error.field for error in validate_entity(entity)] == ["kind"]
    entity = component()
    entity["kind"] = "component"  # kinds match case-sensitively, as in Backstage's kind schemas
    assert [error.field for error in validate_entity(entity)] == ["kind"]


BUILTIN_EXAMPLES = [
    (
        "API",
        {"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": "openapi: 3.0.0"},
    ),
    (
        "API",
        {
            "type": "mcp-server",
            "lifecycle": "p",
            "owner": "o",
            "remotes": [{"type": "sse", "url": "https://x"}],
        },
    ),
    ("Resource", {"type": "database", "owner": "team-a", "dependsOn": ["resource:x"]}),
    ("System", {"owner": "team-a", "domain": "payments"}),
    ("Domain", {"owner": "group:finance", "subdomainOf": "root"}),
    ("Group", {"type": "team", "children": [], "profile": {"displayName": "Team A"}}),
    ("User", {"memberOf": [], "profile": {"email": "j@example.com"}}),
    ("Location", {"type": "url", "targets": ["./a.yaml"], "presence": "optional"}),
    ("Location", {}),
]


@pytest.mark.parametrize(("kind", "spec"), BUILTIN_EXAMPLES)
def test_builtin_kinds_accept_documented_specs(kind, spec):
    entity = {"apiVersion": "backstage.io/v1beta1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    assert validate_entity(entity) == []


@pytest.mark.parametrize(
    ("kind", "spec", "field"),
    [
        ("API", {"type": "openapi", "lifecycle": "p", "owner": "o"}, "spec.definition"),
        ("API", {"type": "mcp-server", "lifecycle": "p", "owner": "o"}, "spec.remotes"),
        ("API", {"type": "mcp-server", "lifecycle": "p", "owner": "o", "remotes": []}, "spec.remotes"),
        ("Group", {"type": "team"}, "spec.children"),
        ("User", {}, "spec.memberOf"),
        ("System", {}, "spec.owner"),
        ("Location", {"presence": "sometimes"}, "spec.presence"),
        ("Resource", {"type": "db"}, "spec.owner"),
    ],
)
def test_builtin_kinds_reject_missing_or_bad_fields(kind, spec, field):
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    assert [error.field for error in validate_entity(entity)] == [field]


def test_template_kind():
    template = {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {"name": "new-service"},
        "spec": {
            "type": "service",
            "owner": "team-a",
            "parameters": [{"title": "Name", "properties": {"name": {"type": "string"}}}],
            "steps": [{"id": "fetch", "action": "fetch:template", "input": {"url": "./skeleton"}}],
        },
    }
    assert validate_entity(template) == []
    broken = copy.deepcopy(template)
    broken["spec"]["steps"] = [{"id": "x"}]
    assert [error.field for error in validate_entity(broken)] == ["spec.steps.0.action"]
    wrong_version = copy.deepcopy(template)
    wrong_version["apiVersion"] = "backstage.io/v1alpha1"
    assert [error.field for error in validate_entity(wrong_version)] == ["kind"]


def test_case_duplicate_keys_are_rejected():
    entity = component()
    entity["spec"]["Type"] = "other"
    [error] = validate_entity(entity)
    assert error.message == "Entity has duplicate keys that vary only in casing: spec.type and spec.Type"
    entity = component(links=[{"url": "https://a.example"}, {"URL": "https://b.example", "url": "https://b"}])
    assert any(
        "metadata.links.url and metadata.links.URL" in error.message for error in validate_entity(entity)
    )
    assert validate_entity(component(annotations={"a.example/x": "1", "b.example/x": "2"})) == []


def test_custom_kind_registration():
    registry = KindRegistry.default()
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {"type": "object", "required": ["region"], "properties": {"region": {"type": "string"}}}
        },
    }
    registry.register("Cluster", ["acme.io/v1"], schema)
    cluster = {
        "apiVersion": "acme.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "eu-1"},
        "spec": {"region": "eu"},
    }
    assert validate_entity(cluster, kinds=registry) == []
    assert [error.field for error in validate_entity(cluster)] == ["kind"]  # not in the default registry
    cluster["spec"] = {}
    assert [error.message for error in validate_entity(cluster, kinds=registry)] == [
        "spec.region is required"
    ]
    cluster["metadata"]["name"] = "-bad"  # envelope rules still apply to custom kinds
    assert "metadata.name" in [error.field for error in validate_entity(cluster, kinds=registry)]
    assert "Component" in registry and "Cluster" not in KindRegistry.default()


def test_registering_mismatched_relation_rule_fails():
    from greenroom.plugins.catalog.model import RelationRule

    with pytest.raises(ValueError):
        KindRegistry().register(
            "A", ["x/v1"], {}, [RelationRule("B", "spec.owner", "Group", "ownedBy", "ownerOf")]
        )
