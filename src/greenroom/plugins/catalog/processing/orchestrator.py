"""Runs the processors over one entity in Backstage's order and collects the outcome.

Order: pre-process → validate (policies, kind) → read location (Location entities only) →
post-process → rules for emitted entities. A failure anywhere yields an outcome with errors
and no entity, so the caller keeps serving the last good version.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

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
from greenroom.plugins.catalog.processing.children import ChildSpool
from greenroom.plugins.catalog.processing.processors import ProcessingFailure, resolve_target
from greenroom.plugins.catalog.processing.types import (
    CatalogProcessor,
    Emit,
    EmittedEntity,
    EmittedError,
    EmittedRelation,
    JsonDict,
    LocationSpec,
    ProcessorCache,
)

logger = logging.getLogger("greenroom.catalog.processing")

# Names the configured source (a `catalog.locations` entry or a file-tree folder) an entity came
# through; children inherit it so that source's own `rules` apply to its whole tree, and only there.
ANNOTATION_CONFIGURED_SOURCE = "greenroom.dev/configured-source"


@dataclass
class ProcessingOutcome:
    """What processing one entity produced.

    `children` are only those read this round (serialised, see `ChildSpool`); `unchanged_locations` are location keys whose
    children stay as they are (their input did not change). `location_digests` has one digest
    per location key of its children, carried over for unchanged ones, so that the result hash
    is the same whether a location was read again or skipped. `cache` is the entity's processor
    cache to store for the next round (None: nothing to keep).
    """

    ok: bool
    entity: JsonDict | None
    relations: list[EmittedRelation] = field(default_factory=list)
    errors: list[EmittedError] = field(default_factory=list)
    children: ChildSpool = field(default_factory=ChildSpool)
    refresh_keys: set[str] = field(default_factory=set)
    unchanged_locations: set[str] = field(default_factory=set)
    location_digests: dict[str, str] = field(default_factory=dict)
    cache: str | None = None


CACHE_FORMAT = 2  # 2: children digests are taken over their serialised records


def _jsonable(value: Any) -> Any:
    """Config objects (pydantic models) in the cache context fingerprint."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else repr(value)


def _error_from_status(status: JsonDict) -> EmittedError:
    return EmittedError(
        parse_location_annotation(status.get("location")),
        str(status.get("name", "Error")),
        str(status.get("message", "")),
        status.get("line"),
        status.get("field"),
    )


class _ScopedCache:
    """One processor's view of the entity cache; `bypass` hides the previous round's values."""

    def __init__(self, previous: JsonDict, current: JsonDict, *, bypass: bool = False) -> None:
        self._previous = previous
        self._current = current
        self._bypass = bypass

    def get(self, key: str) -> Any:
        return None if self._bypass else self._previous.get(key)

    def set(self, key: str, value: Any) -> None:
        self._current[key] = value


def reading_input_hash(unprocessed: JsonDict, unprocessed_hash: str) -> str:
    """What a Location's cached reads depend on: the entity without its list of targets.

    A file's cached entry is keyed by its path and checked by its etag, so adding or removing a
    target (or a root `all.yaml` losing one file) leaves every other file's entry valid. Any
    other change (type, presence, annotations that children inherit) reads everything again.
    """
    spec = unprocessed.get("spec")
    if str(unprocessed.get("kind", "")).lower() != "location" or not isinstance(spec, dict):
        return unprocessed_hash
    without_targets = {
        **unprocessed,
        "spec": {k: v for k, v in spec.items() if k not in ("target", "targets")},
    }
    return hashlib.sha1(orjson.dumps(without_targets, option=orjson.OPT_SORT_KEYS)).hexdigest()


class EntityCache:
    """The processor caches of one entity, persisted as one JSON object (`refresh_state.cache`).

    `{"v", "input", "context", "processors": {name: {key: value}}, "locations": {key: {"digest",
    "errors"}}, "stale": [key]}`: what each processor `set`, and per location key the digest of
    its children and the errors raised while collecting them, to replay for unchanged locations.
    The previous state only counts when it was made from the same unprocessed entity (`input`)
    and configuration (`context`): a changed entity or config reads everything again. `stale`
    keys (see `forget_cached_locations`) are read again once.
    """

    def __init__(self, previous: JsonDict | None, input_hash: str | None, context: str) -> None:
        valid = (
            isinstance(previous, dict)
            and input_hash is not None
            and previous.get("v") == CACHE_FORMAT
            and previous.get("input") == input_hash
            and previous.get("context") == context
        )
        state: JsonDict = previous if valid and previous is not None else {}
        self.input_hash = input_hash
        self.context = context
        self.previous_processors: dict[str, JsonDict] = state.get("processors") or {}
        self.previous_locations: dict[str, JsonDict] = state.get("locations") or {}
        self.stale: set[str] = set(state.get("stale") or ())
        self.processors: dict[str, JsonDict] = {}
        self.locations: dict[str, JsonDict] = {}
        self._views: dict[tuple[str, bool], ProcessorCache] = {}

    @classmethod
    def load(cls, text: str | None, input_hash: str | None, context: str) -> EntityCache:
        previous: JsonDict | None = None
        if text:
            try:
                loaded = orjson.loads(text)
            except orjson.JSONDecodeError:
                loaded = None
            previous = loaded if isinstance(loaded, dict) else None
        return cls(previous, input_hash, context)

    def scoped(self, processor: CatalogProcessor, *, bypass: bool = False) -> ProcessorCache:
        """`processor`'s own view: it sees only what it stored itself."""
        view = self._views.get((processor.name, bypass))
        if view is None:
            current = self.processors.setdefault(processor.name, {})
            previous = self.previous_processors.get(processor.name) or {}
            view = self._views[(processor.name, bypass)] = _ScopedCache(previous, current, bypass=bypass)
        return view

    def dumps(self) -> str | None:
        processors = {name: values for name, values in self.processors.items() if values}
        if self.input_hash is None or not (processors or self.locations):
            return None
        state = {
            "v": CACHE_FORMAT,
            "input": self.input_hash,
            "context": self.context,
            "processors": processors,
            "locations": self.locations,
        }
        return orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode()


def forget_cached_locations(text: str | None, location_keys: Iterable[str]) -> str | None:
    """The cache `text` with `location_keys` marked stale: they are read again next time."""
    keys = set(location_keys)
    if not text or not keys:
        return text
    try:
        state = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(state, dict):
        return None
    stale = set(state.get("stale") or ()) | keys
    state["stale"] = sorted(stale)
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode()


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
        # what cached reads depend on besides the entity itself: a change reads everything again
        self.cache_context = hashlib.sha1(
            orjson.dumps(
                {
                    "format": CACHE_FORMAT,
                    "processors": [p.name for p in self.processors],
                    "rules": rules.rules,
                    "sourceRules": rules.source_rules,
                    "allowedLocationTypes": sorted(self.allowed_location_types),
                    "roots": list(reader.roots),
                    "maxBytes": reader.max_bytes,
                },
                default=_jsonable,
                option=orjson.OPT_SORT_KEYS,
            )
        ).hexdigest()

    def process(
        self, unprocessed: JsonDict, *, cache: str | None = None, input_hash: str | None = None
    ) -> ProcessingOutcome:
        """Process one entity; `cache` is what the previous round stored for it.

        `input_hash` identifies the unprocessed entity the cache must have been made from
        (without it nothing is cached: every location is read).
        """
        annotations = (unprocessed.get("metadata") or {}).get("annotations") or {}
        location = parse_location_annotation(annotations.get(ANNOTATION_MANAGED_BY_LOCATION)) or LocationSpec(
            "bootstrap", "bootstrap"
        )
        origin = parse_location_annotation(annotations.get(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION)) or location
        if input_hash is not None:
            input_hash = reading_input_hash(unprocessed, input_hash)
        entity_cache = EntityCache.load(cache, input_hash, self.cache_context)
        emit = Emit()
        collector = _ChildCollector(self.rules, origin)
        try:
            entity = self._run(unprocessed, location, origin, emit, entity_cache, collector)
        except ProcessingFailure as failure:
            emit.error(location, failure.message, name=failure.name, field=failure.field)
            return ProcessingOutcome(
                ok=False, entity=None, errors=emit.errors, refresh_keys=emit.refresh_keys, cache=cache
            )
        except Exception as error:  # a processor bug must not stop the loop
            logger.exception("Processor crashed on %s", location.ref)
            emit.error(location, f"Processing crashed: {type(error).__name__}: {error}", name="Error")
            return ProcessingOutcome(
                ok=False, entity=None, errors=emit.errors, refresh_keys=emit.refresh_keys, cache=cache
            )
        # entities emitted outside Location targets (by pre- or post-processors)
        collector.collect(entity, emit.entities, emit)
        emit.entities.clear()
        children, collect_errors = collector.children, collector.errors
        digests = children.digests()
        read_keys = set(digests) | set(collect_errors)
        unchanged = emit.unchanged_locations - read_keys
        for key in read_keys:
            entry: JsonDict = {}
            if key in digests:
                entry["digest"] = digests[key]
            if collect_errors.get(key):
                entry["errors"] = [e.as_status() for e in collect_errors[key]]
            entity_cache.locations[key] = entry
        for key in sorted(unchanged):
            # replay what collecting its children reported last time, and their digest
            previous = entity_cache.previous_locations.get(key)
            if not previous:
                continue
            entity_cache.locations[key] = previous
            if previous.get("digest"):
                digests[key] = previous["digest"]
            emit.errors.extend(_error_from_status(e) for e in previous.get("errors") or [])
        return ProcessingOutcome(
            ok=not emit.errors,
            entity=entity,
            relations=emit.relations,
            errors=emit.errors,
            children=children,
            refresh_keys=emit.refresh_keys,
            unchanged_locations=unchanged,
            location_digests=digests,
            cache=entity_cache.dumps(),
        )

    def _run(
        self,
        entity: JsonDict,
        location: LocationSpec,
        origin: LocationSpec,
        emit: Emit,
        cache: EntityCache,
        collector: _ChildCollector,
    ) -> JsonDict:
        original_ref = entity_ref_of(entity)
        for processor in self.processors:
            entity = processor.pre_process_entity(entity, location, emit, origin, cache.scoped(processor))
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
            self._read_location_targets(entity, location, emit, cache, collector)
        for processor in self.processors:
            entity = processor.post_process_entity(entity, location, emit, cache.scoped(processor))
        return entity

    def _read_target(
        self, target: LocationSpec, optional: bool, emit: Emit, cache: EntityCache, *, bypass: bool
    ) -> bool:
        return any(
            p.read_location(target, optional, emit, cache.scoped(p, bypass=bypass)) for p in self.processors
        )

    def _read_location_targets(
        self,
        entity: JsonDict,
        location: LocationSpec,
        emit: Emit,
        cache: EntityCache,
        collector: _ChildCollector,
    ) -> None:
        """Read every target; each target's entities are collected (serialised) as soon as it is read."""
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
            target_emit = Emit()
            handled = self._read_target(spec_location, optional, target_emit, cache, bypass=False)
            if handled and target_emit.unchanged_locations & cache.stale:
                # a refresh asked for a location the processor kept: read this target for real
                target_emit = Emit()
                handled = self._read_target(spec_location, optional, target_emit, cache, bypass=True)
            read, target_emit.entities = target_emit.entities, []
            emit.extend(target_emit)
            collector.collect(entity, read, emit)
            del read
            if not handled:
                emit.error(
                    location,
                    f"No processor was able to handle reading of {spec_location.ref}",
                    name="InputError",
                )


class _ChildCollector:
    """Turns emitted entities into children of one parent as they arrive, keeping them serialised.

    Checks each one's envelope and the catalog rules, stamps the location annotations and
    appends it to a `ChildSpool`; what it refuses becomes an error on the parent, grouped by
    location key so an unchanged location can replay its errors.
    """

    def __init__(self, rules: CatalogRules, origin: LocationSpec) -> None:
        self.rules = rules
        self.origin = origin
        self.origin_ref = origin.ref
        self.children = ChildSpool()
        self.errors: dict[str, list[EmittedError]] = defaultdict(list)

    def collect(self, parent: JsonDict, emitted_entities: Sequence[EmittedEntity], emit: Emit) -> None:
        if not emitted_entities:
            return
        parent_ref = entity_ref_of(parent)
        parent_annotations = (parent.get("metadata") or {}).get("annotations") or {}
        configured_source = parent_annotations.get(ANNOTATION_CONFIGURED_SOURCE)
        refs_of_locations: dict[LocationSpec, str] = {}
        for emitted in emitted_entities:
            location_ref = refs_of_locations.get(emitted.location)
            if location_ref is None:
                location_ref = refs_of_locations[emitted.location] = emitted.location.ref
            first_error = len(emit.errors)
            self._collect(emitted, location_ref, parent_ref, configured_source, emit)
            if len(emit.errors) > first_error:
                self.errors[emitted.location_key or location_ref].extend(emit.errors[first_error:])

    def _collect(
        self,
        emitted: EmittedEntity,
        location_ref: str,
        parent_ref: str,
        configured_source: Any,
        emit: Emit,
    ) -> None:
        entity = emitted.entity
        origin = self.origin
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
            return
        ref = entity_ref_of(entity)
        if ref == parent_ref:
            logger.warning("Ignoring %s emitted by itself from %s", ref, emitted.location.ref)
            return
        if not self.rules.is_allowed(entity, origin, configured_source):
            emit.error(
                emitted.location,
                f"Entity {ref} at {emitted.location.ref}"
                + (f":{emitted.line}" if emitted.line else "")
                + f" is not of an allowed kind for that location (origin {origin.ref}); see catalog.rules",
                name="NotAllowedError",
                line=emitted.line,
            )
            return
        annotations = (
            dict(metadata.get("annotations") or {}) if isinstance(metadata.get("annotations"), dict) else {}
        )
        if isinstance(metadata.get("annotations"), dict) or "annotations" not in metadata:
            annotations[ANNOTATION_MANAGED_BY_LOCATION] = location_ref
            annotations[ANNOTATION_MANAGED_BY_ORIGIN_LOCATION] = self.origin_ref
            if configured_source:
                annotations[ANNOTATION_CONFIGURED_SOURCE] = configured_source
            else:
                annotations.pop(ANNOTATION_CONFIGURED_SOURCE, None)  # not settable from a file
            entity = {**entity, "metadata": {**metadata, "annotations": annotations}}
        self.children.append(ref, emitted.location_key or location_ref, entity)
