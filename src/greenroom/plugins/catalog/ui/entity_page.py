"""The entity page: `/catalog/{namespace}/{kind}/{name}[/{tab}]`, its header, tabs and built-in cards.

Everything a user sees on an entity page goes through `EntityPageRegistry`: the built-in Overview
and Raw tabs and the About, processing status, relations, links and labels cards are registered
exactly like a plugin's would be, so other plugins can add peers or replace one by id.

Rendering is safe by construction: templates are autoescaped, Markdown descriptions are rendered
with raw HTML disabled and then cleaned by nh3, and only http(s) URLs ever become links.

Performance: one page render reads the entity (one statement) and every related entity in one
`entities_by_refs` call (cached on `request.state`, shared by the header and all cards), so an
entity with hundreds of relations costs the same number of statements as one with none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

import nh3
import orjson
import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from greenroom.core.errors import GreenroomError, NotFoundError
from greenroom.plugins.catalog.model import (
    ANNOTATION_EDIT_URL,
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    ANNOTATION_ORPHAN,
    ANNOTATION_SOURCE_LOCATION,
    ANNOTATION_VIEW_URL,
    RELATION_TITLES,
    parse_entity_ref,
    stringify_entity_ref,
)
from greenroom.plugins.catalog.query.entities import normalize_ref
from greenroom.plugins.catalog.query.filters import parse_predicate
from greenroom.plugins.catalog.ui.registry import (
    Entity,
    EntityCard,
    EntityContext,
    EntityTab,
    is_kind,
)

if TYPE_CHECKING:
    from greenroom.plugins.catalog.ui import UiContext

ORDER = 10

TEMPLATE_DIR = "catalog/entity"
# Fields fetched for related entities: enough for a compact table row, never whole entities.
RELATED_FIELDS = (
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "spec.type",
    "spec.lifecycle",
    "spec.owner",
)
# Entities listed on the unregister confirmation page (the count is always exact).
UNREGISTER_LIST_LIMIT = 200
SAFE_URL_SCHEMES = frozenset({"http", "https"})
KIND_ICONS = {
    "component": "box",
    "api": "api",
    "resource": "plug",
    "system": "catalog",
    "domain": "graph",
    "group": "group",
    "user": "user",
    "template": "create",
    "location": "docs",
}
LINK_ICONS = {
    "docs": "docs",
    "doc": "docs",
    "runbook": "docs",
    "help": "info",
    "dashboard": "graph",
    "graph": "graph",
    "metrics": "graph",
    "api": "api",
    "group": "group",
    "user": "user",
    "email": "user",
    "settings": "settings",
    "admin": "admin",
    "search": "search",
    "catalog": "catalog",
    "home": "home",
    "alert": "warning",
    "warning": "warning",
}
FLASH_MESSAGES = {
    "refreshed": ("success", "Refresh scheduled. Changes appear as soon as processing finishes."),
    "refresh-failed": ("error", "The entity could not be scheduled for a refresh."),
}
_CONTROL_CHARS = re.compile(r"[\x00-\x20\x7f]+")

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


# -- small pure helpers (tested directly) --------------------------------------------------------


def safe_url(value: Any) -> str | None:
    """`value` when it is an absolute http(s) URL, else None: nothing else is ever rendered as a link."""
    if not isinstance(value, str):
        return None
    cleaned = _CONTROL_CHARS.sub("", value)
    try:
        parts = urlsplit(cleaned)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_URL_SCHEMES or not parts.netloc:
        return None
    return value.strip()


def render_markdown(text: Any) -> Markup:
    """Markdown to HTML with raw HTML disabled, then cleaned by nh3 (links limited to http(s)/mailto)."""
    if not isinstance(text, str) or not text.strip():
        return Markup("")
    html = _markdown.render(text)
    cleaned = nh3.clean(
        html,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)


def location_url(ref: Any) -> str | None:
    """The browsable URL of a `url:` location ref (`file:` and other types are not links)."""
    if not isinstance(ref, str):
        return None
    kind, _, target = ref.partition(":")
    if kind != "url":
        return None
    return safe_url(target)


def entity_base_path(entity: Mapping[str, Any]) -> str:
    metadata = entity.get("metadata") or {}
    return "/catalog/{}/{}/{}".format(
        quote(str(metadata.get("namespace") or "default").lower(), safe=""),
        quote(str(entity.get("kind", "")).lower(), safe=""),
        quote(str(metadata.get("name", "")), safe=""),
    )


def resolve_ref(value: Any, *, default_kind: str, default_namespace: str) -> str | None:
    """A full lower-case ref for a possibly shortened one (`team-a` -> `group:default/team-a`)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return stringify_entity_ref(
            parse_entity_ref(value, default_kind=default_kind, default_namespace=default_namespace)
        )
    except (ValueError, GreenroomError):
        return None


def display_title(entity: Mapping[str, Any] | None, ref: str = "") -> str:
    if not entity:
        return ref.rsplit("/", 1)[-1]
    metadata = entity.get("metadata") or {}
    title = metadata.get("title")
    if isinstance(title, str) and title.strip():
        return title
    return str(metadata.get("name") or ref)


def ancestry_rows(ancestry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Flatten `/ancestry` output into rows (ref, depth, kind, title) from the roots down."""
    items = list(ancestry.get("items") or [])
    by_ref: dict[str, Mapping[str, Any]] = {}
    children: dict[str, list[str]] = {}
    for item in items:
        entity = item.get("entity") or {}
        ref = stringify_entity_ref(entity)
        by_ref[ref] = entity
    roots: list[str] = []
    for item in items:
        ref = stringify_entity_ref(item.get("entity") or {})
        parents = [normalize_ref(p) for p in item.get("parentEntityRefs") or [] if normalize_ref(p) in by_ref]
        if not parents:
            roots.append(ref)
        for parent in parents:
            children.setdefault(parent, []).append(ref)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(ref: str, depth: int) -> None:
        if ref in seen:
            return
        seen.add(ref)
        entity = by_ref[ref]
        rows.append(
            {"ref": ref, "depth": depth, "kind": entity.get("kind", ""), "title": display_title(entity, ref)}
        )
        for child in sorted(children.get(ref, [])):
            visit(child, depth + 1)

    for root in sorted(roots):
        visit(root, 0)
    return rows


# -- per-request data shared by the header and every card ----------------------------------------


@dataclass
class RelatedEntities:
    """Every relation target of the entity, fetched in one call; None marks a dangling ref."""

    entities: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def get(self, ref: str) -> dict[str, Any] | None:
        return self.entities.get(normalize_ref(ref))

    def exists(self, ref: str) -> bool:
        return self.get(ref) is not None


def related_entities(ctx: EntityContext) -> RelatedEntities:
    """Relation targets of `ctx.entity` (cached on the request so one render makes one call)."""
    cache: dict[str, RelatedEntities] = getattr(ctx.request.state, "gr_entity_related", None) or {}
    if ctx.entity_ref in cache:
        return cache[ctx.entity_ref]
    refs = list(
        dict.fromkeys(
            normalize_ref(str(r.get("targetRef")))
            for r in ctx.entity.get("relations") or []
            if isinstance(r, Mapping) and r.get("targetRef")
        )
    )
    result = RelatedEntities()
    if refs:
        raw = ctx.catalog.query.entities_by_refs(refs, fields=RELATED_FIELDS)
        for ref, text in zip(refs, raw, strict=True):
            result.entities[ref] = None if text is None else orjson.loads(text)
    cache[ctx.entity_ref] = result
    ctx.request.state.gr_entity_related = cache
    return result


def relation_targets(entity: Mapping[str, Any], relation_type: str, kind: str | None = None) -> list[str]:
    refs: list[str] = []
    for relation in entity.get("relations") or []:
        if not isinstance(relation, Mapping) or relation.get("type") != relation_type:
            continue
        target = normalize_ref(str(relation.get("targetRef", "")))
        if kind is not None and not target.startswith(kind.lower() + ":"):
            continue
        if target not in refs:
            refs.append(target)
    return sorted(refs)


def related_row(ref: str, related: RelatedEntities) -> dict[str, Any]:
    """A compact table row for a related entity (or a dangling ref)."""
    entity = related.get(ref)
    if entity is None:
        return {"ref": ref, "missing": True, "title": ref, "kind": ref.partition(":")[0]}
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") or {}
    owner = resolve_ref(
        spec.get("owner"), default_kind="group", default_namespace=str(metadata.get("namespace") or "default")
    )
    return {
        "ref": ref,
        "missing": False,
        "kind": entity.get("kind", ""),
        "title": display_title(entity, ref),
        "description": metadata.get("description") or "",
        "type": spec.get("type") or "",
        "lifecycle": spec.get("lifecycle") or "",
        "owner": owner,
    }


def header_facts(entity: Mapping[str, Any]) -> dict[str, Any]:
    metadata = entity.get("metadata") or {}
    spec = entity.get("spec") or {}
    tags = [t for t in metadata.get("tags") or [] if isinstance(t, str)]
    links = []
    for link in metadata.get("links") or []:
        if isinstance(link, Mapping):
            links.append(link_view(link))
    status_items = [i for i in (entity.get("status") or {}).get("items") or [] if isinstance(i, Mapping)]
    return {
        "owners": relation_targets(entity, "ownedBy"),
        "lifecycle": spec.get("lifecycle") if isinstance(spec.get("lifecycle"), str) else None,
        "type": spec.get("type") if isinstance(spec.get("type"), str) else None,
        "tags": tags,
        "links": links,
        "error_count": sum(1 for i in status_items if i.get("level") == "error"),
        "warning_count": sum(1 for i in status_items if i.get("level") == "warning"),
        "orphan": str((metadata.get("annotations") or {}).get(ANNOTATION_ORPHAN, "")).lower() == "true",
    }


def link_view(link: Mapping[str, Any]) -> dict[str, Any]:
    url = link.get("url")
    title = link.get("title") if isinstance(link.get("title"), str) and link.get("title") else None
    icon_name = LINK_ICONS.get(str(link.get("icon") or "").lower(), "external")
    return {
        "href": safe_url(url),
        "text": title or (url if isinstance(url, str) else ""),
        "url": url if isinstance(url, str) else "",
        "icon": icon_name,
        "type": link.get("type") if isinstance(link.get("type"), str) else None,
    }


# -- relation cards --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelationCardSpec:
    id: str
    title: str
    kinds: tuple[str, ...]
    relation: str
    target_kind: str | None
    empty: str
    order: int


RELATION_CARDS: tuple[RelationCardSpec, ...] = (
    RelationCardSpec(
        "provided-apis",
        "Provided APIs",
        ("component",),
        "providesApi",
        None,
        "This component does not provide any APIs.",
        30,
    ),
    RelationCardSpec(
        "consumed-apis",
        "Consumed APIs",
        ("component",),
        "consumesApi",
        None,
        "This component does not consume any APIs.",
        31,
    ),
    RelationCardSpec(
        "api-provided-by",
        "Provided by",
        ("api",),
        "apiProvidedBy",
        None,
        "No component provides this API.",
        30,
    ),
    RelationCardSpec(
        "api-consumed-by",
        "Consumed by",
        ("api",),
        "apiConsumedBy",
        None,
        "No component consumes this API.",
        31,
    ),
    RelationCardSpec(
        "depends-on",
        "Depends on",
        ("component", "resource"),
        "dependsOn",
        None,
        "No dependencies declared (spec.dependsOn).",
        32,
    ),
    RelationCardSpec(
        "dependency-of",
        "Dependency of",
        ("component", "resource"),
        "dependencyOf",
        None,
        "Nothing depends on this entity.",
        33,
    ),
    RelationCardSpec(
        "subcomponents",
        "Has subcomponents",
        ("component",),
        "hasPart",
        "component",
        "No subcomponents (spec.subcomponentOf on other components).",
        34,
    ),
    RelationCardSpec(
        "system-components",
        "Components",
        ("system",),
        "hasPart",
        "component",
        "No components are part of this system.",
        30,
    ),
    RelationCardSpec(
        "system-apis", "APIs", ("system",), "hasPart", "api", "No APIs are part of this system.", 31
    ),
    RelationCardSpec(
        "system-resources",
        "Resources",
        ("system",),
        "hasPart",
        "resource",
        "No resources are part of this system.",
        32,
    ),
    RelationCardSpec(
        "domain-systems",
        "Systems",
        ("domain",),
        "hasPart",
        "system",
        "No systems are part of this domain.",
        30,
    ),
    RelationCardSpec(
        "domain-subdomains", "Subdomains", ("domain",), "hasPart", "domain", "No subdomains.", 31
    ),
)


def has_links(entity: Entity) -> bool:
    return bool((entity.get("metadata") or {}).get("links"))


def has_labels_or_annotations(entity: Entity) -> bool:
    metadata = entity.get("metadata") or {}
    return bool(metadata.get("labels") or metadata.get("annotations"))


# -- the page ------------------------------------------------------------------------------------


class EntityPage:
    def __init__(self, ui: UiContext) -> None:
        self.ui = ui
        self.web = ui.web
        self.catalog = ui.catalog
        self.registry = ui.registry

    def fragment(self, name: str, context: Mapping[str, Any]) -> Markup:
        return self.web.render_fragment(f"{TEMPLATE_DIR}/{name}", context)

    # -- registry contributions ------------------------------------------------------------------

    def register_builtins(self) -> None:
        reg = self.registry
        reg.add_tab(EntityTab(id="", title="Overview", render=self.render_overview, order=0))
        reg.add_tab(EntityTab(id="raw", title="Raw", render=self.render_raw, order=1000))
        reg.add_card(
            EntityCard(id="catalog.status", title="Processing status", render=self.render_status, order=0)
        )
        reg.add_card(EntityCard(id="catalog.about", title="About", render=self.render_about, order=10))
        for spec in RELATION_CARDS:
            reg.add_card(
                EntityCard(
                    id=f"catalog.relations.{spec.id}",
                    title=spec.title,
                    render=self._relation_card_renderer(spec),
                    predicate=is_kind(*spec.kinds),
                    order=spec.order,
                )
            )
        reg.add_card(
            EntityCard(
                id="catalog.links",
                title="Links",
                render=self.render_links,
                predicate=has_links,
                area="side",
                order=10,
            )
        )
        reg.add_card(
            EntityCard(
                id="catalog.labels",
                title="Labels & annotations",
                render=self.render_labels,
                predicate=has_labels_or_annotations,
                area="side",
                order=20,
            )
        )

    # -- cards -----------------------------------------------------------------------------------

    def render_status(self, ctx: EntityContext) -> Markup | None:
        items = []
        for item in (ctx.entity.get("status") or {}).get("items") or []:
            if not isinstance(item, Mapping):
                continue
            raw_error = item.get("error")
            error: Mapping[str, Any] = raw_error if isinstance(raw_error, Mapping) else {}
            location = error.get("location") if isinstance(error.get("location"), str) else None
            line = error.get("line") if isinstance(error.get("line"), int) else None
            items.append(
                {
                    "level": "error" if item.get("level") == "error" else "warning",
                    "message": str(item.get("message") or error.get("message") or "Unknown problem"),
                    "name": error.get("name") if isinstance(error.get("name"), str) else None,
                    "location": location,
                    "location_href": location_url(location),
                    "line": line,
                    "field": error.get("field") if isinstance(error.get("field"), str) else None,
                }
            )
        related = related_entities(ctx)
        dangling = []
        for relation in ctx.entity.get("relations") or []:
            if not isinstance(relation, Mapping):
                continue
            target = normalize_ref(str(relation.get("targetRef", "")))
            if target and not related.exists(target):
                relation_type = str(relation.get("type", ""))
                dangling.append(
                    {"ref": target, "relation": RELATION_TITLES.get(relation_type, relation_type)}
                )
        orphan = str(ctx.annotations.get(ANNOTATION_ORPHAN, "")).lower() == "true"
        if not items and not dangling and not orphan:
            return None
        return self.fragment(
            "status_card.html",
            {
                "items": items,
                "dangling": dangling,
                "orphan": orphan,
                "ctx": ctx,
                "unregister_href": entity_base_path(ctx.entity) + "/unregister",
            },
        )

    def render_about(self, ctx: EntityContext) -> Markup:
        entity, spec, metadata = ctx.entity, ctx.spec, ctx.metadata
        kind = ctx.kind.lower()
        part_of = relation_targets(entity, "partOf")
        systems = [r for r in part_of if r.startswith("system:")]
        domains = [r for r in part_of if r.startswith("domain:")]
        parents: list[str] = []
        if kind == "component":
            parents = [r for r in part_of if r.startswith("component:")]
        elif kind == "system":
            systems = []
        elif kind == "domain":
            parents, domains = domains, []
        elif kind == "group":
            parents = relation_targets(entity, "childOf")
        if kind in ("component", "api", "resource") and not domains and systems:
            # The domain of a component is its system's domain: not fetched (one extra query per page).
            domains = []
        annotations = ctx.annotations
        source = annotations.get(ANNOTATION_SOURCE_LOCATION)
        source_href = location_url(source)
        view_href = safe_url(annotations.get(ANNOTATION_VIEW_URL))
        edit_href = safe_url(annotations.get(ANNOTATION_EDIT_URL))
        managed_by = annotations.get(ANNOTATION_MANAGED_BY_LOCATION)
        facts = header_facts(entity)
        raw_targets = spec.get("targets")
        targets: list[Any] = raw_targets if isinstance(raw_targets, list) else []
        raw_target = spec.get("target")
        target = raw_target if isinstance(raw_target, str) else None
        return self.fragment(
            "about_card.html",
            {
                "ctx": ctx,
                "kind": kind,
                "description": render_markdown(metadata.get("description")),
                "owners": facts["owners"],
                "systems": systems,
                "domains": domains,
                "parents": parents,
                "type": facts["type"],
                "lifecycle": facts["lifecycle"],
                "tags": facts["tags"],
                "source": source if isinstance(source, str) else None,
                "source_href": source_href,
                "view_href": view_href,
                "edit_href": edit_href,
                "managed_by": managed_by if isinstance(managed_by, str) else None,
                "location_targets": [str(t) for t in ([target] if target else []) + targets],
                "related": related_entities(ctx),
            },
        )

    def _relation_card_renderer(self, spec: RelationCardSpec) -> Callable[[EntityContext], Markup]:
        def render(ctx: EntityContext) -> Markup:
            related = related_entities(ctx)
            refs = relation_targets(ctx.entity, spec.relation, spec.target_kind)
            rows = [related_row(ref, related) for ref in refs]
            show_kind = len({row["kind"].lower() for row in rows}) > 1
            return self.fragment(
                "relation_card.html",
                {
                    "spec": spec,
                    "rows": rows,
                    "show_kind": show_kind,
                },
            )

        return render

    def render_links(self, ctx: EntityContext) -> Markup:
        links = [link_view(link) for link in ctx.metadata.get("links") or [] if isinstance(link, Mapping)]
        return self.fragment("links_card.html", {"links": links})

    def render_labels(self, ctx: EntityContext) -> Markup:
        labels = sorted((str(k), str(v)) for k, v in (ctx.metadata.get("labels") or {}).items())
        annotations = sorted((str(k), str(v)) for k, v in ctx.annotations.items())
        return self.fragment("labels_card.html", {"labels": labels, "annotations": annotations})

    # -- tabs ------------------------------------------------------------------------------------

    def _render_cards(self, ctx: EntityContext, area: str) -> list[dict[str, Any]]:
        rendered: list[dict[str, Any]] = []
        for card in self.registry.cards_for(ctx.entity, area):
            try:
                html = card.render(ctx)
            except Exception:
                self.ui.logger.exception("Entity card %s failed for %s", card.id, ctx.entity_ref)
                rendered.append({"card": card, "html": None, "failed": True})
                continue
            if html:
                rendered.append({"card": card, "html": Markup(html), "failed": False})
        return rendered

    def render_overview(self, ctx: EntityContext) -> Markup:
        main = self._render_cards(ctx, "main")
        side = self._render_cards(ctx, "side")
        return self.fragment("overview.html", {"main": main, "side": side})

    def render_raw(self, ctx: EntityContext) -> Markup:
        fmt = "json" if ctx.request.query_params.get("format") == "json" else "yaml"
        entity = ctx.entity
        if fmt == "json":
            text = json.dumps(entity, indent=2, ensure_ascii=False)
        else:
            text = yaml.safe_dump(
                entity, sort_keys=False, allow_unicode=True, default_flow_style=False, width=2**20
            )
        try:
            rows = ancestry_rows(ctx.catalog.ancestry(ctx.entity_ref))
        except NotFoundError:
            rows = []
        base = entity_base_path(entity)
        return self.fragment(
            "raw.html",
            {
                "fmt": fmt,
                "text": text,
                "base": base,
                "ancestry": rows,
                "entity_ref": ctx.entity_ref,
                "name": ctx.metadata.get("name", "entity"),
            },
        )


# -- request handling ------------------------------------------------------------------------------


def _principal_ref(request: Request) -> str | None:
    principal = getattr(request.state, "principal", None)
    ref = getattr(principal, "user_entity_ref", None)
    return ref if isinstance(ref, str) and ref else None


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def install(ui: UiContext) -> None:
    page = EntityPage(ui)
    page.register_builtins()
    router = APIRouter(include_in_schema=False)

    def load(namespace: str, kind: str, name: str) -> tuple[dict[str, Any], str] | None:
        ref = normalize_ref(f"{kind}:{namespace}/{name}")
        entity = ui.catalog.query.entity_json_by_ref(ref)
        if entity is None:
            return None
        return entity, stringify_entity_ref(entity)

    def not_found(request: Request, namespace: str, kind: str, name: str) -> HTMLResponse:
        return ui.web.render(
            request,
            f"{TEMPLATE_DIR}/not_found.html",
            {
                "status_code": 404,
                "kind": kind,
                "namespace": namespace,
                "name": name,
                "search_href": "/search?" + urlencode({"q": name}),
                "catalog_href": "/catalog?" + urlencode({"filters[kind]": kind.lower()}),
            },
            status_code=404,
            title="Entity not found",
        )

    def starred(request: Request, ref: str) -> bool:
        user = _principal_ref(request)
        if user is None:
            return False
        try:
            return ref in {normalize_ref(r) for r in ui.user_settings.starred(user)}
        except Exception:
            ui.logger.exception("Could not read starred entities of %s", user)
            return False

    def render_page(request: Request, namespace: str, kind: str, name: str, tab_id: str) -> HTMLResponse:
        found = load(namespace, kind, name)
        if found is None:
            return not_found(request, namespace, kind, name)
        entity, ref = found
        ctx = EntityContext(
            request=request,
            entity=entity,
            entity_ref=ref,
            catalog=ui.catalog,
            principal=getattr(request.state, "principal", None),
        )
        tabs = ui.registry.tabs_for(entity)
        tab = next((t for t in tabs if t.id == tab_id), None)
        base = entity_base_path(entity)
        if tab is None:
            return ui.web.render(
                request,
                "error.html",
                {
                    "status_code": 404,
                    "error_title": "No such tab",
                    "error_message": f"{display_title(entity, ref)} has no “{tab_id}” tab. "
                    f"Its tabs are: {', '.join(t.title for t in tabs)}.",
                },
                status_code=404,
                title="Not found",
            )
        try:
            body: Markup | None = Markup(tab.render(ctx) or "")
            failed = False
        except Exception:
            ui.logger.exception("Entity tab %s failed for %s", tab.id, ref)
            body, failed = None, True
        user = _principal_ref(request)
        if user is not None:
            try:
                ui.user_settings.record_visit(user, ref)
            except Exception:
                ui.logger.exception("Could not record a visit of %s by %s", ref, user)
        flash = FLASH_MESSAGES.get(request.query_params.get("flash", ""))
        facts = header_facts(entity)
        related = related_entities(ctx)
        owner_titles = {o: display_title(related.get(o), o) for o in facts["owners"] if related.exists(o)}
        return ui.web.render(
            request,
            f"{TEMPLATE_DIR}/page.html",
            {
                "entity": entity,
                "entity_ref": ref,
                "entity_title": display_title(entity, ref),
                "kind_icon": KIND_ICONS.get(ctx.kind.lower(), "box"),
                "base": base,
                "facts": facts,
                "owner_titles": owner_titles,
                "tabs": [(t.id, t.title, base + ("/" + quote(t.id, safe="") if t.id else "")) for t in tabs],
                "active_tab": tab.id,
                "tab_title": tab.title,
                "body": body,
                "failed": failed,
                "starred": starred(request, ref),
                "flash": flash,
                "can_star": user is not None,
            },
            title="Catalog",
        )

    @router.get("/catalog/{namespace}/{kind}/{name}", response_class=HTMLResponse)
    def entity_page(request: Request, namespace: str, kind: str, name: str) -> HTMLResponse:
        return render_page(request, namespace, kind, name, "")

    @router.post("/catalog/{namespace}/{kind}/{name}/star", response_model=None)
    def toggle_star(
        request: Request,
        namespace: str,
        kind: str,
        name: str,
        starred_value: str = Form("true", alias="starred"),
    ) -> Response:
        found = load(namespace, kind, name)
        if found is None:
            if _wants_json(request):
                return JSONResponse({"error": "not found"}, status_code=404)
            return not_found(request, namespace, kind, name)
        entity, ref = found
        user = _principal_ref(request)
        if user is None:
            if _wants_json(request):
                return JSONResponse({"error": "sign in to star entities"}, status_code=401)
            return RedirectResponse(entity_base_path(entity), status_code=303)
        want = starred_value.lower() not in ("false", "0", "off", "")
        refs = ui.user_settings.set_starred(user, ref, want)
        now = ref in {normalize_ref(r) for r in refs}
        if _wants_json(request):
            return JSONResponse({"entityRef": ref, "starred": now})
        return RedirectResponse(entity_base_path(entity), status_code=303)

    @router.post("/catalog/{namespace}/{kind}/{name}/refresh", response_model=None)
    def refresh(request: Request, namespace: str, kind: str, name: str) -> Response:
        found = load(namespace, kind, name)
        if found is None:
            return not_found(request, namespace, kind, name)
        entity, ref = found
        try:
            ui.catalog.refresh(ref)
            flash = "refreshed"
        except GreenroomError:
            ui.logger.exception("Refresh of %s failed", ref)
            flash = "refresh-failed"
        return RedirectResponse(entity_base_path(entity) + "?flash=" + flash, status_code=303)

    def unregister_plan(entity: Mapping[str, Any]) -> dict[str, Any]:
        annotations = (entity.get("metadata") or {}).get("annotations") or {}
        origin = annotations.get(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION)
        location = None
        if isinstance(origin, str) and origin:
            try:
                location = ui.catalog.locations.by_entity(origin)
            except NotFoundError:
                location = None
        colocated: list[dict[str, Any]] = []
        total = 0
        if location is not None:
            result = ui.catalog.query.query_entities(
                filter=parse_predicate(
                    {f"metadata.annotations.{ANNOTATION_MANAGED_BY_ORIGIN_LOCATION}": origin}
                ),
                order_fields=[("metadata.name", "asc")],
                fields=["kind", "metadata.name", "metadata.namespace", "metadata.title"],
                limit=UNREGISTER_LIST_LIMIT,
            )
            total = result.total_items
            for raw in result.items:
                item = orjson.loads(raw) if isinstance(raw, (bytes, str)) else raw
                item_ref = stringify_entity_ref(item)
                colocated.append(
                    {"ref": item_ref, "title": display_title(item, item_ref), "kind": item.get("kind")}
                )
        return {
            "origin": origin if isinstance(origin, str) else None,
            "bootstrap": origin == "bootstrap:bootstrap",
            "location": location,
            "colocated": colocated,
            "total": total,
            "readonly": bool(getattr(ui.catalog.config, "readonly", False)),
        }

    def render_unregister(
        request: Request,
        entity: dict[str, Any],
        ref: str,
        *,
        error: str | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        return ui.web.render(
            request,
            f"{TEMPLATE_DIR}/unregister.html",
            {
                "entity": entity,
                "entity_ref": ref,
                "entity_title": display_title(entity, ref),
                "base": entity_base_path(entity),
                "plan": unregister_plan(entity),
                "error": error,
                "list_limit": UNREGISTER_LIST_LIMIT,
            },
            status_code=status_code,
            title="Unregister entity",
        )

    @router.get("/catalog/{namespace}/{kind}/{name}/unregister", response_class=HTMLResponse)
    def unregister_confirm(request: Request, namespace: str, kind: str, name: str) -> HTMLResponse:
        found = load(namespace, kind, name)
        if found is None:
            return not_found(request, namespace, kind, name)
        return render_unregister(request, *found)

    @router.post("/catalog/{namespace}/{kind}/{name}/unregister", response_model=None)
    def unregister(
        request: Request, namespace: str, kind: str, name: str, mode: str = Form("entity")
    ) -> Response:
        found = load(namespace, kind, name)
        if found is None:
            return not_found(request, namespace, kind, name)
        entity, ref = found
        plan = unregister_plan(entity)
        try:
            if mode == "location" and plan["location"] is not None:
                ui.catalog.locations.delete(plan["location"].id)
                removed = max(plan["total"], 1)
            else:
                uid = str((entity.get("metadata") or {}).get("uid") or "")
                ui.catalog.delete_entity_by_uid(uid)
                removed = 1
        except GreenroomError as error:
            status = int(getattr(error, "status_code", 400) or 400)
            return render_unregister(request, entity, ref, error=str(error), status_code=status)
        query = urlencode(
            {"ref": ref, "removed": removed, "mode": "location" if mode == "location" else "entity"}
        )
        return RedirectResponse("/catalog/-/unregistered?" + query, status_code=303)

    @router.get("/catalog/-/unregistered", response_class=HTMLResponse)
    def unregistered(request: Request) -> HTMLResponse:
        ref = request.query_params.get("ref", "")
        try:
            removed = max(int(request.query_params.get("removed", "1")), 1)
        except ValueError:
            removed = 1
        return ui.web.render(
            request,
            f"{TEMPLATE_DIR}/unregistered.html",
            {"ref": ref, "removed": removed, "mode": request.query_params.get("mode", "entity")},
            title="Unregistered",
        )

    @router.get("/catalog/{namespace}/{kind}/{name}/raw/{fmt}", response_model=None)
    def download(request: Request, namespace: str, kind: str, name: str, fmt: str) -> Response:
        found = load(namespace, kind, name)
        if found is None or fmt not in ("yaml", "json"):
            return not_found(request, namespace, kind, name)
        entity, _ref = found
        filename = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{entity.get('kind', 'entity')}-{name}".lower())
        if fmt == "json":
            body = json.dumps(entity, indent=2, ensure_ascii=False) + "\n"
            media = "application/json"
        else:
            body = yaml.safe_dump(entity, sort_keys=False, allow_unicode=True, width=2**20)
            media = "application/yaml"
        return Response(
            body,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
        )

    @router.get("/catalog/{namespace}/{kind}/{name}/{tab}", response_class=HTMLResponse)
    def entity_tab(request: Request, namespace: str, kind: str, name: str, tab: str) -> HTMLResponse:
        return render_page(request, namespace, kind, name, tab)

    ui.web.add_page_router(router)


__all__ = [
    "ORDER",
    "EntityPage",
    "RelatedEntities",
    "ancestry_rows",
    "install",
    "location_url",
    "related_entities",
    "render_markdown",
    "safe_url",
]
