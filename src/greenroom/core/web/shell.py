"""The web shell: the server-rendered frame (layout, nav, theme, static assets) every page uses.

Plugins never build their own page chrome. They hand the shell nav items, template folders and
page routers; their route handlers call `WebShell.render()` with a template that extends
`base.html`, so every page shares one look, one design system and one set of accessibility
guarantees. The runtime creates one shell, lets plugins initialise (they call `add_*`), and then
calls `mount()` on the FastAPI app.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import fastapi
import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from greenroom.core.web.icons import icon, logo

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
STATIC_PREFIX = "/static/greenroom"
# Asset URLs carry a content hash, so a year-long immutable cache is safe: a changed file gets a new URL.
STATIC_CACHE_CONTROL = "public, max-age=31536000, immutable"

_DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class NavItem:
    """One entry in the sidebar; `icon` names a built-in icon (see `icons.ICON_NAMES`)."""

    plugin_id: str
    title: str
    href: str
    icon: str = "box"
    order: int = 100


@dataclass(frozen=True)
class NavLink(NavItem):
    """A NavItem as rendered for one request: `active` marks the page the user is on."""

    active: bool = False


@dataclass(frozen=True)
class InstalledFeature:
    """A plugin or module the runtime loaded, listed on the home page so users see what is there."""

    feature_id: str
    kind: Literal["plugin", "module"]
    title: str
    description: str
    plugin_id: str


def parse_entity_ref(ref: str) -> tuple[str, str, str] | None:
    """Split `kind:namespace/name` (namespace optional) into parts; None when there is no kind."""
    kind, sep, rest = ref.partition(":")
    if not sep or not kind or not rest:
        return None
    namespace, slash, name = rest.partition("/")
    if not slash:
        namespace, name = _DEFAULT_NAMESPACE, rest
    if not namespace or not name:
        return None
    return kind, namespace, name


def entity_href(ref: str) -> str | None:
    """The entity page URL for a ref, lower-casing kind and namespace as Backstage's routes do."""
    parts = parse_entity_ref(ref)
    if parts is None:
        return None
    kind, namespace, name = parts
    return "/catalog/{}/{}/{}".format(
        quote(namespace.lower(), safe=""), quote(kind.lower(), safe=""), quote(name, safe="")
    )


def entity_ref_name(ref: str) -> str:
    """The name part of a ref (`user:default/jane` -> `jane`), for compact labels."""
    parts = parse_entity_ref(ref)
    return parts[2] if parts else ref.rsplit("/", 1)[-1]


def humanize_entity_ref(ref: str) -> str:
    """Short display form of a ref: the default namespace is left out, as Backstage shows it."""
    parts = parse_entity_ref(ref)
    if parts is None:
        return ref
    kind, namespace, name = parts
    if namespace.lower() == _DEFAULT_NAMESPACE:
        return f"{kind.lower()}:{name}"
    return f"{kind.lower()}:{namespace}/{name}"


class _CachedStaticFiles(StaticFiles):
    """StaticFiles that adds a long cache lifetime, since asset links are content-versioned."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = STATIC_CACHE_CONTROL
        return response


@dataclass(frozen=True)
class HomeWidget:
    """A block on the home page contributed by a plugin (rendered per request, may be empty)."""

    plugin_id: str
    id: str
    render: Callable[[Request], Markup | str | None]
    order: int = 100
    width: Literal["full", "half"] = "half"


class WebShell:
    """Owns the page layout, sidebar, templates and static assets of the portal."""

    def __init__(
        self,
        *,
        app_title: str = "Greenroom",
        organization: str = "Acme",
        base_url: str = "http://127.0.0.1:7007",
        version: str = "",
    ) -> None:
        self.app_title = app_title
        self.organization = organization
        self.base_url = base_url.rstrip("/")
        self.version = version
        self._nav_items: dict[str, NavItem] = {}
        self._routers: list[fastapi.APIRouter] = []
        self._installed: tuple[InstalledFeature, ...] = ()
        self._home_widgets: dict[str, HomeWidget] = {}
        self._app: fastapi.FastAPI | None = None
        self._loader = jinja2.FileSystemLoader([str(TEMPLATE_DIR)])
        # autoescape=True for every template: plugin and user values must never become markup.
        self.env = jinja2.Environment(
            loader=self._loader,
            autoescape=True,
            undefined=jinja2.Undefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._asset_versions = {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            for path in STATIC_DIR.iterdir()
            if path.is_file()
        }
        self.env.globals.update(
            icon=icon,
            logo=logo,
            entity_href=entity_href,
            entity_ref_name=entity_ref_name,
            humanize_entity_ref=humanize_entity_ref,
        )
        self.add_nav_item(NavItem(plugin_id="app", title="Home", href="/", icon="home", order=0))

    # -- registration (called by plugins during init, before mount) ---------------------------

    def add_nav_item(self, item: NavItem) -> None:
        """Add a sidebar entry; a later item with the same href replaces the earlier one."""
        self._nav_items[item.href] = item

    def add_template_dir(self, path: Path) -> None:
        """Let templates in `path` be rendered; the shell's own templates are searched first."""
        resolved = str(Path(path).resolve())
        if resolved not in self._loader.searchpath:
            self._loader.searchpath.append(resolved)

    def add_router(self, router: fastapi.APIRouter) -> None:
        """Add a plugin's page routes at the site root (included now if already mounted)."""
        self._routers.append(router)
        if self._app is not None:
            self._app.include_router(router)

    def add_home_widget(self, widget: HomeWidget) -> None:
        """Add (or replace, by id) a home page block."""
        self._home_widgets[f"{widget.plugin_id}:{widget.id}"] = widget

    def render_fragment(self, template_name: str, context: Mapping[str, Any] | None = None) -> Markup:
        """Render a partial template (a card, a tab body) to safe markup for embedding in a page."""
        return Markup(self.env.get_template(template_name).render(dict(context or {})))

    def set_installed(self, features: Sequence[InstalledFeature]) -> None:
        """Record which plugins and modules are loaded, for the home page."""
        self._installed = tuple(features)

    # -- rendering ----------------------------------------------------------------------------

    def static_url(self, request: Request, name: str) -> str:
        """URL of a shell asset with its content hash as a cache-busting query string."""
        root = request.scope.get("root_path", "")
        version = self._asset_versions.get(name, self.version or "0")
        return f"{root}{STATIC_PREFIX}/{name}?v={version}"

    def nav_links(self, path: str) -> list[NavLink]:
        """Nav items in display order, with the best match for `path` marked active."""
        items = sorted(self._nav_items.values(), key=lambda i: (i.order, i.title.lower(), i.href))
        active_href = self._active_href(path, items)
        return [NavLink(**dataclasses.asdict(item), active=item.href == active_href) for item in items]

    @staticmethod
    def _active_href(path: str, items: Sequence[NavItem]) -> str | None:
        # The longest matching href wins, so /catalog/graph beats /catalog and "/" only matches itself.
        best: str | None = None
        best_len = -1
        for item in items:
            href = item.href.split("?", 1)[0].rstrip("/") or "/"
            matches = path == "/" if href == "/" else path == href or path.startswith(href + "/")
            if matches and len(href) > best_len:
                best, best_len = item.href, len(href)
        return best

    def render(
        self,
        request: Request,
        template_name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        title: str | None = None,
    ) -> HTMLResponse:
        """Render a template inside the layout with the shell's standard context."""
        extra = dict(context or {})
        nav_items = self.nav_links(request.url.path)
        active = next((item for item in nav_items if item.active), None)
        page_title = title or extra.pop("page_title", None) or (active.title if active else self.app_title)
        ctx: dict[str, Any] = {
            "app_title": self.app_title,
            "organization": self.organization,
            "base_url": self.base_url,
            "version": self.version,
            "principal": getattr(request.state, "principal", None),
            "csp_nonce": getattr(request.state, "csp_nonce", None),
            **extra,
            "request": request,
            "nav_items": nav_items,
            "page_title": page_title,
            "static_url": lambda name: self.static_url(request, name),
        }
        html = self.env.get_template(template_name).render(ctx)
        return HTMLResponse(html, status_code=status_code)

    def render_error(self, request: Request, status_code: int, title: str, message: str) -> HTMLResponse:
        """An error page (404, 500, ...) in the portal's look, so users keep their navigation."""
        return self.render(
            request,
            "error.html",
            {"status_code": status_code, "error_title": title, "error_message": message},
            status_code=status_code,
            title=title,
        )

    # -- wiring -------------------------------------------------------------------------------

    def mount(self, app: fastapi.FastAPI) -> None:
        """Serve assets and the home page, and include plugin page routers.

        Call after plugins have initialised. `/` and `/static/greenroom/` belong to the shell;
        routers added later are still included.
        """
        self._app = app
        app.mount(STATIC_PREFIX, _CachedStaticFiles(directory=STATIC_DIR), name="greenroom-static")
        app.add_api_route(
            "/", self._home, methods=["GET"], response_class=HTMLResponse, include_in_schema=False
        )
        for router in self._routers:
            app.include_router(router)

    async def _home(self, request: Request) -> HTMLResponse:
        features = sorted(self._installed, key=lambda f: (f.title.lower(), f.feature_id))
        plugins = [f for f in features if f.kind == "plugin"]
        modules = [f for f in features if f.kind == "module"]
        widgets: list[tuple[HomeWidget, Markup]] = []
        for widget in sorted(self._home_widgets.values(), key=lambda w: (w.order, w.id)):
            html = await run_in_threadpool(widget.render, request)
            if html:
                widgets.append((widget, Markup(html)))
        return self.render(
            request,
            "home.html",
            {"plugins": plugins, "modules": modules, "widgets": widgets},
            title="Home",
        )
