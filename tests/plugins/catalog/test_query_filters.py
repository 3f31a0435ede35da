"""Filter strings and predicates parse to one AST that selects the right entities in SQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from greenroom.core.errors import InputError
from greenroom.plugins.catalog.query.filters import (
    AllOf,
    AnyOf,
    ContainsRelation,
    FieldMatch,
    Filter,
    MatchNothing,
    Not,
    filter_to_id_select,
    filter_to_predicate,
    filter_to_probe,
    parse_filter_params,
    parse_predicate,
)
from greenroom.plugins.catalog.tables import final_entities

from ._query_support import component, engine_fixture, insert_entities

engine = engine_fixture()


# --- parsing --------------------------------------------------------------------------------------


def test_filter_params_sets_are_ored_conditions_anded() -> None:
    parsed = parse_filter_params(["kind=user, metadata.namespace=default", "kind=group,spec.type"])
    assert parsed == AnyOf(
        (
            AllOf((FieldMatch("kind", ("user",)), FieldMatch("metadata.namespace", ("default",)))),
            AllOf((FieldMatch("kind", ("group",)), FieldMatch("spec.type"))),
        )
    )


def test_filter_params_repeated_key_ors_values_and_empty_value() -> None:
    assert parse_filter_params(["kind=user,kind=group"]) == FieldMatch("kind", ("user", "group"))
    assert parse_filter_params(["spec.type="]) == FieldMatch("spec.type", ("",))
    assert parse_filter_params(["a=b=c"]) == FieldMatch("a", ("b=c",))
    assert parse_filter_params([]) is None
    assert parse_filter_params([" , "]) is None


def test_filter_params_empty_key_is_input_error() -> None:
    with pytest.raises(
        InputError,
        match=r"Invalid filter, '=x' is not a valid statement \(expected a string on the form a=b or a= or a\)",
    ):
        parse_filter_params(["kind=a,=x"])


def test_predicate_parsing() -> None:
    assert parse_predicate({}) == AllOf(())
    assert parse_predicate({"kind": "Component", "spec.x": 3}) == AllOf(
        (FieldMatch("kind", ("Component",)), FieldMatch("spec.x", ("3",)))
    )
    assert parse_predicate({"a": True}) == FieldMatch("a", ("true",))
    assert parse_predicate({"$not": {"a": {"$exists": False}}}) == Not(FieldMatch("a", exists=False))
    assert parse_predicate({"a": {"$hasPrefix": "x"}}) == FieldMatch("a", prefix="x")
    assert parse_predicate({"a": {"$frob": 1}}) == MatchNothing()
    assert parse_predicate({"$frob": []}) == MatchNothing()
    assert parse_predicate(
        {"relations": {"$contains": {"type": "ownedBy", "targetRef": {"$in": ["g:a/b"]}}}}
    ) == (ContainsRelation("ownedBy", ("g:a/b",)))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ([], "must be an object"),
        ("kind=x", "must be an object"),
        ({"$all": {}}, "'\\$all' expects an array"),
        ({"$all": [], "kind": "x"}, "must be the only key"),
        ({"$any": [1]}, r"query.\$any\[0\]: expected an object"),
        ({"kind": None}, "query.kind: expected a string"),
        ({"kind": ["a"]}, "query.kind: expected a string"),
        ({"kind": {"$in": "a"}}, r"query.kind.\$in: expected an array"),
        ({"kind": {"$exists": "yes"}}, "expected a boolean"),
        ({"kind": {"$hasPrefix": 1}}, "expected a string"),
        ({"kind": {"value": 1}}, "'value' is not an operator"),
        ({"": 1}, "empty field name"),
        ({"relations": {"$contains": {"type": "a", "bogus": 1}}}, "unknown relation field 'bogus'"),
    ],
)
def test_malformed_predicates_name_the_problem(query: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_predicate(query)


@pytest.mark.parametrize(
    "f",
    [
        AnyOf((AllOf((FieldMatch("kind", ("a", "b")), FieldMatch("x"))), Not(FieldMatch("y", prefix="p")))),
        FieldMatch("z", exists=False),
        FieldMatch("z", ("q",), exists=False),
        ContainsRelation("ownedBy", ("group:default/a",)),
        ContainsRelation(None, None),
        MatchNothing(),
    ],
)
def test_filters_round_trip_through_predicates(engine: sa.Engine, f: Filter) -> None:
    insert_entities(engine, [component("a", type="x")])
    reparsed = parse_predicate(filter_to_predicate(f))
    assert _refs(engine, reparsed) == _refs(engine, f)


# --- SQL --------------------------------------------------------------------------------------------


def _refs(engine: sa.Engine, f: Filter | None) -> set[str]:
    """The refs a filter matches, through both compilations the queries use (they must agree)."""
    statement = sa.select(final_entities.c.entity_ref)
    if f is None:
        with engine.connect() as connection:
            return set(connection.execute(statement).scalars())
    as_set = statement.where(final_entities.c.entity_id.in_(filter_to_id_select(f)))
    as_probe = statement.where(filter_to_probe(f, final_entities.c.entity_id, engine.dialect.name))
    with engine.connect() as connection:
        matched = set(connection.execute(as_set).scalars())
        assert set(connection.execute(as_probe).scalars()) == matched
    return matched


@pytest.fixture
def catalog(engine: sa.Engine) -> sa.Engine:
    insert_entities(
        engine,
        [
            component(
                "petstore",
                type="service",
                tags=["java", "web"],
                relations=[{"type": "ownedBy", "targetRef": "group:default/team-a"}],
                annotations={"github.com/project-slug": "org/petstore"},
            ),
            component(
                "pet_finder",
                type="Website",
                tags=["python"],
                relations=[{"type": "ownedBy", "targetRef": "group:default/team-b"}],
            ),
            component("zebra", type="library", replicas=3, public=True),
            component("jdoe", kind="User", memberOf=["team-a"]),
            component("ann", kind="User", namespace="other"),
            component("team-a", kind="Group", type="team"),
            component("team-b", kind="Group"),
        ],
    )
    return engine


def test_checklist_18_sets_or_and_case_insensitive(catalog: sa.Engine) -> None:
    f = parse_filter_params(["KIND=User,metadata.namespace=DEFAULT", "kind=group,spec.type"])
    assert _refs(catalog, f) == {"user:default/jdoe", "group:default/team-a"}
    assert _refs(catalog, parse_filter_params(["kind=user,kind=GROUP"])) == {
        "user:default/jdoe",
        "user:other/ann",
        "group:default/team-a",
        "group:default/team-b",
    }


def test_checklist_19_tags_and_relations(catalog: sa.Engine) -> None:
    assert _refs(catalog, parse_filter_params(["metadata.tags.java"])) == {"component:default/petstore"}
    assert _refs(catalog, parse_filter_params(["metadata.tags=PYTHON"])) == {"component:default/pet_finder"}
    assert _refs(catalog, parse_filter_params(["relations.ownedby=group:default/team-a"])) == {
        "component:default/petstore"
    }
    assert _refs(catalog, parse_filter_params(["relations.ownedBy=Group:Default/Team-B"])) == {
        "component:default/pet_finder"
    }


def test_exists_and_scalars(catalog: sa.Engine) -> None:
    assert _refs(catalog, parse_filter_params(["spec.replicas=3"])) == {"component:default/zebra"}
    assert _refs(catalog, parse_predicate({"spec.replicas": 3, "spec.public": True})) == {
        "component:default/zebra"
    }
    assert _refs(catalog, parse_filter_params(["spec.memberof"])) == {"user:default/jdoe"}
    assert _refs(catalog, parse_filter_params(["spec.type="])) == set()


def test_checklist_28_predicate_operators(catalog: sa.Engine) -> None:
    q = {"$all": [{"kind": "component"}, {"spec.type": {"$in": ["service", "website"]}}]}
    assert _refs(catalog, parse_predicate(q)) == {
        "component:default/petstore",
        "component:default/pet_finder",
    }
    q = {"$any": [{"kind": "group"}, {"metadata.name": "zebra"}]}
    assert _refs(catalog, parse_predicate(q)) == {
        "group:default/team-a",
        "group:default/team-b",
        "component:default/zebra",
    }
    q = {"kind": "component", "$not": {"spec.type": "library"}}
    with pytest.raises(InputError):
        parse_predicate(q)
    q = {"$all": [{"kind": "component"}, {"$not": {"spec.type": "library"}}]}
    assert _refs(catalog, parse_predicate(q)) == {
        "component:default/petstore",
        "component:default/pet_finder",
    }
    q = {"kind": "user", "spec.memberOf": {"$exists": False}}
    assert _refs(catalog, parse_predicate(q)) == {"user:other/ann"}
    q = {"metadata.annotations.github.com/project-slug": {"$exists": True}}
    assert _refs(catalog, parse_predicate(q)) == {"component:default/petstore"}
    assert _refs(catalog, parse_predicate({"metadata.name": {"$hasPrefix": "PET"}})) == {
        "component:default/petstore",
        "component:default/pet_finder",
    }
    # `_` is a literal in a prefix, not a LIKE wildcard
    assert _refs(catalog, parse_predicate({"metadata.name": {"$hasPrefix": "pet_"}})) == {
        "component:default/pet_finder"
    }
    assert _refs(catalog, parse_predicate({"metadata.tags": {"$contains": "Java"}})) == {
        "component:default/petstore"
    }
    assert _refs(catalog, parse_predicate({"metadata.tags": {"$contains": {"$in": ["web", "python"]}}})) == {
        "component:default/petstore",
        "component:default/pet_finder",
    }
    relation = {"relations": {"$contains": {"type": "ownedBy", "targetRef": "group:default/team-a"}}}
    assert _refs(catalog, parse_predicate(relation)) == {"component:default/petstore"}
    relation = {
        "relations": {
            "$contains": {
                "type": "OWNEDBY",
                "targetRef": {"$in": ["group:default/team-a", "group:default/team-b"]},
            }
        }
    }
    assert _refs(catalog, parse_predicate(relation)) == {
        "component:default/petstore",
        "component:default/pet_finder",
    }
    relation = {"relations": {"$contains": {"targetRef": "group:default/team-b"}}}
    assert _refs(catalog, parse_predicate(relation)) == {"component:default/pet_finder"}
    assert _refs(catalog, parse_predicate({"kind": {"$unknownOp": 1}})) == set()
    assert _refs(catalog, parse_predicate({"$any": []})) == set()
    assert len(_refs(catalog, parse_predicate({"$all": []}))) == 7
