"""The web shell renders every page in one layout, escapes what plugins and users supply, and
serves its own assets (no CDN) with long-lived cache headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import fastapi
import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from greenroom.core.web import (
    ICON_NAMES,
    InstalledFeature,
    NavItem,
    WebShell,
    entity_href,
    humanize_entity_ref,
)

XSS = "<script>alert(1)</script>"
FEATURES = [
    InstalledFeature("catalog", "plugin", "Software Catalog", "Tracks who owns what.", "catalog"),
    InstalledFeature("catalog-module-github", "module", "GitHub discovery", "Finds entity files.", "catalog"),
]


@dataclass(frozen=True)
class _Principal:
    user_entity_ref: str


def _app(shell: WebShell) -> TestClient:
    app = fastapi.FastAPI()
    shell.mount(app)
    return TestClient(app)


@pytest.fixture
def shell() -> WebShell:
    shell = WebShell(organization="Acme Corp", version="1.2.3")
    shell.add_nav_item(NavItem("catalog", "Catalog", "/catalog", icon="catalog", order=10))
    shell.add_nav_item(NavItem("catalog", "Catalog graph", "/catalog/graph", icon="graph", order=11))
    shell.add_nav_item(NavItem("docs", "Docs", "/docs", icon="docs", order=20))
    shell.set_installed(FEATURES)
    return shell


def _nav_links(html: str) -> list[str]:
    nav = html[html.index('<nav class="gr-nav"') : html.index("</nav>")]
    return re.findall(r"<a [^>]*>", nav)


def test_home_lists_installed_features_and_nav(shell: WebShell) -> None:
    response = _app(shell).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "Acme Corp" in html
    for feature in FEATURES:
        assert feature.title in html
        assert feature.feature_id in html
        assert feature.description in html
    # API prefixes are listed, not linked: /api/<plugin> itself is not a page
    assert "/api/catalog/…" in html and 'href="/api/catalog"' not in html
    assert 'action="/search"' in html and 'name="q"' in html
    links = _nav_links(html)
    assert [re.search(r'href="([^"]+)"', a).group(1) for a in links] == [  # type: ignore[union-attr]
        "/",
        "/catalog",
        "/catalog/graph",
        "/docs",
    ]
    assert 'aria-current="page"' in links[0]
    assert "<title>Home · Greenroom</title>" in html


def test_home_without_features_shows_empty_state() -> None:
    html = _app(WebShell()).get("/").text
    assert "Nothing installed yet" in html
    assert "gr-empty" in html


def test_active_nav_item_is_the_longest_matching_href(shell: WebShell) -> None:
    router = fastapi.APIRouter()

    @router.get("/catalog/graph/view")
    async def graph(request: Request) -> fastapi.responses.HTMLResponse:
        return shell.render(request, "error.html", {"status_code": 200, "error_title": "x"})

    shell.add_router(router)
    links = _nav_links(_app(shell).get("/catalog/graph/view").text)
    current = [a for a in links if 'aria-current="page"' in a]
    assert len(current) == 1
    assert 'href="/catalog/graph"' in current[0]


def test_nav_is_sorted_by_order_then_title_and_same_href_replaces() -> None:
    shell = WebShell()
    shell.add_nav_item(NavItem("b", "Zeta", "/z", order=5))
    shell.add_nav_item(NavItem("a", "Alpha", "/a", order=5))
    shell.add_nav_item(NavItem("a", "Alpha again", "/a", order=5))
    titles = [item.title for item in shell.nav_links("/a")]
    assert titles == ["Home", "Alpha again", "Zeta"]
    assert [item.active for item in shell.nav_links("/a/sub")] == [False, True, False]


def test_plugin_template_and_router_render_inside_layout(shell: WebShell, tmp_path: Path) -> None:
    (tmp_path / "myplugin").mkdir()
    (tmp_path / "myplugin" / "page.html").write_text(
        '{% extends "base.html" %}{% import "macros.html" as ui %}'
        "{% block content %}<p id=plugin-body>{{ greeting }}</p>"
        "{{ ui.entity_link('Component:Default/payments') }}"
        "{{ ui.alert('warning', 'careful') }}"
        "{{ ui.tabs([('a', 'Overview', '/docs/x'), ('b', 'API', '/docs/x/api')], 'a') }}"
        "{{ ui.empty_state('No docs', 'Add mkdocs.yml', '/create', 'Create') }}"
        "{% endblock %}",
        encoding="utf-8",
    )
    shell.add_template_dir(tmp_path)
    router = fastapi.APIRouter()

    @router.get("/docs/x")
    async def page(request: Request) -> fastapi.responses.HTMLResponse:
        return shell.render(
            request, "myplugin/page.html", {"greeting": "Hello from a plugin"}, title="X docs"
        )

    client = _app(shell)
    shell.add_router(router)  # after mount(): still served
    response = client.get("/docs/x")
    assert response.status_code == 200
    html = response.text
    assert "<p id=plugin-body>Hello from a plugin</p>" in html
    assert 'class="gr-sidebar"' in html and 'class="gr-topbar"' in html
    assert "<title>X docs · Greenroom</title>" in html
    assert 'href="/catalog/default/component/payments"' in html
    assert 'class="gr-alert gr-alert--warning" role="status"' in html
    assert 'class="gr-tab is-active" href="/docs/x" aria-current="page"' in html
    assert 'href="/create">Create</a>' in html
    docs_link = next(a for a in _nav_links(html) if 'href="/docs"' in a)
    assert 'aria-current="page"' in docs_link


def test_render_error_uses_the_layout(shell: WebShell) -> None:
    router = fastapi.APIRouter()

    @router.get("/nowhere")
    async def nowhere(request: Request) -> fastapi.responses.HTMLResponse:
        return shell.render_error(request, 404, "Page not found", "Nothing lives at this address.")

    shell.add_router(router)
    response = _app(shell).get("/nowhere")
    assert response.status_code == 404
    assert "Nothing lives at this address." in response.text
    assert "<title>Page not found · Greenroom</title>" in response.text
    assert 'class="gr-sidebar"' in response.text


def test_static_assets_are_served_with_long_cache_and_versioned_links(shell: WebShell) -> None:
    client = _app(shell)
    html = client.get("/").text
    css_href = re.search(r'href="(/static/greenroom/greenroom\.css\?v=[0-9a-f]+)"', html)
    assert css_href, "stylesheet link with a version query string"
    assert re.search(r'src="/static/greenroom/greenroom\.js\?v=[0-9a-f]+"', html)
    assert re.search(r'href="/static/greenroom/favicon\.svg\?v=[0-9a-f]+"', html)
    for path, media_type in [
        (css_href.group(1), "text/css"),
        ("/static/greenroom/greenroom.js", "javascript"),
        ("/static/greenroom/favicon.svg", "image/svg+xml"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert media_type in response.headers["content-type"]
        assert "max-age=31536000" in response.headers["cache-control"]
    assert client.get("/static/greenroom/%2e%2e/shell.py").status_code == 404


def test_pages_reference_no_external_assets(shell: WebShell) -> None:
    html = _app(shell).get("/").text
    assert not re.search(r'(src|href)="(https?:)?//', html)
    css = (Path(__file__).parents[2] / "src/greenroom/core/web/static/greenroom.css").read_text()
    assert "@import" not in css and "http://" not in css.replace("http://www.w3.org/2000/svg", "")


def test_user_supplied_values_are_escaped() -> None:
    shell = WebShell(app_title=XSS, organization=XSS)
    shell.add_nav_item(NavItem("evil", XSS, f'/x"onmouseover="{XSS}', icon=XSS))
    shell.set_installed([InstalledFeature(XSS, "plugin", XSS, XSS, "evil")])
    app = fastapi.FastAPI()

    @app.middleware("http")
    async def principal(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.principal = _Principal(f"user:default/{XSS}")
        return await call_next(request)

    shell.mount(app)
    html = TestClient(app).get("/", params={"q": XSS}).text
    assert XSS not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'onmouseover="' not in html


def test_theme_toggle_and_no_flash_script(shell: WebShell) -> None:
    client = _app(shell)
    html = client.get("/").text
    head = html[: html.index("</head>")]
    # The inline script must run before the stylesheet so the stored theme applies on first paint.
    assert head.index('localStorage.getItem("greenroom-theme")') < head.index("greenroom.css")
    assert 'get("theme")' in head
    assert "data-gr-theme-toggle" in html
    js = client.get("/static/greenroom/greenroom.js").text
    assert "data-gr-theme-toggle" in js and "localStorage.setItem" in js
    css = client.get("/static/greenroom/greenroom.css").text
    assert '[data-theme="dark"]' in css and "prefers-color-scheme: dark" in css


def test_accessibility_landmarks(shell: WebShell) -> None:
    html = _app(shell).get("/").text
    assert html.index('class="gr-skip-link" href="#main"') < html.index("gr-sidebar")
    assert 'id="main"' in html
    assert 'role="navigation"' in html and 'aria-label="Main"' in html
    assert '<label class="gr-visually-hidden" for="gr-global-search">' in html
    assert '<label class="gr-visually-hidden" for="gr-home-search">' in html


def test_csp_nonce_and_principal_come_from_request_state(shell: WebShell) -> None:
    app = fastapi.FastAPI()

    @app.middleware("http")
    async def state(request: Request, call_next):  # type: ignore[no-untyped-def]
        request.state.csp_nonce = "n0nce"
        request.state.principal = _Principal("user:default/jane.doe")
        return await call_next(request)

    shell.mount(app)
    html = TestClient(app).get("/").text
    assert '<script nonce="n0nce">' in html
    assert 'href="/catalog/default/user/jane.doe">jane.doe</a>' in html


def test_entity_ref_helpers() -> None:
    assert entity_href("Component:Default/My-Service") == "/catalog/default/component/My-Service"
    assert entity_href("group:team-a") == "/catalog/default/group/team-a"
    assert entity_href("no-kind") is None
    assert entity_href("component:a/b?c") == "/catalog/a/component/b%3Fc"
    assert humanize_entity_ref("component:default/svc") == "component:svc"
    assert humanize_entity_ref("api:payments/pay") == "api:payments/pay"


def test_every_documented_icon_exists() -> None:
    documented = {"home", "catalog", "api", "docs", "create", "search", "group", "user"}
    documented |= {"settings", "box", "graph", "admin"}
    assert documented <= ICON_NAMES
