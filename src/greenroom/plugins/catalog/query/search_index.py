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


def build_search_rows(entity_id: str, entity: Mapping[str, Any]) -> list[SearchRow]:
    """Return the de-duplicated search rows of one entity (called for every stitch, so kept lean)."""
    pairs: list[tuple[str, Any]] = []
    append = pairs.append

    def visit(path: str, node: Any) -> None:
        if path in _SKIPPED_PATHS:
            return
        if isinstance(node, dict):
            for key, child in node.items():
                visit(f"{path}.{key}" if path else key, child)
        elif isinstance(node, list):
            for item in node:
                visit(path, item)
                if isinstance(item, str):
                    append((f"{path}.{item}", True))
        else:
            append((path, node))

    visit("", entity)
    metadata = entity.get("metadata")
    if not isinstance(metadata, Mapping):
        metadata = {}
    append(("metadata.name", metadata.get("name")))
    append(("metadata.namespace", metadata.get("namespace") or "default"))
    append(("metadata.uid", metadata.get("uid")))
    if metadata.get("etag"):
        append(("metadata.etag", metadata.get("etag")))
    relations = entity.get("relations")
    if isinstance(relations, list):
        for relation in relations:
            if isinstance(relation, Mapping) and relation.get("type") and relation.get("targetRef"):
                append((f"relations.{relation['type']}", relation["targetRef"]))

    rows: list[SearchRow] = []
    seen: set[tuple[str, str | None]] = set()
    for raw_key, raw_value in pairs:
        key = raw_key.lower()
        if len(key) > MAX_KEY_LENGTH:
            continue
        original: str | None
        if raw_value is None:
            original = value = None
        else:
            original = scalar_text(raw_value)
            value = original.lower()
            if len(value) > MAX_VALUE_LENGTH:
                original = value = None
        marker = (key, value)
        if marker in seen:
            continue
        seen.add(marker)
        rows.append((entity_id, key, value, original))
    return rows
