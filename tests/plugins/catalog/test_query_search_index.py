"""The search index rows follow Backstage's flattening rules (§2.5)."""

from __future__ import annotations

from greenroom.plugins.catalog.query.search_index import build_search_rows


def _rows(entity: dict) -> dict[str, list[tuple[str | None, str | None]]]:
    out: dict[str, list[tuple[str | None, str | None]]] = {}
    for entity_id, key, value, original in build_search_rows("id-1", entity):
        assert entity_id == "id-1"
        out.setdefault(key, []).append((value, original))
    return out


ENTITY = {
    "apiVersion": "backstage.io/v1alpha1",
    "kind": "Component",
    "metadata": {
        "name": "Petstore",
        "uid": "u-1",
        "etag": "e-1",
        "tags": ["java", "Web", "java"],
        "annotations": {"Backstage.io/Source": "URL:X"},
        "labels": {"empty": None},
    },
    "spec": {
        "type": "service",
        "replicas": 3,
        "ratio": 1.5,
        "whole": 2.0,
        "public": True,
        "ports": [{"n": 80}],
    },
    "relations": [
        {"type": "ownedBy", "targetRef": "group:default/Team-A"},
        {"type": "ownedBy", "targetRef": "group:default/team-a"},
    ],
    "status": {"items": [{"type": "x"}]},
    "attachments": {"a": 1},
}


def test_keys_lowercased_values_lowercased_originals_kept() -> None:
    rows = _rows(ENTITY)
    assert rows["kind"] == [("component", "Component")]
    assert rows["metadata.name"] == [("petstore", "Petstore")]
    assert rows["metadata.annotations.backstage.io/source"] == [("url:x", "URL:X")]
    assert rows["spec.type"] == [("service", "service")]


def test_scalars_stringified_like_json() -> None:
    rows = _rows(ENTITY)
    assert rows["spec.replicas"] == [("3", "3")]
    assert rows["spec.ratio"] == [("1.5", "1.5")]
    assert rows["spec.whole"] == [("2", "2")]
    assert rows["spec.public"] == [("true", "true")]
    assert rows["metadata.labels.empty"] == [(None, None)]


def test_arrays_descend_and_string_items_get_true_rows_deduplicated() -> None:
    rows = _rows(ENTITY)
    assert rows["metadata.tags"] == [("java", "java"), ("web", "Web")]
    assert rows["metadata.tags.java"] == [("true", "true")]
    assert rows["metadata.tags.web"] == [("true", "true")]
    assert rows["spec.ports.n"] == [("80", "80")]


def test_special_subtrees_skipped_and_metadata_readded() -> None:
    rows = _rows(ENTITY)
    assert not any(key.startswith(("status", "attachments")) for key in rows)
    assert rows["relations.ownedby"] == [("group:default/team-a", "group:default/Team-A")]
    assert rows["metadata.namespace"] == [("default", "default")]
    assert rows["metadata.uid"] == [("u-1", "u-1")]
    assert rows["metadata.etag"] == [("e-1", "e-1")]
    assert "relations.ownedby.type" not in rows


def test_long_keys_dropped_long_values_kept_as_null() -> None:
    entity = {
        "kind": "Component",
        "metadata": {
            "name": "a",
            "namespace": "ns",
            "description": "x" * 201,
            "annotations": {"k" * 200: "v"},
        },
    }
    rows = _rows(entity)
    assert rows["metadata.description"] == [(None, None)]
    assert not any(key.startswith("metadata.annotations.") for key in rows)
    assert rows["metadata.namespace"] == [("ns", "ns")]
    assert rows["metadata.uid"] == [(None, None)]
    assert "metadata.etag" not in rows


def test_rows_are_unique_per_key_and_value() -> None:
    rows = build_search_rows("id", ENTITY)
    assert len({(key, value) for _, key, value, _ in rows}) == len(rows)
