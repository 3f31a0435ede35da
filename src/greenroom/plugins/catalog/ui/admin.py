"""Catalog admin (`/catalog-admin`): what needs attention in the catalog, and the means to clean up.

Tabs: overview (processing queue status and counts), processing errors across the catalog
(including entities that never became visible), locations that failed or are not processed yet,
orphans (with delete), conflicts, and registered locations (with delete). Every delete goes
through a confirmation page that shows what will be removed, then a same-origin form post.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from greenroom.core.errors import GreenroomError, NotFoundError
from greenroom.plugins.catalog import tables as t
from greenroom.plugins.catalog.locations import Location, generated_location_name
from greenroom.plugins.catalog.model import (
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    ParsedDocument,
    load_descriptor_documents,
)
from greenroom.plugins.catalog.model.validate_files import line_of_field
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.ui import UiContext
from greenroom.plugins.catalog.ui.register import (
    FormPostRejected,
    location_tree,
    read_form,
    rejected_response,
    short_path,
)

ORDER = 50

MAX_ERROR_ENTITIES = 2000
MAX_ROWS = 1000
TABS = (
    ("overview", "Overview", "/catalog-admin"),
    ("errors", "Processing errors", "/catalog-admin/errors"),
    ("unprocessed", "Failed locations", "/catalog-admin/unprocessed"),
    ("orphans", "Orphans", "/catalog-admin/orphans"),
    ("conflicts", "Conflicts", "/catalog-admin/conflicts"),
    ("locations", "Locations", "/catalog-admin/locations"),
)


def ago(timestamp: float | None, now: float | None = None) -> str:
    """`3 minutes ago` style text for an epoch timestamp."""
    if not timestamp:
        return ""
    seconds = max(0, int((now or time.time()) - timestamp))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def _strip_scheme(location: str | None, roots: tuple[str, ...] = ()) -> str:
    """`file:/srv/repo/x.yaml` -> `x.yaml` relative to its reading root; URLs lose `url:` only."""
    if not location:
        return ""
    kind, sep, rest = location.partition(":")
    if not sep or kind not in ("file", "url"):
        return location
    return short_path(rest, roots) if kind == "file" else rest


# ---------------------------------------------------------------------------------- queries
_HAS_ERRORS = t.refresh_state.c.errors != "[]"
_IS_LOCATION = t.refresh_state.c.entity_ref.like("location:%")


def counts(catalog: CatalogService) -> dict[str, int]:
    """Numbers for the tab labels and the overview."""
    rs = t.refresh_state
    with catalog.store.read_engine.connect() as conn:

        def count(table: Any, *where: Any) -> int:
            query = sa.select(sa.func.count()).select_from(table)
            for clause in where:
                query = query.where(clause)
            return int(conn.execute(query).scalar_one())

        return {
            "errors": count(rs, _HAS_ERRORS),
            "unprocessed": count(rs, _IS_LOCATION, sa.or_(_HAS_ERRORS, rs.c.processed_entity.is_(None))),
            "orphans": count(rs, rs.c.orphaned_at.is_not(None)),
            "conflicts": count(t.conflicts),
            "locations": count(t.locations),
        }


@dataclass
class ErrorRow:
    entity_ref: str
    visible: bool
    location: str
    file: str
    line: int
    field: str
    name: str
    message: str
    display_file: str = ""

    def matches(self, needle: str) -> bool:
        haystack = " ".join((self.entity_ref, self.location, self.file, self.field, self.name, self.message))
        return needle in haystack.lower()


def error_rows(catalog: CatalogService, *, text: str = "", show: str = "all") -> tuple[list[ErrorRow], bool]:
    """One row per processing error; `show` is all | hidden (never visible) | visible."""
    items = catalog.processing_errors(limit=MAX_ERROR_ENTITIES + 1)
    truncated = len(items) > MAX_ERROR_ENTITIES
    rows: list[ErrorRow] = []
    needle = text.strip().lower()
    for item in items[:MAX_ERROR_ENTITIES]:
        visible = bool(item.get("visible"))
        if (show == "hidden" and visible) or (show == "visible" and not visible):
            continue
        location = str(item.get("location") or "")
        for error in item.get("errors") or []:
            if not isinstance(error, dict):
                continue
            row = ErrorRow(
                entity_ref=str(item.get("entityRef", "")),
                visible=visible,
                location=location,
                file=_strip_scheme(error.get("location") or location),
                line=int(error.get("line") or 0),
                field=str(error.get("field") or ""),
                name=str(error.get("name") or "Error"),
                message=str(error.get("message") or ""),
            )
            if not needle or row.matches(needle):
                rows.append(row)
    lines = _FieldLines(catalog)
    for row in rows:
        row.display_file = short_path(row.file, catalog.reader.roots)
        if row.field and not row.line and row.file.startswith("/"):
            row.line = lines.line(row.file, row.entity_ref, row.field)
    return rows, truncated


class _FieldLines:
    """Line of an entity's field in its (local) descriptor file, so field errors get a line too."""

    def __init__(self, catalog: CatalogService, budget: int = 50) -> None:
        self.catalog = catalog
        self.budget = budget
        self._documents: dict[str, list[ParsedDocument]] = {}

    def line(self, file: str, entity_ref: str, field_path: str) -> int:
        if file not in self._documents:
            if self.budget <= 0:
                return 0
            self.budget -= 1
            try:
                data = self.catalog.reader.read_url(file).data
                self._documents[file] = load_descriptor_documents(data, source=file)
            except GreenroomError:
                self._documents[file] = []
        kind, _, rest = entity_ref.partition(":")
        namespace, _, name = rest.partition("/")
        for document in self._documents[file]:
            value = document.value
            if not isinstance(value, dict) or not isinstance(value.get("metadata"), dict):
                continue
            metadata = value["metadata"]
            if (
                str(value.get("kind", "")).lower() == kind
                and str(metadata.get("name", "")).lower() == name
                and str(metadata.get("namespace") or "default").lower() == namespace
            ):
                return line_of_field(document, field_path)
        return 0


@dataclass(frozen=True)
class LocationState:
    """Processing state of a location's Location entity."""

    entity_ref: str
    known: bool
    processed: bool
    visible: bool
    errors: list[dict[str, Any]]
    children: int
    next_update_at: float | None

    @property
    def label(self) -> str:
        if self.errors:
            return "failed"
        if not self.known or not self.processed:
            return "waiting"
        return "ok"


def location_states(catalog: CatalogService, refs: list[str]) -> dict[str, LocationState]:
    rs = t.refresh_state
    if not refs:
        return {}
    with catalog.store.read_engine.connect() as conn:
        children: dict[str, int] = dict(
            conn.execute(
                sa.select(t.refresh_state_references.c.source_entity_ref, sa.func.count())
                .where(t.refresh_state_references.c.source_entity_ref.in_(refs))
                .group_by(t.refresh_state_references.c.source_entity_ref)
            ).all()
        )
        rows = conn.execute(
            sa.select(
                rs.c.entity_ref,
                rs.c.errors,
                rs.c.next_update_at,
                rs.c.processed_entity.is_not(None).label("processed"),
                t.final_entities.c.entity_id.is_not(None).label("visible"),
            )
            .select_from(rs.outerjoin(t.final_entities, t.final_entities.c.entity_id == rs.c.entity_id))
            .where(rs.c.entity_ref.in_(refs))
        ).all()
    states = {
        row.entity_ref: LocationState(
            entity_ref=row.entity_ref,
            known=True,
            processed=bool(row.processed),
            visible=bool(row.visible),
            errors=list(orjson.loads(row.errors or "[]")),
            children=int(children.get(row.entity_ref, 0)),
            next_update_at=row.next_update_at,
        )
        for row in rows
    }
    for ref in refs:
        states.setdefault(ref, LocationState(ref, False, False, False, [], 0, None))
    return states


def configured_locations(catalog: CatalogService) -> list[Location]:
    """`catalog.locations` from app-config, as the catalog resolves them (read-only here)."""
    found = []
    for index, static in enumerate(catalog.config.locations):
        target = static.target
        if static.type == "file" and not os.path.isabs(target):
            target = os.path.normpath(str(catalog.base_dir / target))
        ref = f"location:default/{generated_location_name(static.type, target)}"
        found.append(Location(f"config-{index}", static.type, target, ref))
    return found


def unprocessed_locations(catalog: CatalogService) -> list[dict[str, Any]]:
    """Location entities that failed or are still waiting, registered ones first."""
    rs = t.refresh_state
    registered = {loc.entity_ref: loc for loc in catalog.locations.list_locations()}
    configured = {loc.entity_ref: loc for loc in configured_locations(catalog)}
    with catalog.store.read_engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                rs.c.entity_ref,
                rs.c.unprocessed_entity,
                rs.c.errors,
                rs.c.next_update_at,
                rs.c.processed_entity.is_not(None).label("processed"),
            )
            .where(_IS_LOCATION, sa.or_(_HAS_ERRORS, rs.c.processed_entity.is_(None)))
            .order_by(rs.c.entity_ref)
            .limit(MAX_ROWS)
        ).all()
        known = {
            ref
            for (ref,) in conn.execute(
                sa.select(rs.c.entity_ref).where(rs.c.entity_ref.in_(list(registered) or [""]))
            )
        }
    items: list[dict[str, Any]] = []
    for row in rows:
        entity = orjson.loads(row.unprocessed_entity)
        spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
        annotations = (entity.get("metadata") or {}).get("annotations") or {}
        targets = [spec["target"]] if isinstance(spec.get("target"), str) else []
        targets += [x for x in spec.get("targets") or [] if isinstance(x, str)]
        targets = [short_path(x, catalog.reader.roots) for x in targets]
        items.append(
            {
                "ref": row.entity_ref,
                "registered": registered.get(row.entity_ref),
                "configured": configured.get(row.entity_ref),
                "targets": targets,
                "declared_in": _strip_scheme(
                    annotations.get(ANNOTATION_MANAGED_BY_LOCATION), catalog.reader.roots
                ),
                "errors": [
                    {
                        "where": _strip_scheme(error.get("location"), catalog.reader.roots)
                        + (f":{error['line']}" if error.get("line") else ""),
                        "message": str(error.get("message", "")),
                    }
                    for error in orjson.loads(row.errors or "[]")
                    if isinstance(error, dict)
                ],
                "processed": bool(row.processed),
                "next_update_at": row.next_update_at,
            }
        )
    for ref, location in registered.items():
        if ref not in known:
            items.append(
                {
                    "ref": ref,
                    "registered": location,
                    "configured": None,
                    "targets": [location.target],
                    "declared_in": "",
                    "errors": [],
                    "processed": False,
                    "next_update_at": None,
                }
            )
    items.sort(key=lambda i: (i["registered"] is None, not i["errors"], i["ref"]))
    return items


def orphans(catalog: CatalogService, *, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """Entities nothing emits any more (`backstage.io/orphan`), newest first."""
    rs = t.refresh_state
    with catalog.store.read_engine.connect() as conn:
        rows = conn.execute(
            sa.select(rs.c.entity_id, rs.c.entity_ref, rs.c.orphaned_at, t.final_entities.c.final_entity)
            .select_from(rs.outerjoin(t.final_entities, t.final_entities.c.entity_id == rs.c.entity_id))
            .where(rs.c.orphaned_at.is_not(None))
            .order_by(rs.c.orphaned_at.desc(), rs.c.entity_ref)
            .limit(limit)
        ).all()
    items = []
    for row in rows:
        entity = orjson.loads(row.final_entity) if row.final_entity else {}
        metadata = entity.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        items.append(
            {
                "uid": row.entity_id,
                "ref": row.entity_ref,
                "kind": entity.get("kind") or row.entity_ref.split(":", 1)[0],
                "title": metadata.get("title") or "",
                "visible": bool(row.final_entity),
                "orphaned_at": row.orphaned_at,
                "since": ago(row.orphaned_at),
                "location": _strip_scheme(
                    annotations.get(ANNOTATION_MANAGED_BY_LOCATION)
                    or annotations.get(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION),
                    catalog.reader.roots,
                ),
            }
        )
    return items


def conflicts(catalog: CatalogService, *, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    with catalog.store.read_engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.conflicts)
            .order_by(t.conflicts.c.last_conflict_at.desc(), t.conflicts.c.entity_ref)
            .limit(limit)
        ).all()
    return [
        {
            "ref": row.entity_ref,
            "kept": _strip_scheme(row.existing_location_key, catalog.reader.roots),
            "ignored": _strip_scheme(row.new_location_key, catalog.reader.roots),
            "when": ago(row.last_conflict_at),
        }
        for row in rows
    ]


# ---------------------------------------------------------------------------------- pages
def install(ui: UiContext) -> None:
    catalog = ui.catalog
    ui.web.add_nav_item("Admin", "/catalog-admin", icon="admin", order=95)
    router = APIRouter(include_in_schema=False)

    def page(
        request: Request, tab: str, template: str, context: dict[str, Any], *, status_code: int = 200
    ) -> HTMLResponse:
        numbers = counts(catalog)
        tabs = []
        for key, label, href in TABS:
            number = numbers.get(key)
            tabs.append((key, f"{label} ({number})" if number else label, href))
        notice = request.query_params.get("notice", "")
        return ui.web.render(
            request,
            template,
            {
                "tab": tab,
                "tabs": tabs,
                "counts": numbers,
                "readonly": catalog.config.readonly,
                "notice": notice[:500],
                **context,
            },
            status_code=status_code,
            title="Catalog admin",
        )

    def redirect(path: str, notice: str) -> RedirectResponse:
        return RedirectResponse(f"{path}?{urlencode({'notice': notice})}", status_code=303)

    @router.get("/catalog-admin", response_class=HTMLResponse)
    async def overview(request: Request) -> HTMLResponse:
        status = await run_in_threadpool(catalog.status)
        return page(request, "overview", "catalog/admin/overview.html", {"status": status})

    @router.get("/catalog-admin/errors", response_class=HTMLResponse)
    async def errors(request: Request) -> HTMLResponse:
        text = request.query_params.get("q", "")[:200]
        show = request.query_params.get("show", "all")
        show = show if show in ("all", "hidden", "visible") else "all"
        rows, truncated = await run_in_threadpool(lambda: error_rows(catalog, text=text, show=show))
        return page(
            request,
            "errors",
            "catalog/admin/errors.html",
            {
                "rows": rows,
                "q": text,
                "show": show,
                "truncated": truncated,
                "filtered": bool(text) or show != "all",
            },
        )

    @router.get("/catalog-admin/unprocessed", response_class=HTMLResponse)
    async def unprocessed(request: Request) -> HTMLResponse:
        items = await run_in_threadpool(unprocessed_locations, catalog)
        return page(
            request, "unprocessed", "catalog/admin/unprocessed.html", {"items": items, "now": time.time()}
        )

    @router.get("/catalog-admin/orphans", response_class=HTMLResponse)
    async def orphan_list(request: Request) -> HTMLResponse:
        items = await run_in_threadpool(orphans, catalog)
        return page(
            request,
            "orphans",
            "catalog/admin/orphans.html",
            {"items": items, "strategy": catalog.config.orphan_strategy},
        )

    def orphan_by_uid(uid: str) -> dict[str, Any] | None:
        return next((item for item in orphans(catalog, limit=100_000) if item["uid"] == uid), None)

    @router.get("/catalog-admin/orphans/{uid}/delete", response_class=HTMLResponse)
    async def confirm_orphan_delete(request: Request, uid: str) -> HTMLResponse:
        item = await run_in_threadpool(orphan_by_uid, uid)
        if item is None:
            return page(
                request,
                "orphans",
                "catalog/admin/gone.html",
                {
                    "message": "This entity is not an orphan (any more), or it was already deleted.",
                    "back": "/catalog-admin/orphans",
                },
                status_code=404,
            )
        return page(request, "orphans", "catalog/admin/confirm_orphan.html", {"item": item})

    @router.post("/catalog-admin/orphans/{uid}/delete", response_model=None)
    async def delete_orphan(request: Request, uid: str) -> Response:
        try:
            await read_form(request)
        except FormPostRejected as rejected:
            return rejected_response(ui, request, rejected)
        item = await run_in_threadpool(orphan_by_uid, uid)
        if item is None:
            return redirect("/catalog-admin/orphans", "Nothing deleted: that entity is no longer an orphan.")
        try:
            await run_in_threadpool(catalog.delete_entity_by_uid, uid)
        except GreenroomError as error:
            return page(
                request,
                "orphans",
                "catalog/admin/confirm_orphan.html",
                {"item": item, "error": error.message},
                status_code=error.status_code,
            )
        ui.logger.info("Deleted orphan %s from the admin page", item["ref"])
        return redirect("/catalog-admin/orphans", f"Deleted {item['ref']}.")

    @router.get("/catalog-admin/conflicts", response_class=HTMLResponse)
    async def conflict_list(request: Request) -> HTMLResponse:
        items = await run_in_threadpool(conflicts, catalog)
        return page(request, "conflicts", "catalog/admin/conflicts.html", {"items": items})

    @router.get("/catalog-admin/locations", response_class=HTMLResponse)
    async def location_list(request: Request) -> HTMLResponse:
        def load() -> dict[str, Any]:
            registered = catalog.locations.list_locations()
            configured = configured_locations(catalog)
            states = location_states(catalog, [loc.entity_ref for loc in [*registered, *configured]])
            return {"registered": registered, "configured": configured, "states": states}

        return page(request, "locations", "catalog/admin/locations.html", await run_in_threadpool(load))

    def location_or_none(location_id: str) -> Location | None:
        try:
            return catalog.locations.get(location_id)
        except NotFoundError:
            return None

    @router.get("/catalog-admin/locations/{location_id}/delete", response_class=HTMLResponse)
    async def confirm_location_delete(request: Request, location_id: str) -> HTMLResponse:
        location = await run_in_threadpool(location_or_none, location_id)
        if location is None:
            return page(
                request,
                "locations",
                "catalog/admin/gone.html",
                {
                    "message": "This location is not registered (it may have been removed already).",
                    "back": "/catalog-admin/locations",
                },
                status_code=404,
            )
        root, nodes = await run_in_threadpool(location_tree, catalog, location.entity_ref)
        return page(
            request,
            "locations",
            "catalog/admin/confirm_location.html",
            {"location": location, "root": root, "nodes": nodes},
        )

    @router.post("/catalog-admin/locations/{location_id}/delete", response_model=None)
    async def delete_location(request: Request, location_id: str) -> Response:
        try:
            await read_form(request)
        except FormPostRejected as rejected:
            return rejected_response(ui, request, rejected)
        location = await run_in_threadpool(location_or_none, location_id)
        if location is None:
            return redirect("/catalog-admin/locations", "Nothing removed: that location was not registered.")
        try:
            await run_in_threadpool(catalog.locations.delete, location_id)
        except GreenroomError as error:
            root, nodes = await run_in_threadpool(location_tree, catalog, location.entity_ref)
            return page(
                request,
                "locations",
                "catalog/admin/confirm_location.html",
                {"location": location, "root": root, "nodes": nodes, "error": error.message},
                status_code=error.status_code,
            )
        ui.logger.info("Unregistered location %s:%s from the admin page", location.type, location.target)
        return redirect(
            "/catalog-admin/locations",
            f"Removed {location.type}:{location.target} and the entities it provided.",
        )

    ui.web.add_page_router(router)


__all__ = ["ago", "conflicts", "counts", "error_rows", "install", "orphans", "unprocessed_locations"]
