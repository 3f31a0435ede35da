"""Entity and location references (checklist rows 6 and 7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenroom.plugins.catalog.model import (
    CompoundEntityRef,
    EntityRefError,
    LocationRefError,
    entity_ref_of,
    parse_entity_ref,
    parse_location_ref,
    stringify_entity_ref,
    stringify_location_ref,
)


def test_row6_default_namespace_from_context():
    assert parse_entity_ref("group:team-a", default_namespace="ns1") == CompoundEntityRef(
        "group", "ns1", "team-a"
    )


def test_row6_slash_before_colon_means_the_colon_is_part_of_the_name():
    ref = parse_entity_ref("a/b:c", default_kind="component")
    assert ref == CompoundEntityRef("component", "a", "b:c")
    with pytest.raises(EntityRefError, match="had missing or empty kind"):
        parse_entity_ref("a/b:c")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("component:default/foo", ("component", "default", "foo")),
        ("Component:Foo", ("Component", "default", "Foo")),
        ("ns/foo", ("Group", "ns", "foo")),
        ("foo", ("Group", "default", "foo")),
        ("a:b:c", ("a", "default", "b:c")),
        ("k:ns/name/with/slashes", ("k", "ns", "name/with/slashes")),
    ],
)
def test_short_forms_and_original_case_is_kept(text, expected):
    assert parse_entity_ref(text, default_kind="Group") == CompoundEntityRef(*expected)


@pytest.mark.parametrize("text", [":foo", "k:/foo", "k:ns/", "/foo", "ns/", "k:"])
def test_empty_parts_are_rejected_with_backstage_message(text):
    with pytest.raises(EntityRefError) as caught:
        parse_entity_ref(text, default_kind="x")
    assert str(caught.value) == f'Entity reference "{text}" was not on the form [<kind>:][<namespace>/]<name>'


def test_missing_kind_message_matches_backstage():
    with pytest.raises(EntityRefError) as caught:
        parse_entity_ref("db")
    assert str(caught.value) == (
        'Entity reference "db" had missing or empty kind (e.g. did not start with "component:" or similar)'
    )


def test_ref_errors_are_value_errors_and_empty_ref_rejected():
    with pytest.raises(ValueError, match="must not be empty"):
        parse_entity_ref("")


def test_mapping_input_and_defaults():
    assert parse_entity_ref({"kind": "User", "name": "jdoe"}) == CompoundEntityRef("User", "default", "jdoe")
    assert parse_entity_ref({"name": "x"}, default_kind="API", default_namespace="n") == CompoundEntityRef(
        "API", "n", "x"
    )
    with pytest.raises(EntityRefError, match="missing or empty namespace"):
        parse_entity_ref({"kind": "User", "namespace": "", "name": "x"})


def test_row7_stringify_lower_cases_everything():
    assert (
        stringify_entity_ref({"kind": "Component", "namespace": "Default", "name": "Foo"})
        == "component:default/foo"
    )
    assert stringify_entity_ref(CompoundEntityRef("API", "NS", "Pet")) == "api:ns/pet"
    assert stringify_entity_ref({"kind": "User", "name": "X"}) == "user:default/x"


def test_entity_ref_of_defaults_namespace():
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "Petstore"}}
    assert entity_ref_of(entity) == "component:default/petstore"
    entity["metadata"]["namespace"] = "Ops"
    assert stringify_entity_ref(entity) == "component:ops/petstore"


_ALPHABET = st.characters(codec="ascii", exclude_characters=":/", min_codepoint=33)
_part = st.text(_ALPHABET, min_size=1, max_size=20)


@given(
    _part, _part, st.text(st.characters(codec="ascii", exclude_characters="/", min_codepoint=33), min_size=1)
)
def test_round_trip_full_form(kind, namespace, name):
    compound = CompoundEntityRef(kind, namespace, name)
    text = f"{kind}:{namespace}/{name}"
    assert parse_entity_ref(text) == compound
    assert stringify_entity_ref(parse_entity_ref(stringify_entity_ref(compound))) == stringify_entity_ref(
        compound
    )


@given(_part, _part)
def test_round_trip_short_forms(kind, name):
    assert parse_entity_ref(f"{kind}:{name}") == CompoundEntityRef(kind, "default", name)
    assert stringify_entity_ref(parse_entity_ref(name, default_kind=kind)) == f"{kind}:default/{name}".lower()


def test_location_refs():
    assert parse_location_ref("url:https://github.com/a/b/blob/main/catalog-info.yaml") == (
        "url",
        "https://github.com/a/b/blob/main/catalog-info.yaml",
    )
    assert parse_location_ref("  file :  ./x.yaml ") == ("file", "./x.yaml")
    assert stringify_location_ref("bootstrap", "bootstrap") == "bootstrap:bootstrap"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("https://example.com/x.yaml", "please prefix it with 'url:'"),
        ("http://example.com/x.yaml", "please prefix it with 'url:'"),
        ("url:javascript:alert(1)", "javascript: URL"),
        ("url: JavaScript :alert(1)", "javascript: URL"),
        ("nocolon", "expected '<type>:<target>'"),
        (":target", "expected '<type>:<target>'"),
        ("url:  ", "expected '<type>:<target>'"),
    ],
)
def test_bad_location_refs(text, fragment):
    with pytest.raises(LocationRefError) as caught:
        parse_location_ref(text)
    assert fragment in str(caught.value)


def test_stringify_location_ref_rejects_empty_and_script():
    for location_type, target in (("", "x"), ("url", ""), ("url", "javascript:x")):
        with pytest.raises(LocationRefError):
            stringify_location_ref(location_type, target)
