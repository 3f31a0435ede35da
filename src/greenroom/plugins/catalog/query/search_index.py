"""Flatten a stitched entity into the `search` filter index, with Backstage's rules.

Every filter, ordering, full-text match and facet is answered from these rows, so the rules
(which keys exist, how values are normalised) decide what API callers can find. They follow
Backstage's stitcher so that the same `filter=` strings match the same entities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_KEY_LENGTH = 200
MAX_VALUE_LENGTH = 200

SearchRow = tuple[str, str, str | None, str | None]
"""(entity_id, key, value lower-cased, original value)."""

# Subtrees not indexed by walking; the metadata ones are re-added explicitly below so they are
# always present (namespace defaulted) whatever shape the entity has.
_SKIPPED_PATHS = frozenset(
    {
        "attachments",
        "relations",
        "status",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "metadata.etag",
    }
)


def scalar_text(value: Any) -> str:
    """Render a JSON scalar the way JavaScript's `String()` does, so numbers and booleans match."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


# Exact types that are leaves of the walk (anything else goes through the general branch).
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})
# Entities of a catalog share most of their key paths, so their lower-cased forms are remembered
# (bounded: the cache is dropped when it grows too large).
_CACHE_LIMIT = 50_000
_lowered_keys: dict[str, str] = {}


def _lowered_key(path: str) -> str:
    key = _lowered_keys.get(path)
    if key is None:
        if len(_lowered_keys) >= _CACHE_LIMIT:
            _lowered_keys.clear()
        key = _lowered_keys[path] = path.lower()
    return key


def _add_row(
    rows: list[SearchRow], seen: set[tuple[str, str | None]], entity_id: str, raw_key: str, raw_value: Any
) -> None:
    """Append one row unless its key is too long or an equal (key, value) row exists already."""
    key = _lowered_key(raw_key)
    if len(key) > MAX_KEY_LENGTH:
        return
    original: str | None
    if raw_value is None:
        original = value = None
    else:
        original = raw_value if type(raw_value) is str else scalar_text(raw_value)
        value = original.lower()
        if len(value) > MAX_VALUE_LENGTH:
            original = value = None
    marker = (key, value)
    if marker not in seen:
        seen.add(marker)
        rows.append((entity_id, key, value, original))


def _index_node(
    path: str,
    node: Any,
    entity_id: str,
    rows: list[SearchRow],
    seen: set[tuple[str, str | None]],
) -> None:
    """Add the rows of `node`, whose `path` is already known not to be skipped.

    Leaves are handled in their parent's loop, with `_add_row` inlined for dict values (the
    bulk of an entity), so the walk costs one call per object or array rather than per value.
    """
    if isinstance(node, dict):
        lowered_keys = _lowered_keys
        for key, child in node.items():
            child_path = f"{path}.{key}" if path else key
            if child_path in _SKIPPED_PATHS:
                continue
            if type(child) not in _LEAF_TYPES:
                _index_node(child_path, child, entity_id, rows, seen)
                continue
            lowered_key = lowered_keys.get(child_path) or _lowered_key(child_path)
            if len(lowered_key) > MAX_KEY_LENGTH:
                continue
            original: str | None
            if child is None:
                original = value = None
            else:
                original = child if type(child) is str else scalar_text(child)
                value = original.lower()
                if len(value) > MAX_VALUE_LENGTH:
                    original = value = None
            marker = (lowered_key, value)
            if marker not in seen:
                seen.add(marker)
                rows.append((entity_id, lowered_key, value, original))
    elif isinstance(node, list):
        for item in node:  # items share the array's path; string items also get a `path.item` row
            if isinstance(item, dict | list):
                _index_node(path, item, entity_id, rows, seen)
            else:
                _add_row(rows, seen, entity_id, path, item)
                if isinstance(item, str):
                    _add_row(rows, seen, entity_id, f"{path}.{item}", True)
    else:
        _add_row(rows, seen, entity_id, path, node)


def build_search_rows(entity_id: str, entity: Mapping[str, Any]) -> list[SearchRow]:
    """Return the de-duplicated search rows of one entity (called for every stitch, so kept lean).

    Rows come in walk order and the first of equal (key, value) rows wins, so its original
    spelling is the one kept.
    """
    rows: list[SearchRow] = []
    seen: set[tuple[str, str | None]] = set()
    _index_node("", entity, entity_id, rows, seen)
    metadata = entity.get("metadata")
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        metadata = {}
    _add_row(rows, seen, entity_id, "metadata.name", metadata.get("name"))
    _add_row(rows, seen, entity_id, "metadata.namespace", metadata.get("namespace") or "default")
    _add_row(rows, seen, entity_id, "metadata.uid", metadata.get("uid"))
    if metadata.get("etag"):
        _add_row(rows, seen, entity_id, "metadata.etag", metadata.get("etag"))
    relations = entity.get("relations")
    if isinstance(relations, list):
        for relation in relations:
            if (
                (type(relation) is dict or isinstance(relation, Mapping))
                and relation.get("type")
                and relation.get("targetRef")
            ):
                _add_row(rows, seen, entity_id, f"relations.{relation['type']}", relation["targetRef"])
    return rows
