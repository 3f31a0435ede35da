"""The per-entity ingest functions give exactly what their plain versions gave.

YAML loading, placeholder substitution, validation, relations and search rows run for every
entity, so they carry fast paths (caches, skipped walks, inlined loops). These tests hold them to
the straightforward implementations they replaced: each `_reference_*` below is that earlier
code, compared on a generated catalog and on random entities chosen to hit the edge cases
(keys that differ only in case, dotted and empty keys, nested arrays, non-string scalars).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from bench.generator import generate
from hypothesis import given, settings
from hypothesis import strategies as st

from greenroom.plugins.catalog.model import (
    EntityValidationError,
    KindRegistry,
    load_descriptor_documents,
    prepare_entity,
    relations_for,
    validation,
)
from greenroom.plugins.catalog.model.refs import (
    DEFAULT_NAMESPACE,
    EntityRefError,
    parse_entity_ref,
    stringify_entity_ref,
)
from greenroom.plugins.catalog.model.relations import Relation
from greenroom.plugins.catalog.processing.processors import PlaceholderProcessor
from greenroom.plugins.catalog.processing.types import Emit, LocationSpec
from greenroom.plugins.catalog.query import search_index
from greenroom.plugins.catalog.query.search_index import build_search_rows, scalar_text

KINDS = KindRegistry.default()
LOCATION = LocationSpec("file", "/tmp/catalog/catalog-info.yaml")


# --- the earlier, plain implementations -------------------------------------------------------


def _reference_search_rows(entity_id: str, entity: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    pairs: list[tuple[str, Any]] = []

    def visit(path: str, node: Any) -> None:
        if path in search_index._SKIPPED_PATHS:
            return
        if isinstance(node, dict):
            for key, child in node.items():
                visit(f"{path}.{key}" if path else key, child)
        elif isinstance(node, list):
            for item in node:
                visit(path, item)
                if isinstance(item, str):
                    pairs.append((f"{path}.{item}", True))
        else:
            pairs.append((path, node))

    visit("", entity)
    metadata = entity.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    pairs.append(("metadata.name", metadata.get("name")))
    pairs.append(("metadata.namespace", metadata.get("namespace") or "default"))
    pairs.append(("metadata.uid", metadata.get("uid")))
    if metadata.get("etag"):
        pairs.append(("metadata.etag", metadata.get("etag")))
    relations = entity.get("relations")
    if isinstance(relations, list):
        for relation in relations:
            if isinstance(relation, Mapping) and relation.get("type") and relation.get("targetRef"):
                pairs.append((f"relations.{relation['type']}", relation["targetRef"]))
    rows: list[tuple[Any, ...]] = []
    seen: set[tuple[str, str | None]] = set()
    for raw_key, raw_value in pairs:
        key = raw_key.lower()
        if len(key) > search_index.MAX_KEY_LENGTH:
            continue
        original: str | None
        if raw_value is None:
            original = value = None
        else:
            original = scalar_text(raw_value)
            value = original.lower()
            if len(value) > search_index.MAX_VALUE_LENGTH:
                original = value = None
        if (key, value) in seen:
            continue
        seen.add((key, value))
        rows.append((entity_id, key, value, original))
    return rows


def _reference_case_duplicate_key_errors(entity: Mapping[str, Any]) -> list[EntityValidationError]:
    errors: list[EntityValidationError] = []
    pending: list[tuple[str, list[dict[str, Any]]]] = []
    for key in validation.KNOWN_INPUT_ROOT_FIELDS:
        value = entity.get(key)
        group = (
            [value]
            if isinstance(value, dict)
            else validation._dicts_within(value)
            if isinstance(value, list)
            else []
        )
        if group:
            pending.append((key + ".", group))
    while pending:
        prefix, group = pending.pop()
        children: dict[str, list[dict[str, Any]]] = {}
        first_spelling: dict[str, str] = {}
        for item in group:
            for key, value in item.items():
                spelling = first_spelling.setdefault(key.lower(), key)
                if spelling != key:
                    errors.append(validation._case_clash(prefix, spelling, key))
                if isinstance(value, dict):
                    children.setdefault(key, []).append(value)
                elif isinstance(value, list):
                    children.setdefault(key, []).extend(validation._dicts_within(value))
        pending.extend(
            (f"{prefix}{key}.", child_group) for key, child_group in children.items() if child_group
        )
    return list({error.message: error for error in errors}.values())


def _reference_walk(resolvers: Mapping[str, Any], value: Any, emit: Emit) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if isinstance(key, str) and key in resolvers:
                return resolvers[key](key, argument, LOCATION, emit)
        return {k: _reference_walk(resolvers, v, emit) for k, v in value.items()}
    if isinstance(value, list):
        return [_reference_walk(resolvers, v, emit) for v in value]
    return value


def _reference_relations_for(entity: Mapping[str, Any]) -> tuple[list[Relation], list[Any]]:
    rules = KINDS.relation_rules(entity.get("kind"))
    if not rules:
        return [], []
    namespace = (entity.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE
    self_ref = stringify_entity_ref(entity)
    relations: dict[Relation, None] = {}
    errors: list[EntityValidationError] = []
    for rule in rules:
        declared: Any = entity
        for part in rule.field.split("."):
            declared = declared.get(part) if isinstance(declared, Mapping) else None
        if declared is None:
            continue
        is_list = isinstance(declared, list)
        for index, target in enumerate(declared if is_list else (declared,)):
            field = f"{rule.field}.{index}" if is_list else rule.field
            if not isinstance(target, str):
                errors.append(
                    EntityValidationError(field, f"{field}: must be an entity reference string", target)
                )
                continue
            try:
                parsed = parse_entity_ref(
                    target, default_kind=rule.default_target_kind, default_namespace=namespace
                )
            except EntityRefError as problem:
                errors.append(EntityValidationError(field, f"{field}: {problem.message}", target))
                continue
            target_ref = stringify_entity_ref(parsed)
            relations[Relation(self_ref, rule.forward_type, target_ref)] = None
            relations[Relation(target_ref, rule.reverse_type, self_ref)] = None
    return list(relations), errors


def _errors(errors: list[EntityValidationError]) -> list[tuple[str, str, str]]:
    return [(error.field, error.message, repr(error.value)) for error in errors]


# --- random entities ---------------------------------------------------------------------------

_KEYS = st.sampled_from(
    ["a", "A", "b", "B", "name", "Name", "url", "URL", "", "x.y", "metadata", "status", "tags", "type"]
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=True),
    st.sampled_from(["", "Java", "java", "lang:go", "x" * 250, "Ünïcode", "a b", "dir:."]),
    st.text(max_size=8),
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_KEYS, children, max_size=5)),
    max_leaves=25,
)
_ENTITIES = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(["backstage.io/v1alpha1", "v1", 3]),
        "kind": st.sampled_from(["Component", "Group", "User", "System", "component"]),
        "metadata": st.fixed_dictionaries(
            {"name": st.sampled_from(["svc", "Svc-1", "bad name", ""])},
            optional={
                "namespace": st.sampled_from(["default", "infra", "Bad_NS", None]),
                "uid": st.text(max_size=5),
                "etag": st.sampled_from(["", "e-1"]),
                "tags": st.lists(st.sampled_from(["java", "Java", "a:b", "tier-1", "", 3]), max_size=4),
                "labels": st.dictionaries(
                    st.sampled_from(["tier", "a/b", "bad key", "x"]),
                    st.sampled_from(["1", "", "bad value", None, 2]),
                    max_size=3,
                ),
                "annotations": st.dictionaries(
                    st.sampled_from(["backstage.io/x", "Backstage.io/X", "bad key!", "k"]),
                    st.one_of(st.sampled_from(["v", "dir:."]), st.integers(0, 3)),
                    max_size=3,
                ),
                "links": st.lists(
                    st.dictionaries(st.sampled_from(["url", "URL", "title", "icon"]), _SCALARS, max_size=3),
                    max_size=2,
                ),
                "extra": _JSON,
            },
        ),
    },
    optional={
        "spec": st.one_of(
            st.dictionaries(
                st.sampled_from(
                    [
                        "owner",
                        "system",
                        "dependsOn",
                        "providesApis",
                        "memberOf",
                        "members",
                        "parent",
                        "children",
                        "a",
                        "A",
                    ]
                ),
                st.one_of(
                    st.sampled_from(["team-a", "group:infra/Team-B", "component:x", ":bad", "a/b/"]),
                    st.lists(st.sampled_from(["api-1", "resource:db", 7, "", "kind:"]), max_size=3),
                    _JSON,
                ),
                max_size=5,
            ),
            _JSON,
        ),
        "relations": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["ownedBy", "partOf", ""]),
                    "targetRef": st.sampled_from(["group:default/A", "x"]),
                }
            ),
            max_size=3,
        ),
        "status": _JSON,
        "Extra": _JSON,
    },
)


# --- a generated catalog -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("catalog")
    manifest = generate(600, out)
    return out, manifest


def _documents(root: Path) -> list[tuple[Path, str, Any]]:
    found = []
    for path in sorted(root.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        for document in load_descriptor_documents(path.read_bytes(), source=str(path)):
            assert document.error is None, document.error
            found.append((path, text, document))
    return found


def test_generated_catalog_loads_with_every_key_on_its_line(generated: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = generated
    documents = _documents(root)
    counts: dict[str, int] = {}
    for _, text, document in documents:
        counts[document.value["kind"]] = counts.get(document.value["kind"], 0) + 1
        lines = text.splitlines()
        assert lines[document.line - 1].startswith(("apiVersion", "kind")), document.line
        for path, line in document.key_lines.items():
            last = path.rsplit(".", 1)[-1]
            source_line = lines[line - 1]
            assert (last + ":") in source_line or source_line.lstrip().startswith("- "), (path, source_line)
    assert counts == {**manifest["counts"], "Location": 1}


def test_generated_catalog_stages_match_the_plain_versions(generated: tuple[Path, dict[str, Any]]) -> None:
    root, _ = generated
    walker = PlaceholderProcessor(None)  # type: ignore[arg-type]
    for index, (_, _, document) in enumerate(_documents(root)):
        raw = document.value
        substituted = walker.pre_process_entity(raw, LOCATION, Emit(), LOCATION, None)  # type: ignore[arg-type]
        assert substituted == _reference_walk(walker.resolvers, raw, Emit())
        prepared = prepare_entity(substituted, kinds=KINDS)
        assert validation.case_duplicate_key_errors(prepared) == []
        relations, errors = relations_for(prepared, KINDS)
        assert (relations, errors) == _reference_relations_for(prepared)
        final = {
            **prepared,
            "metadata": {**prepared["metadata"], "uid": f"uid-{index}", "etag": f"etag-{index}"},
            "relations": [relation.as_entity_relation() for relation in relations],
        }
        assert build_search_rows("id", final) == _reference_search_rows("id", final)


# --- random entities ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(_ENTITIES)
def test_search_rows_match_the_plain_walk(entity: dict[str, Any]) -> None:
    assert build_search_rows("e", entity) == _reference_search_rows("e", entity)


@settings(max_examples=300, deadline=None)
@given(_ENTITIES)
def test_case_duplicates_match_the_plain_walk(entity: dict[str, Any]) -> None:
    assert _errors(validation.case_duplicate_key_errors(entity)) == _errors(
        _reference_case_duplicate_key_errors(entity)
    )


@settings(max_examples=200, deadline=None)
@given(_ENTITIES)
def test_field_formats_do_not_depend_on_what_was_seen_before(entity: dict[str, Any]) -> None:
    for known in (
        validation._valid_label_keys,
        validation._valid_label_values,
        validation._valid_annotation_keys,
        validation._valid_tags,
    ):
        known.clear()
    cold = _errors(validation.field_format_errors(entity))
    warm = _errors(validation.field_format_errors(entity))
    assert cold == warm


@settings(max_examples=200, deadline=None)
@given(_ENTITIES)
def test_validation_and_relations_match(entity: dict[str, Any]) -> None:
    first = _errors(validation.validate_entity(entity, kinds=KINDS))
    assert _errors(validation.validate_entity(entity, kinds=KINDS)) == first
    assert relations_for(entity, KINDS) == _reference_relations_for(entity)


_PLACEHOLDER = st.sampled_from(
    [{"$text": "a.txt"}, {"$json": "b.json"}, {"$other": "c"}, {"$text": 1, "x": 2}]
)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.one_of(_SCALARS, _PLACEHOLDER),
        lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(_KEYS, c, max_size=4)),
        max_leaves=20,
    )
)
def test_placeholder_walk_matches_and_copies(spec: Any) -> None:
    calls: list[tuple[str, Any]] = []

    def resolve(key: str, argument: Any, location: LocationSpec, emit: Emit) -> Any:
        calls.append((key, argument))
        return {"resolved": argument}

    walker = PlaceholderProcessor(None, {"$text": resolve, "$json": resolve})  # type: ignore[arg-type]
    entity = {"kind": "Component", "spec": spec}
    result = walker.pre_process_entity(entity, LOCATION, Emit(), LOCATION, None)  # type: ignore[arg-type]
    walked_calls = list(calls)
    calls.clear()
    assert repr(result) == repr(_reference_walk(walker.resolvers, entity, Emit()))
    assert walked_calls == calls

    def containers(value: Any) -> list[int]:
        if isinstance(value, dict):
            return [id(value), *(i for child in value.values() for i in containers(child))]
        if isinstance(value, list):
            return [id(value), *(i for child in value for i in containers(child))]
        return []

    if not walked_calls:  # nothing substituted: a full copy, sharing no dict or list with the input
        assert not set(containers(result)) & set(containers(entity))


def test_yaml_scalars_and_errors_keep_their_meaning() -> None:
    data = (
        b"apiVersion: v1\nkind: Component\nmetadata:\n  name: x\n"
        b"spec:\n  a: 0x1F\n  b: .inf\n  c: !!str 12\n  d: ! 12\n  e: '12'\n  f: ~\n  g: [1, true, null]\n"
        b"  1: one\n  true: yes\n"
        b"---\nkind: A\nkind: B\n"
        b"---\nmetadata:\n  Name: a\n  name: b\n"
    )
    first, duplicate, case = load_descriptor_documents(data, source="f.yaml")
    assert first.value["spec"] == {
        "a": 31,
        "b": math.inf,
        "c": "12",
        "d": "12",
        "e": "12",
        "f": None,
        "g": [1, True, None],
        "1": "one",
        "true": "yes",
    }
    assert first.key_lines["spec.g.2"] == 12
    assert str(duplicate.error) == "f.yaml:17: kind: duplicate key 'kind' (first at line 16)"
    assert duplicate.error is not None and duplicate.error.column == 1
    assert str(case.error) == "f.yaml:21: metadata.name: keys 'Name' and 'name' differ only in case"
