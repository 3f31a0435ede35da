"""Entity and location references, parsed and printed exactly the way Backstage does.

Refs are the join keys of the whole catalog (relations, filters, URLs), so any divergence from
Backstage's algorithm would silently point at different entities. Parsing keeps the original
case; only the canonical string form is lower-cased.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenroom.core.errors import InputError

DEFAULT_NAMESPACE = "default"

_REF_FORM_HINT = "[<kind>:][<namespace>/]<name>"
_JAVASCRIPT_TARGET = re.compile(r"\s*javascript\s*:", re.IGNORECASE)


class EntityRefError(InputError, ValueError):
    """An entity reference is malformed or lacks a part that has no default."""


class LocationRefError(InputError, ValueError):
    """A location reference is not of the form `<type>:<target>` or is unsafe."""


@dataclass(frozen=True, slots=True)
class CompoundEntityRef:
    """The identity triple of an entity, in the case it was written with."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return stringify_entity_ref(self)


def _split_ref_string(ref: str) -> tuple[str | None, str | None, str]:
    """Split `[kind:][namespace/]name` on the first ':' and the first '/'.

    A '/' before the first ':' means there is no kind: the colon then belongs to the name.
    """
    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = ref[:colon] if colon != -1 else None
    namespace = ref[colon + 1 : slash] if slash != -1 else None
    name = ref[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or name == "":
        raise EntityRefError(f'Entity reference "{ref}" was not on the form {_REF_FORM_HINT}')
    return kind, namespace, name


def _as_json(ref: object) -> str:
    """Render the ref the way JavaScript's JSON.stringify would, for error messages."""
    try:
        return json.dumps(ref, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(ref)


def parse_entity_ref(
    ref: str | Mapping[str, Any],
    *,
    default_kind: str | None = None,
    default_namespace: str | None = None,
) -> CompoundEntityRef:
    """Parse a ref string (or `{kind, namespace, name}` mapping), filling in the given defaults.

    The namespace falls back to "default" when no (non-empty) default namespace is given; the kind
    has no fallback, because guessing it would create relations to the wrong entity type.
    """
    if not ref:
        raise EntityRefError("Entity reference must not be empty")
    namespace_fallback = default_namespace or DEFAULT_NAMESPACE
    kind: Any
    namespace: Any
    name: Any
    if isinstance(ref, str):
        parsed_kind, parsed_namespace, name = _split_ref_string(ref)
        kind = parsed_kind if parsed_kind is not None else default_kind
        namespace = parsed_namespace if parsed_namespace is not None else namespace_fallback
    elif isinstance(ref, Mapping):
        kind = ref.get("kind")
        namespace = ref.get("namespace")
        if namespace is None:
            namespace = namespace_fallback
        name = ref.get("name")
        if kind is None:
            kind = default_kind
    else:
        raise EntityRefError(f"Entity reference must be a string or a mapping, got {type(ref).__name__}")

    if not kind or not isinstance(kind, str):
        raise EntityRefError(
            f"Entity reference {_as_json(ref)} had missing or empty kind "
            '(e.g. did not start with "component:" or similar)'
        )
    if not namespace or not isinstance(namespace, str):
        raise EntityRefError(f"Entity reference {_as_json(ref)} had missing or empty namespace")
    if not name or not isinstance(name, str):
        raise EntityRefError(f"Entity reference {_as_json(ref)} had missing or empty name")
    return CompoundEntityRef(kind, namespace, name)


def stringify_entity_ref(ref: CompoundEntityRef | Mapping[str, Any]) -> str:
    """The canonical, fully lower-cased `kind:namespace/name` of a ref or of an entity."""
    kind: Any
    namespace: Any
    name: Any
    if isinstance(ref, CompoundEntityRef):
        kind, namespace, name = ref.kind, ref.namespace, ref.name
    else:
        metadata = ref.get("metadata")
        if type(metadata) is dict or isinstance(metadata, Mapping):  # skip the slow ABC check for dicts
            kind, namespace, name = ref.get("kind"), metadata.get("namespace"), metadata.get("name")
        else:
            kind, namespace, name = ref.get("kind"), ref.get("namespace"), ref.get("name")
        if namespace is None:
            namespace = DEFAULT_NAMESPACE
        if not isinstance(kind, str) or not isinstance(namespace, str) or not isinstance(name, str):
            raise EntityRefError(f"Cannot stringify entity reference {_as_json(ref)}: parts must be strings")
    return f"{kind}:{namespace}/{name}".lower()


def entity_ref_of(entity: Mapping[str, Any]) -> str:
    """The canonical ref of an entity (its namespace defaults to "default")."""
    return stringify_entity_ref(entity)


def compound_ref_of(entity: Mapping[str, Any]) -> CompoundEntityRef:
    """The identity triple of an entity, case preserved."""
    metadata = entity["metadata"]
    return CompoundEntityRef(entity["kind"], metadata.get("namespace") or DEFAULT_NAMESPACE, metadata["name"])


def _location_ref_usage_error(ref: str) -> LocationRefError:
    return LocationRefError(
        f"Unable to parse location ref '{ref}', expected '<type>:<target>', e.g. 'url:https://host/path'"
    )


def parse_location_ref(ref: str) -> tuple[str, str]:
    """Split `<type>:<target>` on the first ':' into a trimmed, non-empty (type, target).

    Bare http(s) URLs are refused so that a URL is never mistaken for a location type, and
    `javascript:` targets are refused because locations end up as links in the UI.
    """
    if not isinstance(ref, str):
        raise LocationRefError(
            f"Unable to parse location ref '{ref}', unexpected argument {type(ref).__name__}"
        )
    location_type, separator, target = ref.partition(":")
    location_type, target = location_type.strip(), target.strip()
    if not separator or not location_type or not target:
        raise _location_ref_usage_error(ref)
    if location_type in ("http", "https"):
        raise LocationRefError(
            f"Invalid location ref '{ref}', please prefix it with 'url:', e.g. 'url:{ref}'"
        )
    if _JAVASCRIPT_TARGET.match(target):
        raise LocationRefError(f"Invalid location ref '{ref}', target is a javascript: URL")
    return location_type, target


def stringify_location_ref(location_type: str, target: str) -> str:
    """`<type>:<target>`, refusing empty parts and `javascript:` targets."""
    if not location_type:
        raise LocationRefError("Unable to stringify location ref, empty type")
    if not target:
        raise LocationRefError("Unable to stringify location ref, empty target")
    if _JAVASCRIPT_TARGET.match(target):
        raise LocationRefError(
            f"Invalid location ref '{location_type}:{target}', target is a javascript: URL"
        )
    return f"{location_type}:{target}"
