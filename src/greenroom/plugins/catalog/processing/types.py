"""What processors and entity providers see: Backstage's processing contract, in Python.

A processor may implement any of the four stages (pre-process, validate kind, read location,
post-process) and emit results through `Emit`: child entities, relations, errors and refresh
keys. A provider owns a bucket of entities and applies full or delta mutations to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class LocationSpec:
    """Where something is read from: `file:/abs/path` or `url:https://...`."""

    type: str
    target: str
    presence: Literal["required", "optional"] = "required"

    @property
    def ref(self) -> str:
        return f"{self.type}:{self.target}"


@dataclass(frozen=True)
class EmittedEntity:
    location: LocationSpec
    entity: JsonDict
    location_key: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class EmittedRelation:
    source_ref: str
    type: str
    target_ref: str


@dataclass(frozen=True)
class EmittedError:
    location: LocationSpec | None
    name: str
    message: str
    line: int | None = None
    field: str | None = None

    def as_status(self) -> JsonDict:
        error: JsonDict = {"name": self.name, "message": self.message}
        if self.location is not None:
            error["location"] = self.location.ref
        if self.line is not None:
            error["line"] = self.line
        if self.field:
            error["field"] = self.field
        return error


@dataclass
class Emit:
    """Collects what the processors of one entity produce.

    `unchanged_locations` are location keys whose input a processor found unchanged since the
    previous processing (e.g. same file etag): it emitted nothing for them, and the entities
    read from there last time stay as they are instead of being orphaned.
    """

    entities: list[EmittedEntity] = field(default_factory=list)
    relations: list[EmittedRelation] = field(default_factory=list)
    errors: list[EmittedError] = field(default_factory=list)
    refresh_keys: set[str] = field(default_factory=set)
    unchanged_locations: set[str] = field(default_factory=set)

    def entity(
        self,
        location: LocationSpec,
        entity: JsonDict,
        *,
        location_key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.entities.append(EmittedEntity(location, entity, location_key, line))

    def relation(self, source_ref: str, type_: str, target_ref: str) -> None:
        self.relations.append(EmittedRelation(source_ref, type_, target_ref))

    def error(
        self,
        location: LocationSpec | None,
        message: str,
        *,
        name: str = "InputError",
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.errors.append(EmittedError(location, name, message, line, field))

    def refresh(self, key: str) -> None:
        self.refresh_keys.add(key)

    def unchanged(self, location_key: str) -> None:
        """Keep the entities previously read from `location_key`; re-emit its errors yourself."""
        self.unchanged_locations.add(location_key)

    def extend(self, other: Emit) -> None:
        self.entities.extend(other.entities)
        self.relations.extend(other.relations)
        self.errors.extend(other.errors)
        self.refresh_keys |= other.refresh_keys
        self.unchanged_locations |= other.unchanged_locations


class ProcessorCache(Protocol):
    """State a processor keeps for one entity between processing rounds (Backstage's cache).

    `get` returns what this processor `set` under `key` the previous time it processed the
    same entity, or None (first time, entity or config changed, explicit refresh). Only what
    is `set` in this round is kept for the next. Values must be JSON-serialisable.
    """

    def get(self, key: str) -> Any: ...
    def set(self, key: str, value: Any) -> None: ...


class CatalogProcessor:
    """Base class for processors; override the stages you need.

    Lower `priority` runs earlier (Backstage's default is 20). A processor must be cheap: it
    runs for every entity on every processing round.
    """

    name: str = "processor"
    priority: int = 20

    def pre_process_entity(
        self,
        entity: JsonDict,
        location: LocationSpec,
        emit: Emit,
        origin: LocationSpec,
        cache: ProcessorCache,
    ) -> JsonDict:
        return entity

    def validate_entity_kind(self, entity: JsonDict) -> bool:
        return False

    def read_location(
        self, location: LocationSpec, optional: bool, emit: Emit, cache: ProcessorCache
    ) -> bool:
        return False

    def post_process_entity(
        self, entity: JsonDict, location: LocationSpec, emit: Emit, cache: ProcessorCache
    ) -> JsonDict:
        return entity


@dataclass(frozen=True)
class DeferredEntity:
    entity: JsonDict
    location_key: str | None = None


@dataclass(frozen=True)
class FullMutation:
    entities: Sequence[DeferredEntity]
    type: Literal["full"] = "full"


@dataclass(frozen=True)
class DeltaMutation:
    added: Sequence[DeferredEntity] = ()
    removed: Sequence[str] = ()  # entity refs
    type: Literal["delta"] = "delta"


class EntityProviderConnection(Protocol):
    def apply_mutation(self, mutation: FullMutation | DeltaMutation) -> None: ...
    def refresh(self, keys: Sequence[str]) -> None: ...


class EntityProvider(Protocol):
    """Owns a bucket of entities (by provider name) and keeps it up to date."""

    def get_provider_name(self) -> str: ...
    def connect(self, connection: EntityProviderConnection) -> None: ...


PlaceholderResolver = Callable[[Mapping[str, Any]], Any]
