"""Locations: registered through the API (persisted) or configured in `catalog.locations`.

Each location becomes a `Location` entity named `generated-<sha1("type:target")>`, owned by a
provider bucket; processing that entity reads the target and emits what it contains. Deleting
a registered location removes its whole tree.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from greenroom.core.errors import ConflictError, InputError, NotAllowedError, NotFoundError
from greenroom.core.services.url_reader import UrlReader
from greenroom.plugins.catalog import tables as t
from greenroom.plugins.catalog.config import CatalogConfig
from greenroom.plugins.catalog.model import (
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    entity_ref_of,
)
from greenroom.plugins.catalog.processing.orchestrator import ANNOTATION_CONFIGURED_SOURCE, Orchestrator
from greenroom.plugins.catalog.processing.store import CatalogStore
from greenroom.plugins.catalog.processing.types import DeferredEntity

REGISTERED_PROVIDER = "DefaultLocationStore"

CONFIG_PROVIDER = "ConfigLocationProvider"


def generated_location_name(type_: str, target: str) -> str:
    return "generated-" + hashlib.sha1(f"{type_}:{target}".encode()).hexdigest()


def location_entity(
    type_: str,
    target: str,
    *,
    managed_by: str,
    origin: str,
    presence: str | None = None,
    configured_source: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_, "target": target}
    if presence:
        spec["presence"] = presence
    annotations = {
        ANNOTATION_MANAGED_BY_LOCATION: managed_by,
        ANNOTATION_MANAGED_BY_ORIGIN_LOCATION: origin,
    }
    if configured_source:
        annotations[ANNOTATION_CONFIGURED_SOURCE] = configured_source
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": generated_location_name(type_, target),
            "namespace": "default",
            "annotations": annotations,
        },
        "spec": spec,
    }


@dataclass(frozen=True)
class Location:
    id: str
    type: str
    target: str
    entity_ref: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "type": self.type, "target": self.target}


def normalize_target(type_: str, target: str) -> str:
    target = target.strip()
    if type_ == "file" and not target.startswith("file:"):
        return os.path.normpath(os.path.abspath(target))
    return target


def _glob_base(path: str) -> str:
    """The longest leading part of a file pattern without glob characters (what must be readable)."""
    if not any(c in path for c in "*?["):
        return path
    parts = Path(path).parts
    fixed = list(parts[: next(i for i, p in enumerate(parts) if any(c in p for c in "*?["))])
    return str(Path(*fixed)) if fixed else "/"


class LocationService:
    """Registers, lists and removes locations, keeping the provider bucket in step."""

    def __init__(
        self,
        store: CatalogStore,
        config: CatalogConfig,
        reader: UrlReader,
        orchestrator_factory: Callable[[], Orchestrator],
        *,
        wake: Callable[[], None],
        on_locations_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.config = config
        self.reader = reader
        self.orchestrator_factory = orchestrator_factory
        self.wake = wake
        self.on_locations_changed = on_locations_changed

    # ------------------------------------------------------------------ reads
    def list_locations(self) -> list[Location]:
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(sa.select(t.locations).order_by(t.locations.c.created_at, t.locations.c.id))
            return [Location(r.id, r.type, r.target, r.location_entity_ref) for r in rows]

    def get(self, location_id: str) -> Location:
        with self.store.read_engine.connect() as conn:
            row = conn.execute(sa.select(t.locations).where(t.locations.c.id == location_id)).first()
        if row is None:
            raise NotFoundError(f"Found no location with ID {location_id}")
        return Location(row.id, row.type, row.target, row.location_entity_ref)

    def find(self, type_: str, target: str) -> Location | None:
        ref = f"location:default/{generated_location_name(type_, target)}"
        with self.store.read_engine.connect() as conn:
            row = conn.execute(sa.select(t.locations).where(t.locations.c.location_entity_ref == ref)).first()
        return None if row is None else Location(row.id, row.type, row.target, row.location_entity_ref)

    def by_entity(self, origin: str | None) -> Location:
        if origin:
            type_, _, target = origin.partition(":")
            found = self.find(type_, target)
            if found is not None:
                return found
        raise NotFoundError("No location found for the entity (it did not come from a registered location)")

    def query(self, *, cursor: str | None, limit: int | None) -> tuple[list[Location], int, str | None]:
        offset = 0
        size = limit if limit and limit > 0 else 100
        if cursor:
            try:
                decoded = orjson.loads(base64.b64decode(cursor))
                offset = int(decoded["offset"])
                size = limit if limit and limit > 0 else int(decoded.get("limit", size))
            except Exception as error:
                raise InputError("Malformed cursor") from error
        everything = self.list_locations()
        page = everything[offset : offset + size]
        next_cursor = None
        if offset + size < len(everything):
            next_cursor = base64.b64encode(orjson.dumps({"offset": offset + size, "limit": size})).decode()
        return page, len(everything), next_cursor

    # ------------------------------------------------------------------ writes
    def _check_writable(self) -> None:
        if self.config.readonly:
            raise NotAllowedError(
                "This catalog is in read-only mode (catalog.readonly); locations cannot be changed"
            )

    def _validate(self, type_: Any, target: Any) -> tuple[str, str]:
        if not isinstance(type_, str) or not type_.strip():
            raise InputError("Location 'type' must be a non-empty string, e.g. 'url' or 'file'")
        if not isinstance(target, str) or not target.strip():
            raise InputError("Location 'target' must be a non-empty string")
        type_ = type_.strip()
        if type_ in ("http", "https"):
            raise InputError(f"Invalid location type '{type_}'; a URL location has type 'url'")
        if type_ not in self.config.allowed_location_types:
            raise InputError(
                f"Registered locations must be of an allowed type {self.config.allowed_location_types!r} "
                f"(catalog.allowedLocationTypes), got '{type_}'"
            )
        target = normalize_target(type_, target)
        if target.lower().startswith("javascript:"):
            raise InputError("Location target must not be a javascript: URL")
        if type_ == "file" and target.endswith(os.sep):
            raise InputError(f"A file location must point at a file, not a folder: {target}")
        if type_ == "url" and not target.lower().startswith(("http://", "https://")):
            raise InputError(f"A url location target must be an http(s) URL, got '{target}'")
        self.reader.check_allowed(target if type_ == "url" else _glob_base(target))
        return type_, target

    def create(
        self,
        type_: Any,
        target: Any,
        *,
        dry_run: bool = False,
        on_conflict: str | None = None,
        presence: Any = None,
    ) -> tuple[Location, list[dict[str, Any]], bool]:
        """Register a location; with dry_run, return what it would produce and store nothing."""
        type_, target = self._validate(type_, target)
        if presence not in (None, "required", "optional"):
            raise InputError(f"Location 'presence' must be 'required' or 'optional', got {presence!r}")
        if not dry_run:
            self._check_writable()
        existing = self.find(type_, target)
        strategy = on_conflict or self.config.default_location_conflict_strategy
        if dry_run:
            entity = location_entity(
                type_, target, managed_by=f"{type_}:{target}", origin=f"{type_}:{target}"
            )
            location = existing or Location(str(uuid.uuid4()), type_, target, entity_ref_of(entity))
            return location, self.preview(entity), existing is not None
        if existing is not None:
            if strategy != "refresh":
                raise ConflictError(f"Location {type_}:{target} already exists")
            self.store.refresh(existing.entity_ref, time.time())
            self.wake()
            return existing, [], True
        entity = location_entity(
            type_, target, managed_by=f"{type_}:{target}", origin=f"{type_}:{target}", presence=presence
        )
        location = Location(str(uuid.uuid4()), type_, target, entity_ref_of(entity))
        with self.store.engine.begin() as conn:
            conn.execute(
                t.locations.insert().values(
                    id=location.id,
                    type=type_,
                    target=target,
                    location_entity_ref=location.entity_ref,
                    created_at=time.time(),
                )
            )
        self.store.apply_provider_mutation(
            REGISTERED_PROVIDER, added=[DeferredEntity(entity, f"{type_}:{target}")]
        )
        self.wake()
        self.on_locations_changed()
        return location, [], False

    def update(self, location_id: str, type_: Any, target: Any) -> Location:
        self._check_writable()
        current = self.get(location_id)
        self.delete(location_id)
        created, _, _ = self.create(type_, target)
        with self.store.engine.begin() as conn:
            conn.execute(t.locations.update().where(t.locations.c.id == created.id).values(id=current.id))
        return Location(current.id, created.type, created.target, created.entity_ref)

    def delete(self, location_id: str) -> None:
        self._check_writable()
        location = self.get(location_id)
        with self.store.engine.begin() as conn:
            conn.execute(t.locations.delete().where(t.locations.c.id == location_id))
        self.store.apply_provider_mutation(REGISTERED_PROVIDER, removed=[location.entity_ref])
        self.wake()
        self.on_locations_changed()

    def sync_registered(self) -> None:
        """Make the provider bucket match the locations table (startup)."""
        entities = [
            DeferredEntity(
                location_entity(
                    loc.type,
                    loc.target,
                    managed_by=f"{loc.type}:{loc.target}",
                    origin=f"{loc.type}:{loc.target}",
                ),
                f"{loc.type}:{loc.target}",
            )
            for loc in self.list_locations()
        ]
        self.store.apply_provider_mutation(REGISTERED_PROVIDER, full=entities)

    def sync_config(self, base_dir: Path) -> None:
        entities = []
        for static in self.config.locations:
            target = static.target
            if static.type == "file" and not os.path.isabs(target):
                target = os.path.normpath(str(base_dir / target))
            entities.append(
                DeferredEntity(
                    location_entity(
                        static.type,
                        target,
                        managed_by="bootstrap:bootstrap",
                        origin="bootstrap:bootstrap",
                        presence=static.presence,
                        configured_source=f"{static.type}:{target}" if static.rules else None,
                    ),
                    "bootstrap:bootstrap",
                )
            )
        self.store.apply_provider_mutation(CONFIG_PROVIDER, full=entities)

    # ------------------------------------------------------------------ preview
    def preview(
        self, root: dict[str, Any], *, max_entities: int = 5000, max_depth: int = 10
    ) -> list[dict[str, Any]]:
        """Process a location tree in memory (dry run) and return every entity it would produce."""
        orchestrator = self.orchestrator_factory()
        produced: list[dict[str, Any]] = []
        seen: set[str] = set()
        frontier: Sequence[dict[str, Any]] = [root]
        for _ in range(max_depth):
            nxt: list[dict[str, Any]] = []
            for entity in frontier:
                outcome = orchestrator.process(entity)
                if outcome.entity is None:
                    first = outcome.errors[0] if outcome.errors else None
                    raise InputError(first.message if first else "Processing failed")
                if outcome.errors and entity is root:
                    raise InputError("; ".join(e.message for e in outcome.errors))
                for child in outcome.children:
                    if child.entity_ref in seen:
                        continue
                    seen.add(child.entity_ref)
                    produced.append(child.entity)
                    if len(produced) >= max_entities:
                        return produced
                    if str(child.entity.get("kind", "")).lower() == "location":
                        nxt.append(child.entity)
            if not nxt:
                break
            frontier = nxt
        return produced
