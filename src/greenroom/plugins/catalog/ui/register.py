"""Register existing component (`/catalog-import`): analyze a file, folder or URL, preview, import.

The flow is three plain form posts, all rendered on the server:

1. `POST /catalog-import/analyze` reads the target through the catalog (`analyze_location` plus a
   dry-run registration) and shows the entities that would be created, each checked against the
   entity model, or the errors with their file and line.
2. `POST /catalog-import/import` analyzes again (nothing from the browser is trusted but the
   typed target) and registers the location.
3. `GET /catalog-import/status/{id}` shows the location's entities as processing brings them in;
   processing is asynchronous, so the page refreshes itself (small script) until it settles.

A folder becomes the glob location `<folder>/**/catalog-info.yaml` (type `file`). Every post must
be a same-origin form post (see `check_form_post`); the admin pages use the same guard.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from greenroom.core.errors import (
    ConflictError,
    GreenroomError,
    InputError,
    NotAllowedError,
    NotFoundError,
)
from greenroom.core.http.same_site import SameSiteGuard
from greenroom.plugins.catalog import tables as t
from greenroom.plugins.catalog.locations import Location
from greenroom.plugins.catalog.model import (
    ANNOTATION_MANAGED_BY_LOCATION,
    EntityRefError,
    ParsedDocument,
    load_descriptor_documents,
    relations_for,
    validate_entity,
)
from greenroom.plugins.catalog.model.validate_files import line_of_field
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.ui import UiContext

ORDER = 40

CATALOG_FILENAME = "catalog-info.yaml"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MAX_PREVIEW_ENTITIES = 2000
_ERROR_TITLES = {
    "InputError": "The target could not be read as catalog entities",
    "NotAllowedError": "This location is not allowed",
    "NotFoundError": "Nothing found there",
    "ConflictError": "Already registered",
}
_FILE_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.*)$", re.DOTALL)


# ---------------------------------------------------------------------------------- form guard
class FormPostRejected(Exception):
    """A post that is not a same-origin HTML form post; answered with `status` and `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_form_post(request: Request) -> None:
    """Refuse anything but a same-origin urlencoded form post (a cheap CSRF guard).

    The middleware already refuses foreign origins on every write (`core.http.same_site`); this
    adds the checks a form needs on top, with messages shown on the page: the content type, and
    a `Referer` from another site when the browser sent no `Origin`.
    """
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        raise FormPostRejected(415, f"This page only accepts form posts ({FORM_CONTENT_TYPE}).")
    guard: SameSiteGuard = request.app.state.same_site  # create_app's, which already vetted the origin
    referer = request.headers.get("referer")
    if request.headers.get("origin") is None and referer and not guard.accepts(referer):
        raise FormPostRejected(403, "Refused a form post from another site; only this portal may post here.")


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields as strings, after `check_form_post`."""
    check_form_post(request)
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def rejected_response(ui: UiContext, request: Request, rejected: FormPostRejected) -> HTMLResponse:
    title = "Not allowed" if rejected.status == 403 else "Unsupported request"
    return ui.web.render(
        request,
        "error.html",
        {"status_code": rejected.status, "error_title": title, "error_message": rejected.message},
        status_code=rejected.status,
        title=title,
    )


# ---------------------------------------------------------------------------------- analysis
@dataclass
class Problem:
    message: str
    file: str = ""
    line: int = 0
    field: str = ""

    display_file: str = ""

    @property
    def where(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class EntityPreview:
    kind: str
    namespace: str
    name: str
    title: str
    owner: str
    spec_type: str
    file: str
    ref: str
    display_file: str = ""
    problems: list[Problem] = field(default_factory=list)
    in_catalog: bool = False  # an entity of that ref exists already (from another location)


@dataclass
class Analysis:
    """What registering the typed target would do, or why it cannot be registered."""

    raw: str
    type: str = ""
    target: str = ""  # what gets registered (a glob for folders)
    read_target: str = ""  # the file, folder or URL that was read
    folder: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    entities: list[EntityPreview] = field(default_factory=list)
    truncated: bool = False
    error_name: str = ""
    error_title: str = ""
    error_message: str = ""
    problems: list[Problem] = field(default_factory=list)  # file-level (YAML) errors
    existing: Location | None = None

    @property
    def ok(self) -> bool:
        return not self.error_message

    @property
    def entity_problem_count(self) -> int:
        return sum(1 for entity in self.entities if entity.problems)

    @property
    def in_catalog_count(self) -> int:
        return sum(1 for entity in self.entities if entity.in_catalog)

    def fail(self, name: str, message: str, problems: Iterable[Problem] = ()) -> Analysis:
        self.error_name = name
        self.error_title = _ERROR_TITLES.get(name, "Could not analyze this location")
        self.error_message = message
        self.problems = list(problems)
        return self


def _problem_from_message(message: str) -> Problem:
    match = _FILE_LINE.match(message)
    if match:
        return Problem(match["message"], match["file"], int(match["line"]))
    return Problem(message)


def resolve_input(raw: str) -> tuple[str, str]:
    """The location type and target for what the user typed: an http(s) URL or a local path."""
    text = raw.strip()
    if not text:
        raise InputError("Enter the path of a catalog-info.yaml file, a folder, or an http(s) URL.")
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return "url", text
    if lowered.startswith("file://"):
        text = text[len("file://") :]
    elif re.match(r"^[a-z][a-z0-9+.-]*:", lowered) and not re.match(r"^[a-z]:[\\/]", lowered):
        scheme = lowered.split(":", 1)[0]
        raise InputError(
            f"'{scheme}:' locations cannot be registered here; "
            "use an http(s) URL or a file path on the server."
        )
    return "file", os.path.normpath(os.path.abspath(os.path.expanduser(text)))


_PLACEHOLDER_KEYS = frozenset({"$text", "$json", "$yaml"})


def _without_placeholders(value: Any) -> Any:
    """`{$text: ./x}` is resolved only when the entity is processed; check it as the string it becomes."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _PLACEHOLDER_KEYS:
            return "placeholder"
        return {key: _without_placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_placeholders(item) for item in value]
    return value


def _entity_problems(raw: dict[str, Any], catalog: CatalogService) -> list[tuple[str, str]]:
    entity = _without_placeholders(raw)
    problems = [(p.field, p.message) for p in validate_entity(entity, kinds=catalog.kinds)]
    if isinstance(entity.get("metadata"), dict):
        try:
            _, relation_problems = relations_for(entity, catalog.kinds)
        except (EntityRefError, GreenroomError, ValueError):
            relation_problems = []
        reported = {f for f, _ in problems}
        problems.extend((p.field, p.message) for p in relation_problems if p.field not in reported)
    return problems


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def short_path(path: str, roots: Sequence[str]) -> str:
    """A path relative to the reading root that holds it (what users recognise), else unchanged."""
    for root in sorted(roots, key=len, reverse=True):
        prefix = root.rstrip(os.sep) + os.sep
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _relative(path: str, folder: str) -> str:
    prefix = folder.rstrip(os.sep) + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else path


def _file_of(entity: dict[str, Any]) -> str:
    annotations = (entity.get("metadata") or {}).get("annotations") or {}
    managed = _text(annotations.get(ANNOTATION_MANAGED_BY_LOCATION))
    kind, _, target = managed.partition(":")
    return target if kind in ("file", "url") else managed


class _DocumentLines:
    """Finds the YAML document of an entity to turn a field path into a line number."""

    def __init__(self, catalog: CatalogService) -> None:
        self.catalog = catalog
        self._cache: dict[str, list[ParsedDocument]] = {}

    def line(self, file: str, entity: dict[str, Any], field_path: str) -> int:
        if not file:
            return 0
        if file not in self._cache:
            try:
                data = self.catalog.reader.read_url(file).data
                self._cache[file] = load_descriptor_documents(data, source=file)
            except GreenroomError:
                self._cache[file] = []
        name = (entity.get("metadata") or {}).get("name")
        for document in self._cache[file]:
            value = document.value
            if (
                isinstance(value, dict)
                and value.get("kind") == entity.get("kind")
                and (value.get("metadata") or {}).get("name") == name
            ):
                return line_of_field(document, field_path)
        return 0


def _scan_file_errors(catalog: CatalogService, files: Sequence[str]) -> list[Problem]:
    """Every YAML/document error of `files` (the catalog stops at the first one)."""
    problems: list[Problem] = []
    for path in files:
        try:
            data = catalog.reader.read_url(path).data
        except GreenroomError as error:
            problems.append(Problem(error.message, path))
            continue
        for document in load_descriptor_documents(data, source=path):
            if document.error is not None:
                problems.append(
                    Problem(document.error.message, path, document.error.line, document.error.field)
                )
    return problems


def analyze(catalog: CatalogService, raw: str) -> Analysis:
    """Analyze what the user typed; never raises for bad input, the result says what is wrong."""
    return _shorten(_analyze(catalog, raw), catalog.reader.roots)


def _analyze(catalog: CatalogService, raw: str) -> Analysis:
    result = Analysis(raw=raw)
    try:
        type_, target = resolve_input(raw)
        result.type, result.read_target = type_, target
        catalog.reader.check_allowed(target)
        result.folder = type_ == "file" and os.path.isdir(target)
        result.target = os.path.join(target, "**", CATALOG_FILENAME) if result.folder else target
        try:
            analysis = catalog.analyze_location({"type": type_, "target": target}, CATALOG_FILENAME)
        except InputError as error:
            files = [target]
            if result.folder:
                files = catalog.reader.search(result.target)[:500]
            problems = _scan_file_errors(catalog, files) or [_problem_from_message(error.message)]
            return result.fail("InputError", "Fix these problems in the file, then analyze again.", problems)
        result.files = list(analysis.get("existingEntityFiles") or [])
        if not result.files:
            if result.folder:
                return result.fail(
                    "NotFoundError",
                    f"No {CATALOG_FILENAME} files were found in {target} or its subfolders. "
                    "Add one to each component's folder, or enter the path of a single descriptor file.",
                )
            return result.fail(
                "InputError",
                f"{target} holds no catalog entities (the file is empty). A catalog file has one or more "
                "YAML documents with apiVersion, kind, metadata and spec.",
            )
        _location, produced, exists = catalog.locations.create(type_, result.target, dry_run=True)
        entities = cast(list[dict[str, Any]], produced)
        result.existing = catalog.locations.find(type_, result.target) if exists else None
    except GreenroomError as error:
        message = error.message
        if isinstance(error, NotFoundError) and result.type == "file":
            message = f"{message}. Check the path; it is read on the Greenroom server, not on your computer."
        return result.fail(error.name, message)
    lines = _DocumentLines(catalog)
    result.truncated = len(entities) > MAX_PREVIEW_ENTITIES
    for entity in entities[:MAX_PREVIEW_ENTITIES]:
        metadata = _mapping(entity.get("metadata"))
        spec = _mapping(entity.get("spec"))
        file = _file_of(entity)
        kind = _text(entity.get("kind"))
        namespace = _text(metadata.get("namespace")) or "default"
        name = _text(metadata.get("name"))
        preview = EntityPreview(
            kind=kind,
            namespace=namespace,
            name=name,
            title=_text(metadata.get("title")),
            owner=_text(spec.get("owner")),
            spec_type=_text(spec.get("type")),
            file=file,
            ref=f"{kind.lower()}:{namespace}/{name}",
            display_file=_relative(file, result.read_target) if result.folder else file,
        )
        for field_path, message in _entity_problems(entity, catalog):
            preview.problems.append(Problem(message, file, lines.line(file, entity, field_path), field_path))
        result.entities.append(preview)
    if not result.existing:
        # entities another location already provides: registering this one would make a conflict
        found = catalog.query.entities_by_refs([preview.ref for preview in result.entities], fields=["kind"])
        for preview, stored in zip(result.entities, found, strict=True):
            preview.in_catalog = stored is not None
    result.entities.sort(key=lambda e: (not e.problems, e.kind.lower(), e.namespace, e.name.lower()))
    return result


def _shorten(result: Analysis, roots: Sequence[str]) -> Analysis:
    for problem in result.problems:
        problem.display_file = short_path(problem.file, roots)
    for entity in result.entities:
        if not result.folder:
            entity.display_file = short_path(entity.file, roots)
    return result


# ---------------------------------------------------------------------------------- location tree
@dataclass
class TreeNode:
    """One entity below a location, with where processing has got to."""

    ref: str
    entity_id: str
    processed: bool
    visible: bool
    errors: list[dict[str, Any]]
    depth: int

    @property
    def state(self) -> str:
        if self.errors:
            return "error"
        return "ready" if self.visible else "pending"


def _chunks(items: Sequence[str], size: int = 400) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def location_tree(
    catalog: CatalogService, root_ref: str, *, limit: int = 5000
) -> tuple[TreeNode | None, list[TreeNode]]:
    """The location entity `root_ref` and every entity emitted below it (breadth first)."""
    refs = t.refresh_state_references
    depth_of: dict[str, int] = {root_ref: 0}
    order: list[str] = []
    with catalog.store.read_engine.connect() as conn:
        frontier = [root_ref]
        depth = 0
        while frontier and len(order) < limit:
            depth += 1
            found: list[str] = []
            for chunk in _chunks(frontier):
                rows = conn.execute(
                    sa.select(refs.c.target_entity_ref).where(refs.c.source_entity_ref.in_(list(chunk)))
                )
                for (target,) in rows:
                    if target not in depth_of:
                        depth_of[target] = depth
                        found.append(target)
            order.extend(sorted(found))
            frontier = found
        order = order[:limit]
        states: dict[str, TreeNode] = {}
        for chunk in _chunks([root_ref, *order]):
            rows = conn.execute(
                sa.select(
                    t.refresh_state.c.entity_ref,
                    t.refresh_state.c.entity_id,
                    t.refresh_state.c.errors,
                    t.refresh_state.c.processed_entity.is_not(None).label("processed"),
                    t.final_entities.c.entity_id.is_not(None).label("visible"),
                )
                .select_from(
                    t.refresh_state.outerjoin(
                        t.final_entities, t.final_entities.c.entity_id == t.refresh_state.c.entity_id
                    )
                )
                .where(t.refresh_state.c.entity_ref.in_(list(chunk)))
            )
            for row in rows:
                states[row.entity_ref] = TreeNode(
                    ref=row.entity_ref,
                    entity_id=row.entity_id,
                    processed=bool(row.processed),
                    visible=bool(row.visible),
                    errors=list(orjson.loads(row.errors or "[]")),
                    depth=depth_of.get(row.entity_ref, 0),
                )
    nodes = [states[ref] for ref in order if ref in states]
    return states.get(root_ref), nodes


# ---------------------------------------------------------------------------------- pages
def install(ui: UiContext) -> None:
    catalog = ui.catalog
    ui.web.add_nav_item("Register", "/catalog-import", icon="create", order=40)
    router = APIRouter(include_in_schema=False)

    def page(request: Request, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
        context.setdefault("analysis", None)
        context.setdefault("target", "")
        context.setdefault("roots", catalog.reader.roots)
        context.setdefault("readonly", catalog.config.readonly)
        return ui.web.render(
            request,
            "catalog/import/index.html",
            context,
            status_code=status_code,
            title="Register an existing component",
        )

    @router.get("/catalog-import", response_class=HTMLResponse)
    async def import_page(request: Request) -> HTMLResponse:
        return page(request, {"target": request.query_params.get("target", "")})

    @router.post("/catalog-import/analyze", response_class=HTMLResponse)
    async def analyze_page(request: Request) -> HTMLResponse:
        try:
            form = await read_form(request)
        except FormPostRejected as rejected:
            return rejected_response(ui, request, rejected)
        raw = form.get("target", "")
        result = await run_in_threadpool(analyze, catalog, raw)
        return page(request, {"analysis": result, "target": raw}, status_code=200 if result.ok else 422)

    @router.post("/catalog-import/import", response_model=None)
    async def import_location(request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormPostRejected as rejected:
            return rejected_response(ui, request, rejected)
        raw = form.get("target", "")
        result = await run_in_threadpool(analyze, catalog, raw)
        if not result.ok:
            return page(request, {"analysis": result, "target": raw}, status_code=422)
        try:
            location, _, _ = await run_in_threadpool(catalog.locations.create, result.type, result.target)
        except ConflictError as error:
            result.existing = catalog.locations.find(result.type, result.target)
            result.fail(error.name, f"{error.message}. Nothing was changed.")
            return page(request, {"analysis": result, "target": raw}, status_code=409)
        except (NotAllowedError, InputError) as error:
            result.fail(error.name, error.message)
            return page(request, {"analysis": result, "target": raw}, status_code=error.status_code)
        ui.logger.info("Registered location %s:%s from the import page", location.type, location.target)
        return RedirectResponse(
            f"/catalog-import/status/{quote(location.id, safe='')}?new=1", status_code=303
        )

    @router.get("/catalog-import/status/{location_id}", response_class=HTMLResponse)
    async def import_status(request: Request, location_id: str) -> HTMLResponse:
        try:
            location = await run_in_threadpool(catalog.locations.get, location_id)
        except NotFoundError:
            return ui.web.render(
                request,
                "error.html",
                {
                    "status_code": 404,
                    "error_title": "Location not found",
                    "error_message": "This location is not registered (it may have been unregistered). "
                    "Register it again from the Register page.",
                },
                status_code=404,
                title="Location not found",
            )
        root, nodes = await run_in_threadpool(location_tree, catalog, location.entity_ref)
        pending = root is None or not root.processed or any(node.state == "pending" for node in nodes)
        return ui.web.render(
            request,
            "catalog/import/status.html",
            {
                "location": location,
                "root": root,
                "nodes": nodes,
                "entities": [n for n in nodes if not n.ref.startswith("location:")],
                "pending": pending,
                "ready_count": sum(1 for n in nodes if n.state == "ready"),
                "error_count": sum(1 for n in nodes if n.state == "error")
                + (1 if root and root.errors else 0),
                "is_new": request.query_params.get("new") == "1",
            },
            title="Registered location",
        )

    ui.web.add_page_router(router)
