"""Relations derived from spec fields, as Backstage's built-in kinds processor derives them.

Every declaration yields two relations (self -> target and target -> self), so either side can be
queried without a reverse lookup. Targets default to the declaring entity's own namespace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .errors import EntityValidationError
from .kinds import KindRegistry, default_kind_registry
from .refs import DEFAULT_NAMESPACE, EntityRefError, parse_entity_ref, stringify_entity_ref

RELATION_OWNED_BY = "ownedBy"
RELATION_OWNER_OF = "ownerOf"
RELATION_PROVIDES_API = "providesApi"
RELATION_API_PROVIDED_BY = "apiProvidedBy"
RELATION_CONSUMES_API = "consumesApi"
RELATION_API_CONSUMED_BY = "apiConsumedBy"
RELATION_DEPENDS_ON = "dependsOn"
RELATION_DEPENDENCY_OF = "dependencyOf"
RELATION_PARENT_OF = "parentOf"
RELATION_CHILD_OF = "childOf"
RELATION_MEMBER_OF = "memberOf"
RELATION_HAS_MEMBER = "hasMember"
RELATION_PART_OF = "partOf"
RELATION_HAS_PART = "hasPart"


@dataclass(frozen=True, slots=True)
class RelationPair:
    """Two relation types that are each other's reverse, with their display titles."""

    forward: str
    reverse: str
    forward_title: str
    reverse_title: str


RELATION_PAIRS: tuple[RelationPair, ...] = (
    RelationPair(RELATION_OWNED_BY, RELATION_OWNER_OF, "owned by", "owner of"),
    RelationPair(RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY, "provides API", "API provided by"),
    RelationPair(RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY, "consumes API", "API consumed by"),
    RelationPair(RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF, "depends on", "dependency of"),
    RelationPair(RELATION_PARENT_OF, RELATION_CHILD_OF, "parent of", "child of"),
    RelationPair(RELATION_MEMBER_OF, RELATION_HAS_MEMBER, "member of", "has member"),
    RelationPair(RELATION_PART_OF, RELATION_HAS_PART, "part of", "has part"),
)

RELATION_TITLES: dict[str, str] = {
    **{pair.forward: pair.forward_title for pair in RELATION_PAIRS},
    **{pair.reverse: pair.reverse_title for pair in RELATION_PAIRS},
}
REVERSE_RELATION: dict[str, str] = {
    **{pair.forward: pair.reverse for pair in RELATION_PAIRS},
    **{pair.reverse: pair.forward for pair in RELATION_PAIRS},
}


@dataclass(frozen=True, slots=True)
class RelationRule:
    """`kind.field` (a dot path holding a ref or a list of refs) relates the entity to its targets.

    `default_target_kind` None means refs must name their kind (e.g. `dependsOn`).
    """

    kind: str
    field: str
    default_target_kind: str | None
    forward_type: str
    reverse_type: str


class Relation(NamedTuple):
    """A directed edge between two canonical (lower-cased) entity refs (a tuple: cheap and sortable)."""

    source_ref: str
    type: str
    target_ref: str

    def as_entity_relation(self) -> dict[str, str]:
        """The `{type, targetRef}` item that appears in the source entity's `relations`."""
        return {"type": self.type, "targetRef": self.target_ref}


def _rules(
    kinds: Iterable[str], field: str, default_kind: str | None, forward: str, reverse: str
) -> list[RelationRule]:
    return [RelationRule(kind, field, default_kind, forward, reverse) for kind in kinds]


# Backstage's BuiltinKindsEntityProcessor table; Template.spec.owner comes from the scaffolder's
# entity-model module, which Backstage installs alongside the Template kind.
BUILTIN_RELATION_RULES: tuple[RelationRule, ...] = (
    *_rules(
        ("Component", "API", "Resource", "System", "Domain", "Template"),
        "spec.owner",
        "Group",
        RELATION_OWNED_BY,
        RELATION_OWNER_OF,
    ),
    *_rules(("Component",), "spec.subcomponentOf", "Component", RELATION_PART_OF, RELATION_HAS_PART),
    *_rules(("Component",), "spec.providesApis", "API", RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
    *_rules(("Component",), "spec.consumesApis", "API", RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
    *_rules(("Component", "Resource"), "spec.dependsOn", None, RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF),
    *_rules(
        ("Component", "Resource"), "spec.dependencyOf", None, RELATION_DEPENDENCY_OF, RELATION_DEPENDS_ON
    ),
    *_rules(("Component", "API", "Resource"), "spec.system", "System", RELATION_PART_OF, RELATION_HAS_PART),
    *_rules(("System",), "spec.domain", "Domain", RELATION_PART_OF, RELATION_HAS_PART),
    *_rules(("Domain",), "spec.subdomainOf", "Domain", RELATION_PART_OF, RELATION_HAS_PART),
    *_rules(("User",), "spec.memberOf", "Group", RELATION_MEMBER_OF, RELATION_HAS_MEMBER),
    *_rules(("Group",), "spec.parent", "Group", RELATION_CHILD_OF, RELATION_PARENT_OF),
    *_rules(("Group",), "spec.children", "Group", RELATION_PARENT_OF, RELATION_CHILD_OF),
    *_rules(("Group",), "spec.members", "User", RELATION_HAS_MEMBER, RELATION_MEMBER_OF),
)


_path_parts: dict[str, tuple[str, ...]] = {}


def _value_at(entity: Mapping[str, Any], dot_path: str) -> Any:
    parts = _path_parts.get(dot_path)
    if parts is None:  # rule fields are few and fixed: split each once
        parts = _path_parts[dot_path] = tuple(dot_path.split("."))
    value: Any = entity
    for part in parts:
        if type(value) is not dict and not isinstance(value, Mapping):  # the ABC check is slow
            return None
        value = value.get(part)
    return value


_new_tuple = tuple.__new__
_canonical_targets: dict[tuple[str, str | None, str], str] = {}
_CANONICAL_TARGET_CACHE_LIMIT = 100_000


def _canonical_target(target: str, default_kind: str | None, namespace: str) -> str:
    """Canonical ref of a spec target, remembered because owners and systems repeat a lot."""
    cache_key = (target, default_kind, namespace)
    canonical = _canonical_targets.get(cache_key)
    if canonical is None:
        parsed = parse_entity_ref(target, default_kind=default_kind, default_namespace=namespace)
        canonical = stringify_entity_ref(parsed)
        if len(_canonical_targets) >= _CANONICAL_TARGET_CACHE_LIMIT:
            _canonical_targets.clear()
        _canonical_targets[cache_key] = canonical
    return canonical


def relations_for(
    entity: Mapping[str, Any], kinds: KindRegistry | None = None
) -> tuple[list[Relation], list[EntityValidationError]]:
    """Both directions of every relation the entity's spec declares, de-duplicated, plus ref errors.

    A bad ref is reported against its field (`spec.owner`, `spec.dependsOn.0`) and skipped, so
    one typo does not hide the entity's other relations.
    """
    registry = kinds if kinds is not None else default_kind_registry()
    rules = registry.relation_rules(entity.get("kind"))
    if not rules:
        return [], []
    metadata = entity.get("metadata") or {}
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    self_ref = stringify_entity_ref(entity)
    relations: dict[Relation, None] = {}
    errors: list[EntityValidationError] = []
    cached_targets = _canonical_targets
    for rule in rules:
        declared = _value_at(entity, rule.field)
        if declared is None:
            continue
        is_list = isinstance(declared, list)
        default_kind = rule.default_target_kind
        for index, target in enumerate(declared if is_list else (declared,)):
            if type(target) is str:
                target_ref = cached_targets.get((target, default_kind, namespace))
            elif isinstance(target, str):
                target_ref = None
            else:
                field = f"{rule.field}.{index}" if is_list else rule.field
                errors.append(
                    EntityValidationError(field, f"{field}: must be an entity reference string", target)
                )
                continue
            if target_ref is None:
                try:
                    target_ref = _canonical_target(target, default_kind, namespace)
                except EntityRefError as problem:
                    field = f"{rule.field}.{index}" if is_list else rule.field
                    errors.append(EntityValidationError(field, f"{field}: {problem.message}", target))
                    continue
            # tuple.__new__ skips the NamedTuple's Python-level __new__ (same object, built in C).
            relations[_new_tuple(Relation, (self_ref, rule.forward_type, target_ref))] = None
            relations[_new_tuple(Relation, (target_ref, rule.reverse_type, self_ref))] = None
    return list(relations), errors


def merge_relations(relations: Iterable[Relation]) -> list[Relation]:
    """Unique relations in the stitcher's order (source, then type, then target).

    The same edge is often declared from both ends (User.memberOf and Group.members); the final
    entity must list it once.
    """
    return sorted(set(relations))


def relations_from(source_ref: str, relations: Iterable[Relation]) -> list[dict[str, str]]:
    """The `relations` array of one final entity: its outgoing edges, unique, sorted by type then target."""
    outgoing = {
        (relation.type, relation.target_ref) for relation in relations if relation.source_ref == source_ref
    }
    return [{"type": relation_type, "targetRef": target} for relation_type, target in sorted(outgoing)]


SORTED_SPEC_ARRAYS = (
    "providesApis",
    "consumesApis",
    "dependsOn",
    "dependencyOf",
    "memberOf",
    "children",
    "members",
)


def _utf16_order(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def _javascript_sorted(values: list[str]) -> list[str]:
    """JavaScript's default sort order (UTF-16 code units), so hashes match Backstage's."""
    if all(value.isascii() for value in values):
        return sorted(values)
    return sorted(values, key=_utf16_order)


def pre_process_sort(entity: Mapping[str, Any]) -> Mapping[str, Any]:
    """Sort the ref arrays whose order carries no meaning, so reordering them changes no hash.

    Returns the same object when nothing needs sorting, else a copy with a new `spec`.
    """
    spec = entity.get("spec")
    if not isinstance(spec, Mapping):
        return entity
    replacements: dict[str, list[str]] = {}
    for key in SORTED_SPEC_ARRAYS:
        values = spec.get(key)
        if isinstance(values, list) and len(values) > 1 and all(isinstance(value, str) for value in values):
            ordered = _javascript_sorted(values)
            if ordered != values:
                replacements[key] = ordered
    if not replacements:
        return entity
    return {**entity, "spec": {**spec, **replacements}}
