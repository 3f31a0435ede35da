"""The catalog as a service: owns the store, the processing engine, locations and queries."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from greenroom.core.errors import GreenroomError, InputError, NotFoundError
from greenroom.core.services.events import EventsService
from greenroom.core.services.url_reader import UrlReader
from greenroom.plugins.catalog import tables as t
from greenroom.plugins.catalog.config import CatalogConfig
from greenroom.plugins.catalog.locations import LocationService, generated_location_name
from greenroom.plugins.catalog.model import (
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    EntityValidationErrors,
    KindRegistry,
    load_descriptor_documents,
    parse_entity_ref,
    prepare_entity,
    relations_for,
    stringify_entity_ref,
)
from greenroom.plugins.catalog.processing.engine import ProcessingEngine
from greenroom.plugins.catalog.processing.orchestrator import (
    CatalogRules,
    Orchestrator,
    ProcessingOutcome,
)
from greenroom.plugins.catalog.processing.processors import (
    AnnotateLocationProcessor,
    BuiltinKindsProcessor,
    LocationReaderProcessor,
    PlaceholderProcessor,
    Resolver,
)
from greenroom.plugins.catalog.processing.store import (
    QUEUE_COUNT_LIMIT,
    CatalogStore,
    ClaimedRow,
    EntityChange,
    retry_on_deadlock,
)
from greenroom.plugins.catalog.processing.types import (
    CatalogProcessor,
    DeltaMutation,
    EntityProvider,
    FullMutation,
)
from greenroom.plugins.catalog.providers.file_tree import FileTreeProvider, FileWatcher
from greenroom.plugins.catalog.query.entities import EntitiesQuery

ENTITY_EVENT_TOPIC = "catalog.entity"
ERRORS_EVENT_TOPIC = "experimental.catalog.errors"
CONFLICT_EVENT_TOPIC = "experimental.catalog.conflict"


class _ProviderConnection:
    def __init__(self, catalog: CatalogService, name: str) -> None:
        self.catalog = catalog
        self.name = name

    def apply_mutation(self, mutation: FullMutation | DeltaMutation) -> None:
        if isinstance(mutation, FullMutation):
            self.catalog.store.apply_provider_mutation(self.name, full=list(mutation.entities))
        else:
            self.catalog.store.apply_provider_mutation(
                self.name, added=list(mutation.added), removed=list(mutation.removed)
            )
        self.catalog.engine.wake()
        self.catalog.update_watched_folders()

    def refresh(self, keys: Sequence[str]) -> None:
        if self.catalog.store.refresh_keys(list(keys), time.time()):
            self.catalog.engine.wake()


class CatalogService:
    """Everything the router, the UI and other plugins ask of the catalog."""

    def __init__(
        self,
        *,
        engine: sa.Engine,
        config: CatalogConfig,
        reader: UrlReader,
        events: EventsService,
        logger: logging.Logger,
        kinds: KindRegistry,
        processors: Sequence[CatalogProcessor] = (),
        providers: Sequence[EntityProvider] = (),
        placeholder_resolvers: dict[str, Resolver] | None = None,
        base_dir: Path | None = None,
        run_background_work: bool = True,
    ) -> None:
        self.config = config
        self.reader = reader
        self.events = events
        self.logger = logger
        self.kinds = kinds
        self.base_dir = base_dir or Path.cwd()
        self.extra_processors = list(processors)
        self.placeholder_resolvers = dict(placeholder_resolvers or {})
        self.run_background_work = run_background_work
        self.store = CatalogStore(
            engine, on_conflict=lambda payload: events.publish(CONFLICT_EVENT_TOPIC, payload)
        )
        self.store.on_changes = self._publish_changes
        self.query = EntitiesQuery(engine)
        self.rules = self._build_rules()
        self.engine = ProcessingEngine(
            self.store,
            self.build_orchestrator(),
            config,
            on_changes=self._publish_changes,
            on_processed=self._publish_errors,
        )
        self.locations = LocationService(
            self.store,
            config,
            reader,
            self.build_orchestrator,
            wake=self.engine.wake,
            on_locations_changed=self.update_watched_folders,
        )
        self.file_tree_providers = [
            FileTreeProvider(self._absolute(Path(p.path)), p.pattern, has_rules=bool(p.rules))
            for p in config.providers.file_tree
        ]
        self.providers: list[EntityProvider] = [*self.file_tree_providers, *providers]
        self.watcher = FileWatcher(self._files_changed, self.file_tree_providers)

    # ------------------------------------------------------------------ wiring
    def _absolute(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    def _build_rules(self) -> CatalogRules:
        """Global rules plus each configured source's own rules, keyed by that source."""
        source_rules: dict[str, Any] = {}
        for static in self.config.locations:
            if static.rules:
                target = static.target
                if static.type == "file" and not os.path.isabs(target):
                    target = os.path.normpath(str(self.base_dir / target))
                source_rules[f"{static.type}:{target}"] = static.rules
        for provider in self.config.providers.file_tree:
            if provider.rules:
                root = self._absolute(Path(provider.path))
                source_rules[FileTreeProvider(root, provider.pattern).get_provider_name()] = provider.rules
        return CatalogRules(self.config.rules, source_rules)

    def build_orchestrator(self) -> Orchestrator:
        processors: list[CatalogProcessor] = [
            PlaceholderProcessor(self.reader, self.placeholder_resolvers),
            AnnotateLocationProcessor(),
            BuiltinKindsProcessor(self.kinds),
            LocationReaderProcessor(self.reader, self.reader.max_bytes),
            *self.extra_processors,
        ]
        return Orchestrator(
            processors,
            kinds=self.kinds,
            rules=self.rules,
            reader=self.reader,
            allowed_location_types=self.config.allowed_location_types,
        )

    def start(self) -> None:
        """Sync locations and providers into the database, then start the loop and the watcher."""
        self.locations.sync_config(self.base_dir)
        self.locations.sync_registered()
        for provider in self.providers:
            provider.connect(_ProviderConnection(self, provider.get_provider_name()))
        if self.run_background_work:
            self.engine.start()
            self.update_watched_folders()

    def stop(self) -> None:
        self.watcher.stop()
        self.engine.stop()

    def update_watched_folders(self) -> None:
        if not self.run_background_work:
            return
        folders: set[str] = set()
        for location in self.locations.list_locations():
            if location.type == "file":
                folders.add(os.path.dirname(location.target.split("*")[0]))
        for static in self.config.locations:
            if static.type == "file":
                target = static.target if os.path.isabs(static.target) else str(self.base_dir / static.target)
                folders.add(os.path.dirname(os.path.normpath(target).split("*")[0]))
        self.watcher.set_folders(folders)

    def _files_changed(self, paths: list[str]) -> None:
        keys = [f"file:{p}" for p in paths]
        if self.store.refresh_keys(keys, time.time()):
            self.engine.wake()

    def _publish_changes(self, changes: list[EntityChange]) -> None:
        for change in changes:
            self.events.publish(
                ENTITY_EVENT_TOPIC,
                {"action": change.action, "entityRef": change.entity_ref, "entityId": change.entity_id},
            )

    def _publish_errors(self, row: ClaimedRow, outcome: ProcessingOutcome) -> None:
        if outcome.errors:
            self.events.publish(
                ERRORS_EVENT_TOPIC,
                {"entityRef": row.entity_ref, "errors": [e.as_status() for e in outcome.errors]},
            )

    # ------------------------------------------------------------------ operations
    def _normalize_ref(self, ref: str) -> str:
        try:
            return stringify_entity_ref(parse_entity_ref(ref))
        except (ValueError, InputError) as error:
            raise InputError(str(error)) from error

    def refresh(self, entity_ref: str) -> None:
        ref = self._normalize_ref(entity_ref)
        if not self.store.refresh(ref, time.time()):
            raise NotFoundError(f"No entity with ref {ref}")
        self.engine.wake()

    def delete_entity_by_uid(self, uid: str) -> None:
        def delete() -> list[EntityChange]:
            with self.store.engine.begin() as conn:
                ref = conn.execute(
                    sa.select(t.refresh_state.c.entity_ref).where(t.refresh_state.c.entity_id == uid)
                ).scalar_one_or_none()
                if ref is None:
                    raise NotFoundError(f"No entity with uid {uid}")
                now = time.time()
                self.store.reprocess_parents_of_deleted(conn, ref, now)
                return self.store.delete_entities(conn, [ref], now)

        # the processing loop may be writing the same rows; a deadlock victim is simply retried
        changes: list[EntityChange] = retry_on_deadlock(delete)
        self._publish_changes(changes)
        self.engine.wake()

    def ancestry(self, entity_ref: str) -> dict[str, Any]:
        ref = self._normalize_ref(entity_ref)
        if self.query.entity_by_ref(ref) is None:
            raise NotFoundError(f"No such entity {ref}")
        chain = self.store.ancestry(ref)
        items = []
        raw = self.query.entities_by_refs([r for r, _ in chain])
        for (_current, parents), entity in zip(chain, raw, strict=True):
            if entity is None:
                continue
            items.append({"entity": orjson.loads(entity), "parentEntityRefs": parents})
        return {"rootEntityRef": ref, "items": items}

    def location_by_entity(self, entity_ref: str) -> Any:
        entity = self.query.entity_json_by_ref(self._normalize_ref(entity_ref))
        if entity is None:
            raise NotFoundError(f"No such entity {entity_ref}")
        annotations = (entity.get("metadata") or {}).get("annotations") or {}
        return self.locations.by_entity(annotations.get(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION))

    def validate_entity(self, entity: Any, location: Any) -> list[dict[str, Any]]:
        """Validate like processing would, without storing or reading anything."""
        if not isinstance(location, str) or not location.startswith("url:"):
            raise InputError("Invalid location: only 'url:<target>' locations can be validated")
        if not isinstance(entity, dict):
            raise InputError("'entity' must be a JSON object")
        try:
            prepared = prepare_entity(entity, kinds=self.kinds)
        except EntityValidationErrors as failure:
            return [{"name": "InputError", "message": e.message, "field": e.field} for e in failure.errors]
        if not self.kinds.recognizes(prepared):
            return [
                {
                    "name": "InputError",
                    "message": f"No processor recognized the entity {stringify_entity_ref(prepared)} as valid, "
                    "possibly caused by a foreign kind or apiVersion",
                }
            ]
        _, errors = relations_for(prepared, self.kinds)
        return [{"name": "InputError", "message": e.message, "field": e.field} for e in errors]

    def analyze_location(self, location: Any, catalog_filename: str | None) -> dict[str, Any]:
        """What registering `location` would bring in: existing descriptor files, or a suggestion."""
        if not isinstance(location, dict) or not isinstance(location.get("target"), str):
            raise InputError("'location' must be an object with 'type' and 'target'")
        type_ = location.get("type") or "url"
        target = location["target"].strip()
        filename = catalog_filename or "catalog-info.yaml"
        if type_ == "file":
            target = os.path.normpath(os.path.abspath(target))
        self.reader.check_allowed(target)
        files: list[str]
        if type_ == "file" and os.path.isdir(target):
            files = self.reader.search(os.path.join(target, "**", filename))[:500]
        else:
            files = [target]
        existing = []
        for path in files:
            try:
                data = self.reader.read_url(path).data
            except GreenroomError as error:
                if path == target:
                    raise
                self.logger.warning("Could not read %s: %s", path, error)
                continue
            for document in load_descriptor_documents(data, source=path):
                if document.error is not None:
                    raise InputError(str(document.error))
                if document.value is None:
                    continue
                is_registered = self.locations.find(type_, path) is not None
                existing.append(
                    {
                        "location": {"type": type_, "target": path},
                        "isRegistered": is_registered,
                        "entity": document.value,
                    }
                )
        generate: list[dict[str, Any]] = []
        if not existing:
            name = os.path.basename(target.rstrip("/")) or "my-component"
            generate.append(
                {
                    "entity": {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "Component",
                        "metadata": {"name": name},
                        "spec": {"type": "service", "lifecycle": "experimental"},
                    },
                    "fields": [
                        {
                            "field": "spec.owner",
                            "state": "needsUserInput",
                            "value": None,
                            "description": "Entity owner (a group or user ref)",
                        }
                    ],
                }
            )
        return {"existingEntityFiles": existing, "generateEntities": generate}

    def processing_errors(self, *, limit: int) -> list[dict[str, Any]]:
        with self.store.read_engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    t.refresh_state.c.entity_id,
                    t.refresh_state.c.entity_ref,
                    t.refresh_state.c.errors,
                    t.refresh_state.c.processed_entity.is_not(None).label("visible"),
                    t.refresh_state.c.unprocessed_entity,
                )
                .where(t.refresh_state.c.errors != "[]")
                .order_by(t.refresh_state.c.entity_ref)
                .limit(limit)
            )
            items = []
            for row in rows:
                unprocessed = orjson.loads(row.unprocessed_entity)
                annotations = (unprocessed.get("metadata") or {}).get("annotations") or {}
                items.append(
                    {
                        "entityRef": row.entity_ref,
                        "entityId": row.entity_id,
                        "visible": bool(row.visible),
                        "location": annotations.get(ANNOTATION_MANAGED_BY_LOCATION),
                        "errors": orjson.loads(row.errors),
                    }
                )
            return items

    def status(self) -> dict[str, Any]:
        stats = self.engine.stats
        entities, known, estimated = self.store.entity_counts()
        return {
            "entities": entities,
            "knownEntities": known,
            "knownEntitiesEstimated": estimated,
            "queues": self.store.queue_depths(time.time()),
            "queueCountLimit": QUEUE_COUNT_LIMIT,
            "engine": {
                "running": self.engine.running,
                "processed": stats.processed,
                "changed": stats.changed,
                "stitched": stats.stitched,
                "deletedOrphans": stats.deleted_orphans,
                "lastError": stats.last_error,
                "maintenance": {"running": stats.maintaining, "lastSeconds": stats.last_maintenance_seconds},
            },
        }


__all__ = ["CatalogService", "generated_location_name"]
