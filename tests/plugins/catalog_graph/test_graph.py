"""Graph building: depth, filters, de-duplication, cycles, truncation, direction semantics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson
import pytest

from greenroom.plugins.catalog.query.fields import apply_fields
from greenroom.plugins.catalog_graph.graph import (
    ALL_RELATIONS,
    MEMBERSHIP_RELATIONS,
    NODE_FIELDS,
    SYSTEM_VIEW_RELATIONS,
    GraphOptions,
    build_graph,
    parse_refs,
)

REVERSE = {
    "dependsOn": "dependencyOf",
    "dependencyOf": "dependsOn",
    "ownedBy": "ownerOf",
    "ownerOf": "ownedBy",
    "hasPart": "partOf",
    "partOf": "hasPart",
}


class FakeCatalog:
    """In-memory `entities_by_refs` with stitched (two-sided) relations; records every call."""

    def __init__(self) -> None:
        self.entities: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[list[str], tuple[str, ...] | None]] = []

    def add(self, ref: str, title: str | None = None, spec_type: str | None = None) -> FakeCatalog:
        kind, _, rest = ref.partition(":")
        namespace, _, name = rest.partition("/")
        metadata: dict[str, Any] = {"name": name, "namespace": namespace}
        if title is not None:
            metadata["title"] = title
        self.entities[ref] = {
            "kind": kind.capitalize(),
            "metadata": metadata,
            "spec": {"type": spec_type} if spec_type else {},
            "relations": [],
        }
        return self

    def relate(self, source: str, rel_type: str, target: str) -> FakeCatalog:
        for ref in (source, target):
            if ref not in self.entities:
                self.add(ref)
        self.entities[source]["relations"].append({"type": rel_type, "targetRef": target})
        self.entities[target]["relations"].append({"type": REVERSE[rel_type], "targetRef": source})
        return self

    def entities_by_refs(
        self, refs: Sequence[str], *, fields: Sequence[str] | None = None
    ) -> list[bytes | None]:
        self.calls.append((list(refs), tuple(fields) if fields else None))
        out: list[bytes | None] = []
        for ref in refs:
            entity = self.entities.get(ref)
            out.append(
                None if entity is None else orjson.dumps(apply_fields(entity, fields) if fields else entity)
            )
        return out


def chain(length: int) -> FakeCatalog:
    catalog = FakeCatalog()
    for i in range(length - 1):
        catalog.relate(f"component:default/c{i}", "dependsOn", f"component:default/c{i + 1}")
    return catalog


def names(graph: Any) -> set[str]:
    return {ref.rsplit("/", 1)[1] for ref in graph.nodes}


@pytest.mark.parametrize(
    ("depth", "expected"), [(1, {"c0", "c1"}), (2, {"c0", "c1", "c2"}), (4, {f"c{i}" for i in range(5)})]
)
def test_depth_limits_the_traversal(depth: int, expected: set[str]) -> None:
    catalog = chain(8)
    graph = build_graph(catalog, GraphOptions(root_refs=("component:default/c0",), max_depth=depth))
    assert names(graph) == expected
    assert graph.nodes["component:default/c0"].is_root
    assert graph.nodes[f"component:default/c{depth}"].depth == depth


def test_one_lookup_per_depth_level_with_only_the_node_fields() -> None:
    catalog = FakeCatalog()
    for i in range(5):
        catalog.relate("system:default/s", "hasPart", f"component:default/c{i}")
        for j in range(3):
            catalog.relate(f"component:default/c{i}", "dependsOn", f"resource:default/r{i}-{j}")
    graph = build_graph(catalog, GraphOptions(root_refs=("system:default/s",), max_depth=2))
    assert len(graph.nodes) == 1 + 5 + 15
    assert len(catalog.calls) == 3 == graph.queries
    assert [len(refs) for refs, _ in catalog.calls] == [1, 5, 15]
    assert all(fields == NODE_FIELDS for _, fields in catalog.calls)
    assert "spec.definition" not in NODE_FIELDS and "metadata.annotations" not in NODE_FIELDS


def test_relation_filter_follows_and_draws_only_chosen_types() -> None:
    catalog = chain(3).relate("component:default/c0", "ownedBy", "group:default/team")
    options = GraphOptions(
        root_refs=("component:default/c0",), max_depth=3, relations=("dependsOn", "dependencyOf")
    )
    graph = build_graph(catalog, options)
    assert names(graph) == {"c0", "c1", "c2"}
    assert {e.relations for e in graph.edges} == {("dependsOn", "dependencyOf")}


def test_kind_filter_keeps_the_root() -> None:
    catalog = chain(2).relate("component:default/c0", "ownedBy", "group:default/team")
    graph = build_graph(catalog, GraphOptions(root_refs=("component:default/c0",), kinds=("group",)))
    assert names(graph) == {"c0", "team"}


def test_merged_relations_are_one_edge_in_the_primary_direction() -> None:
    catalog = FakeCatalog().relate("component:default/a", "ownedBy", "group:default/team")
    graph = build_graph(catalog, GraphOptions(root_refs=("component:default/a",)))
    assert [(e.source, e.target, e.relations) for e in graph.edges] == [
        ("group:default/team", "component:default/a", ("ownerOf", "ownedBy"))
    ]
    assert graph.edges[0].label == "owner of"


def test_unmerged_bidirectional_shows_both_relations() -> None:
    catalog = FakeCatalog().relate("component:default/a", "dependsOn", "component:default/b")
    options = GraphOptions(root_refs=("component:default/a",), unidirectional=False, merge_relations=False)
    edges = {(e.source, e.target, e.relations) for e in build_graph(catalog, options).edges}
    assert edges == {
        ("component:default/a", "component:default/b", ("dependsOn",)),
        ("component:default/b", "component:default/a", ("dependencyOf",)),
    }


def test_unidirectional_unmerged_only_points_away_from_the_root() -> None:
    catalog = FakeCatalog().relate("component:default/a", "dependsOn", "component:default/b")
    options = GraphOptions(root_refs=("component:default/a",), unidirectional=True, merge_relations=False)
    edges = [(e.source, e.target, e.relations) for e in build_graph(catalog, options).edges]
    assert edges == [("component:default/a", "component:default/b", ("dependsOn",))]


def test_edges_are_deduplicated_when_merged_even_if_not_unidirectional() -> None:
    catalog = FakeCatalog().relate("component:default/a", "dependsOn", "component:default/b")
    options = GraphOptions(root_refs=("component:default/a",), unidirectional=False, merge_relations=True)
    assert len(build_graph(catalog, options).edges) == 1


def test_cycles_terminate_and_each_entity_appears_once() -> None:
    catalog = chain(3).relate("component:default/c2", "dependsOn", "component:default/c0")
    graph = build_graph(catalog, GraphOptions(root_refs=("component:default/c0",), max_depth=5))
    assert names(graph) == {"c0", "c1", "c2"}
    # c0 reaches c1 and c2 (its dependency and its dependent) at depth 1; the next level adds nothing.
    assert graph.queries == 2
    assert len(graph.edges) == 3


def test_truncation_caps_nodes_and_says_so() -> None:
    catalog = FakeCatalog()
    for i in range(500):
        catalog.relate("system:default/big", "hasPart", f"component:default/c{i:03}")
    graph = build_graph(catalog, GraphOptions(root_refs=("system:default/big",), max_nodes=300))
    assert len(graph.nodes) == 300
    assert graph.truncated
    assert len(graph.edges) == 299
    untruncated = build_graph(catalog, GraphOptions(root_refs=("system:default/big",), max_nodes=1000))
    assert len(untruncated.nodes) == 501 and not untruncated.truncated


def test_missing_roots_and_dangling_targets() -> None:
    catalog = FakeCatalog().add("component:default/a")
    catalog.entities["component:default/a"]["relations"].append(
        {"type": "dependsOn", "targetRef": "resource:default/gone"}
    )
    graph = build_graph(catalog, GraphOptions(root_refs=("component:default/a", "component:default/nope")))
    assert graph.missing_roots == ["component:default/nope"]
    assert names(graph) == {"a"}
    assert graph.edges == []


def test_several_roots_and_ref_normalisation() -> None:
    catalog = FakeCatalog().relate("component:default/a", "dependsOn", "component:default/b")
    graph = build_graph(catalog, GraphOptions(root_refs=("Component:a", "component:default/B"), max_depth=1))
    assert all(node.is_root for node in graph.nodes.values())
    assert len(graph.edges) == 1
    assert parse_refs(["component:a, component:b", "component:a"]) == ("component:a", "component:b")


def test_system_view_defaults() -> None:
    options = GraphOptions(root_refs=("system:default/s",), max_depth=1)
    view = options.with_defaults_for("System", relations_given=False, depth_given=False)
    assert view.relations == SYSTEM_VIEW_RELATIONS and view.max_depth == 2
    given = options.with_defaults_for("domain", relations_given=True, depth_given=True)
    assert given.relations is None and given.max_depth == 1


def test_membership_is_left_out_by_default_except_for_groups_and_users() -> None:
    """From a component, "has member" would pull every member of its owners in one level further."""
    catalog = FakeCatalog()
    catalog.relate("component:default/app", "ownedBy", "group:default/team")
    for i in range(5):
        catalog.add(f"user:default/u{i}")
        catalog.entities["group:default/team"]["relations"].append(
            {"type": "hasMember", "targetRef": f"user:default/u{i}"}
        )
        catalog.entities[f"user:default/u{i}"]["relations"].append(
            {"type": "memberOf", "targetRef": "group:default/team"}
        )
    options = GraphOptions(root_refs=("component:default/app",), max_depth=2)

    component = options.with_defaults_for("Component", relations_given=False, depth_given=True)
    assert component.relations is not None
    assert set(component.relations) == set(ALL_RELATIONS) - set(MEMBERSHIP_RELATIONS)
    assert names(build_graph(catalog, component)) == {"app", "team"}
    assert len(names(build_graph(catalog, options))) == 7  # what the tab used to draw

    for kind in ("Group", "user"):
        assert options.with_defaults_for(kind, relations_given=False, depth_given=False) == options
    chosen = replace(options, relations=("ownedBy", "hasMember"))
    assert chosen.with_defaults_for("Component", relations_given=True, depth_given=True) == chosen
    assert names(build_graph(catalog, chosen)) == {"app", "team", "u0", "u1", "u2", "u3", "u4"}


def test_root_edges_only_draws_a_star() -> None:
    catalog = FakeCatalog()
    catalog.relate("component:default/a", "dependsOn", "component:default/b")
    catalog.relate("component:default/a", "dependsOn", "component:default/c")
    catalog.relate("component:default/b", "dependsOn", "component:default/c")
    full = build_graph(catalog, GraphOptions(root_refs=("component:default/a",)))
    star = build_graph(catalog, GraphOptions(root_refs=("component:default/a",), root_edges_only=True))
    assert len(full.edges) == 3  # the relation between two neighbours of the root is kept
    assert len(star.edges) == 2 and all("component:default/a" in (e.source, e.target) for e in star.edges)
