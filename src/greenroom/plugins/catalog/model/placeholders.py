"""Finding `$text` / `$json` / `$yaml` placeholders in a raw entity (resolution happens later).

The processing engine reads the referenced files; this module only says where they are, so the
same rule (exactly one key, starting with '$', with a known resolver) is applied everywhere.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

BUILTIN_PLACEHOLDER_RESOLVERS = frozenset({"text", "json", "yaml"})


def placeholder_of(
    value: Any, resolvers: Collection[str] = BUILTIN_PLACEHOLDER_RESOLVERS
) -> tuple[str, Any] | None:
    """`(resolver, argument)` if `value` is a placeholder object, else None.

    Objects with several keys, or an unknown `$resolver`, are plain data and stay untouched.
    """
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if isinstance(key, str) and key.startswith("$") and key[1:] in resolvers:
            return key[1:], argument
    return None


def find_placeholders(
    entity: Any, resolvers: Collection[str] = BUILTIN_PLACEHOLDER_RESOLVERS
) -> list[tuple[str, str, Any]]:
    """Every placeholder as `(dot path, resolver name without '$', argument)`, in document order."""
    found: list[tuple[str, str, Any]] = []
    pending: list[tuple[str, Any]] = [("", entity)]
    while pending:
        path, value = pending.pop()
        placeholder = placeholder_of(value, resolvers) if path else None
        if placeholder is not None:
            found.append((path, placeholder[0], placeholder[1]))
            continue
        if isinstance(value, dict):
            children = [(f"{path}.{key}" if path else str(key), child) for key, child in value.items()]
        elif isinstance(value, list):
            children = [
                (f"{path}.{index}" if path else str(index), child) for index, child in enumerate(value)
            ]
        else:
            continue
        pending.extend(reversed([child for child in children if isinstance(child[1], dict | list)]))
    return found
