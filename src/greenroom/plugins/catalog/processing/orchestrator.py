"""Runs the processors over one entity in Backstage's order and collects the outcome.

Order: pre-process → validate (policies, kind) → read location (Location entities only) →
post-process → rules for emitted entities. A failure anywhere yields an outcome with errors
and no entity, so the caller keeps serving the last good version.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from greenroom.core.services.url_reader import UrlReader
from greenroom.plugins.catalog.config import CatalogRule, KindMatcher
from greenroom.plugins.catalog.model import (
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    EntityValidationErrors,
    KindRegistry,
    entity_ref_of,
    prepare_entity,
)
from greenroom.plugins.catalog.processing.processors import ProcessingFailure, resolve_target
from greenroom.plugins.catalog.processing.types import (
    CatalogProcessor,
    Emit,
    EmittedError,
    EmittedRelation,
    JsonDict,
    LocationSpec,
)

logger = logging.getLogger("greenroom.catalog.processing")

# Names the configured source (a `catalog.locations` entry or a file-tree folder) an entity came
# through; children inherit it so that source's own `rules` apply to its whole tree, and only there.
ANNOTATION_CONFIGURED_SOURCE = "greenroom.dev/configured-source"


@dataclass
class ChildEntity:
    entity: JsonDict
    entity_ref: str
    location_key: str


@dataclass
class ProcessingOutcome:
    ok: bool
    entity: JsonDict | None
    relations: list[EmittedRelation] = field(default_factory=list)
    errors: list[EmittedError] = field(default_factory=list)
    children: list[ChildEntity] = field(default_factory=list)
    refresh_keys: set[str] = field(default_factory=set)


class _NoCache:
    def get(self, key: str) -> Any:
        return None

    def set(self, key: str, value: Any) -> None:
        return None


def parse_location_annotation(value: Any) -> LocationSpec | None:
    if not isinstance(value, str) or ":" not in value:
        return None
    type_, _, target = value.partition(":")
    if not type_.strip() or not target.strip():
        return None
    return LocationSpec(type_.strip(), target.strip())


class CatalogRules:
    """Decides which kinds an origin location may bring into the catalog (`catalog.rules`)."""

    def __init__(self, rules: Sequence[CatalogRule], source_rules: dict[str, Sequence[CatalogRule]]) -> None:
        self.rules = list(rules)
        self.source_rules = source_rules

    def is_allowed(
        self, entity: JsonDict, origin: LocationSpec, configured_source: str | None = None
    ) -> bool:
        """Global rules, plus the rules of the configured source the entity came through (if any)."""
        extra = self.source_rules.get(configured_source, ()) if configured_source else ()
        for rule in [*self.rules, *extra]:
            if rule.locations is not None and not any(
                self._location_matches(r, origin) for r in rule.locations
            ):
                continue
            if any(self._kind_matches(matcher, entity) for matcher in rule.allow):
                return True
        return False

    @staticmethod
    def _location_matches(rule_location: Any, origin: LocationSpec) -> bool:
        if rule_location.type != origin.type:
            return False
        if rule_location.exact is not None:
            return bool(rule_location.exact == origin.target)
        if rule_location.pattern is not None:
            return fnmatch.fnmatch(origin.target, rule_location.pattern)
        return True

    @staticmethod
    def _kind_matches(matcher: str | KindMatcher, entity: JsonDict) -> bool:
        kind = str(entity.get("kind", "")).lower()
        if isinstance(matcher, str):
            return matcher.lower() == kind
        if matcher.kind.lower() != kind:
            return False
        if matcher.spec_type is None:
            return True
        spec = entity.get("spec")
        return isinstance(spec, dict) and str(spec.get("type", "")).lower() == matcher.spec_type.lower()


class Orchestrator:
    """Processes one entity with the registered processors (sorted by priority)."""

    def __init__(
        self,
        processors: Sequence[CatalogProcessor],
        *,
        kinds: KindRegistry,
        rules: CatalogRules,
        reader: UrlReader,
        allowed_location_types: Sequence[str],
    ) -> None:
        self.processors = sorted(processors, key=lambda p: p.priority)
        self.kinds = kinds
        self.rules = rules
        self.reader = reader
        self.allowed_location_types = set(allowed_location_types)
        self._cache = _NoCache()

    def process(self, unprocessed: JsonDict) -> ProcessingOutcome:
        annotations = (unprocessed.get("metadata") or {}).get("annotations") or {}
        location = parse_location_annotation(annotations.get(ANNOTATION_MANAGED_BY_LOCATION)) or LocationSpec(
            "bootstrap", "bootstrap"
        )
        origin = parse_location_annotation(annotations.get(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION)) or location
        emit = Emit()
        try:
            entity = self._run(unprocessed, location, origin, emit)
        except ProcessingFailure as failure:
            emit.error(location, failure.message, name=failure.name, field=failure.field)
            return ProcessingOutcome(
                ok=False, entity=None, errors=emit.errors, refresh_keys=emit.refresh_keys
            )
        except Exception as error:  # a processor bug must not stop the loop
            logger.exception("Processor crashed on %s", location.ref)
            emit.error(location, f"Processing crashed: {type(error).__name__}: {error}", name="Error")
            return ProcessingOutcome(
                ok=False, entity=None, errors=emit.errors, refresh_keys=emit.refresh_keys
            )
        children = self._collect_children(entity, origin, emit)
        return ProcessingOutcome(
            ok=not emit.errors,
            entity=entity,
            relations=emit.relations,
            errors=emit.errors,
            children=children,
            refresh_keys=emit.refresh_keys,
        )

    def _run(self, entity: JsonDict, location: LocationSpec, origin: LocationSpec, emit: Emit) -> JsonDict:
        original_ref = entity_ref_of(entity)
        for processor in self.processors:
            entity = processor.pre_process_entity(entity, location, emit, origin, self._cache)
        try:
            entity = prepare_entity(entity, kinds=self.kinds)
        except EntityValidationErrors as failure:
            first = failure.errors[0]
            for extra in failure.errors[1:]:
                emit.error(location, extra.message, name="InputError", field=extra.field)
            raise ProcessingFailure("InputError", first.message, field=first.field) from failure
        if entity_ref_of(entity) != original_ref:
            raise ProcessingFailure(
                "InputError", "Fatal: The entity kind, namespace, or name changed during processing"
            )
        if not any(processor.validate_entity_kind(entity) for processor in self.processors):
            raise ProcessingFailure(
                "InputError",
                f"No processor recognized the entity {original_ref} as valid, possibly caused by a foreign kind "
                "or apiVersion",
            )
        if str(entity.get("kind", "")).lower() == "location":
            self._read_location_targets(entity, location, emit)
        for processor in self.processors:
            entity = processor.post_process_entity(entity, location, emit, self._cache)
        return entity

    def _read_location_targets(self, entity: JsonDict, location: LocationSpec, emit: Emit) -> None:
        spec = entity.get("spec") or {}
        type_ = spec.get("type") or location.type
        targets: list[str] = []
        if isinstance(spec.get("target"), str):
            targets.append(spec["target"])
        if isinstance(spec.get("targets"), list):
            targets.extend(t for t in spec["targets"] if isinstance(t, str))
        optional = spec.get("presence") == "optional"
        if type_ != location.type and type_ not in self.allowed_location_types:
            emit.error(
                location,
                f"Location type '{type_}' is not allowed (catalog.allowedLocationTypes: "
                f"{sorted(self.allowed_location_types)})",
                name="NotAllowedError",
            )
            return
        for raw_target in targets:
            # each target is isolated: one unreadable target does not stop its siblings
            try:
                target = (
                    resolve_target(self.reader, location, raw_target)
                    if type_ == location.type
                    else raw_target
                )
            except Exception as error:
                emit.error(location, f"Invalid target '{raw_target}': {error}", name="InputError")
                continue
            if type_ == "file" and target.endswith(("/", "\\")):
                emit.error(
                    location,
                    f"File location target must be a file, not a folder: {target}",
                    name="InputError",
                )
                continue
            spec_location = LocationSpec(type_, target, "optional" if optional else "required")
            if not any(p.read_location(spec_location, optional, emit, self._cache) for p in self.processors):
                emit.error(
                    location,
                    f"No processor was able to handle reading of {spec_location.ref}",
                    name="InputError",
                )

    def _collect_children(self, parent: JsonDict, origin: LocationSpec, emit: Emit) -> list[ChildEntity]:
        parent_ref = entity_ref_of(parent)
        parent_annotations = (parent.get("metadata") or {}).get("annotations") or {}
        configured_source = parent_annotations.get(ANNOTATION_CONFIGURED_SOURCE)
        children: list[ChildEntity] = []
        for emitted in emit.entities:
            entity = emitted.entity
            metadata = entity.get("metadata") if isinstance(entity, dict) else None
            if (
                not isinstance(entity, dict)
                or not isinstance(entity.get("kind"), str)
                or not entity.get("kind")
                or not isinstance(metadata, dict)
                or not isinstance(metadata.get("name"), str)
                or not metadata.get("name")
                or not isinstance(metadata.get("namespace", "default"), str)
            ):
                emit.error(
                    emitted.location,
                    "Entity is missing a kind or metadata.name, or they are not strings; expected an entity "
                    "envelope with apiVersion, kind, metadata.name",
                    name="InputError",
                    line=emitted.line,
                )
                continue
            ref = entity_ref_of(entity)
            if ref == parent_ref:
                logger.warning("Ignoring %s emitted by itself from %s", ref, emitted.location.ref)
                continue
            if not self.rules.is_allowed(entity, origin, configured_source):
                emit.error(
                    emitted.location,
                    f"Entity {ref} at {emitted.location.ref}"
                    + (f":{emitted.line}" if emitted.line else "")
                    + f" is not of an allowed kind for that location (origin {origin.ref}); see catalog.rules",
                    name="NotAllowedError",
                    line=emitted.line,
                )
                continue
            annotations = (
                dict(metadata.get("annotations") or {})
                if isinstance(metadata.get("annotations"), dict)
                else {}
            )
            if isinstance(metadata.get("annotations"), dict) or "annotations" not in metadata:
                annotations[ANNOTATION_MANAGED_BY_LOCATION] = emitted.location.ref
                annotations[ANNOTATION_MANAGED_BY_ORIGIN_LOCATION] = origin.ref
                if configured_source:
                    annotations[ANNOTATION_CONFIGURED_SOURCE] = configured_source
                else:
                    annotations.pop(ANNOTATION_CONFIGURED_SOURCE, None)  # not settable from a file
                entity = {**entity, "metadata": {**metadata, "annotations": annotations}}
            children.append(
                ChildEntity(
                    entity=entity, entity_ref=ref, location_key=emitted.location_key or emitted.location.ref
                )
            )
        return children
