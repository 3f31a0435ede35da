"""Which kinds the catalog accepts, with their schemas and the relations their fields produce.

A module adds a kind with `KindRegistry.register`; the built-ins are registered the same way by
`KindRegistry.default()`, so custom kinds get exactly the treatment the built-in ones get.
Compiled schemas are cached per schema content, because validation runs for every entity.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fastjsonschema

from ..errors import EntityValidationError
from .schemas import BUILTIN_KIND_SCHEMAS, ENVELOPE_SCHEMA, JsonSchema

if TYPE_CHECKING:
    from ..relations import RelationRule

SchemaValidator = Callable[[Any], Any]

_compiled_by_schema: dict[str, SchemaValidator] = {}
_INDEX_IN_NAME = re.compile(r"\[(\d+)\]")
_TYPE_NAMES = {
    "string": "a string",
    "object": "an object",
    "array": "an array",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "null": "null",
}


def compile_schema(schema: JsonSchema) -> SchemaValidator:
    """Compile (once per distinct schema content) a fastjsonschema validator."""
    cache_key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    validator = _compiled_by_schema.get(cache_key)
    if validator is None:
        validator = fastjsonschema.compile(schema)
        _compiled_by_schema[cache_key] = validator
    return validator


def _dot_path(fastjsonschema_name: str) -> str:
    """`data.spec.providesApis[1]` -> `spec.providesApis.1`."""
    path = _INDEX_IN_NAME.sub(r".\1", fastjsonschema_name)
    return path[5:] if path.startswith("data.") else ("" if path == "data" else path)


def _expected_type(type_rule: Any) -> str:
    names = type_rule if isinstance(type_rule, list) else [type_rule]
    return " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def schema_errors(validator: SchemaValidator, entity: Any) -> list[EntityValidationError]:
    """Run a compiled schema and turn its (first) failure into readable, field-named errors."""
    try:
        validator(entity)
    except fastjsonschema.JsonSchemaValueException as failure:
        return _describe_failure(failure)
    return []


def _describe_failure(failure: fastjsonschema.JsonSchemaValueException) -> list[EntityValidationError]:
    path = _dot_path(failure.name or "data")
    rule, definition, value = failure.rule, failure.rule_definition, failure.value
    shown = path or "entity"
    if rule == "required" and isinstance(value, Mapping) and isinstance(definition, list):
        missing = [key for key in definition if key not in value] or list(definition)
        return [
            EntityValidationError(_join(path, key), f"{_join(path, key)} is required", None)
            for key in missing
        ]
    if rule == "type":
        message = f"{shown}: must be {_expected_type(definition)}"
    elif rule == "minLength":
        message = (
            f"{shown}: must not be empty"
            if definition == 1
            else f"{shown}: must be at least {definition} characters"
        )
    elif rule == "maxLength":
        message = f"{shown}: must be at most {definition} characters"
    elif rule == "minItems":
        message = f"{shown}: must have at least {definition} item{'s' if definition != 1 else ''}"
    elif rule == "enum":
        message = f"{shown}: must be one of {', '.join(json.dumps(option) for option in definition)}"
    elif rule == "const":
        message = f"{shown}: must be {json.dumps(definition)}"
    elif rule == "pattern":
        message = f"{shown}: must match the pattern {definition}"
    elif rule in ("anyOf", "oneOf"):
        message = f"{shown}: does not match any of the allowed shapes"
    elif rule == "additionalProperties" and isinstance(value, Mapping):
        message = f"{shown}: has unexpected properties"
    else:
        message = f"{shown}: {failure.message.removeprefix((failure.name or 'data') + ' ')}"
    return [EntityValidationError(path, message, value)]


_envelope_validator: SchemaValidator | None = None


def envelope_errors(entity: Any) -> list[EntityValidationError]:
    """Schema-check the envelope only (used when the kind itself is not recognized)."""
    global _envelope_validator
    if _envelope_validator is None:
        _envelope_validator = compile_schema(ENVELOPE_SCHEMA)
    return schema_errors(_envelope_validator, entity)


@dataclass(slots=True)
class KindDefinition:
    """One accepted kind: its apiVersions, its spec schema and its relation rules."""

    kind: str
    api_versions: tuple[str, ...]
    schema: JsonSchema
    relation_rules: tuple[RelationRule, ...] = ()
    _validator: SchemaValidator | None = field(default=None, repr=False)

    def validate(self, entity: Any) -> list[EntityValidationError]:
        """Check the envelope and this kind's schema together, in one compiled call."""
        if self._validator is None:
            self._validator = compile_schema({"allOf": [ENVELOPE_SCHEMA, self.schema]})
        return schema_errors(self._validator, entity)


class KindRegistry:
    """Kinds keyed by their exact `kind` and `apiVersion` (Backstage matches both case-sensitively)."""

    def __init__(self) -> None:
        self._by_kind: dict[str, KindDefinition] = {}
        self._by_kind_and_version: dict[tuple[str, str], KindDefinition] = {}

    @classmethod
    def default(cls) -> KindRegistry:
        """A new registry holding the built-in kinds and relation rules (safe to extend)."""
        from ..relations import BUILTIN_RELATION_RULES

        registry = cls()
        for kind, (api_versions, schema) in BUILTIN_KIND_SCHEMAS.items():
            rules = [rule for rule in BUILTIN_RELATION_RULES if rule.kind == kind]
            registry.register(kind, api_versions, schema, rules)
        return registry

    def register(
        self,
        kind: str,
        api_versions: Sequence[str],
        schema: JsonSchema,
        relation_rules: Sequence[RelationRule] = (),
    ) -> KindDefinition:
        """Accept `kind` at the given apiVersions; `schema` validates the whole entity.

        Registering a kind again replaces it (a module may tighten a built-in kind).
        """
        if not kind or not api_versions:
            raise ValueError("a kind needs a name and at least one apiVersion")
        for rule in relation_rules:
            if rule.kind != kind:
                raise ValueError(f"relation rule for {rule.kind}.{rule.field} registered under kind {kind}")
        previous = self._by_kind.get(kind)
        if previous is not None:
            for api_version in previous.api_versions:
                self._by_kind_and_version.pop((kind, api_version), None)
        definition = KindDefinition(kind, tuple(api_versions), schema, tuple(relation_rules))
        self._by_kind[kind] = definition
        for api_version in definition.api_versions:
            self._by_kind_and_version[(kind, api_version)] = definition
        return definition

    def add_relation_rules(self, rules: Iterable[RelationRule]) -> None:
        """Let a module derive relations from more fields of an already registered kind."""
        for rule in rules:
            definition = self._by_kind.get(rule.kind)
            if definition is None:
                raise ValueError(f"cannot add a relation rule to unknown kind {rule.kind}")
            definition.relation_rules = (*definition.relation_rules, rule)

    def lookup(self, kind: Any, api_version: Any) -> KindDefinition | None:
        """The definition accepting this exact kind and apiVersion, if any."""
        if not isinstance(kind, str) or not isinstance(api_version, str):
            return None
        return self._by_kind_and_version.get((kind, api_version))

    def recognizes(self, entity: Mapping[str, Any]) -> bool:
        """Whether some registered kind accepts the entity's exact kind and apiVersion."""
        return self.lookup(entity.get("kind"), entity.get("apiVersion")) is not None

    def relation_rules(self, kind: Any) -> tuple[RelationRule, ...]:
        definition = self._by_kind.get(kind) if isinstance(kind, str) else None
        return definition.relation_rules if definition is not None else ()

    def kinds(self) -> list[str]:
        return list(self._by_kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind


_shared_default: KindRegistry | None = None


def default_kind_registry() -> KindRegistry:
    """A process-wide built-in registry for callers that pass no registry (never mutate it)."""
    global _shared_default
    if _shared_default is None:
        _shared_default = KindRegistry.default()
    return _shared_default
