"""Screenshots of every portal page, light and dark, desktop and narrow, plus an HTML gallery.

    python tools/screenshots.py                       # start the demo server, write screenshots/
    python tools/screenshots.py --base-url http://127.0.0.1:7007 --only admin

Starts the demo organisation the same way the end-to-end tests do (`tests/e2e/conftest.py`),
waits until the catalog has settled, then drives Debian's Chromium through Playwright (no
browser is downloaded). Pages that are not built yet are captured as they are (a 404 page is
still a screenshot). Output: `screenshots/<page>--<theme>--<width>.png` and `index.html`.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, start_demo_server, wait_for_catalog  # noqa: E402

WIDTHS = {"desktop": 1280, "narrow": 700}
HEIGHT = 900
THEMES = ("light", "dark")
DEMO_FOLDER = "examples/demo-org/components/checkout-service"
BROKEN_FILE = "examples/demo-org/mistakes/syntax-error.yaml"


@dataclass(frozen=True)
class Shot:
    """One page to capture: `path` is opened, then `prepare` (if any) runs before the screenshot."""

    name: str
    title: str
    path: str
    prepare: Callable[[Any], None] | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def _entity_path(entity: dict[str, Any]) -> str:
    metadata = entity.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "default").lower()
    return "/catalog/{}/{}/{}".format(
        quote(namespace, safe=""),
        quote(str(entity.get("kind", "")).lower(), safe=""),
        quote(str(metadata.get("name")), safe=""),
    )


def _tab_links(client: httpx.Client, path: str) -> dict[str, str]:
    """Tab title -> href on an entity page (tabs come from many plugins, so they are discovered)."""
    response = client.get(path)
    if response.status_code != 200:
        return {}
    nav = re.search(r'<nav class="gr-tabs"[^>]*>(.*?)</nav>', response.text, re.DOTALL)
    if not nav:
        return {}
    links = re.findall(r'<a[^>]*href="([^"]+)"[^>]*>(.*?)</a>', nav.group(1), re.DOTALL)
    return {html.unescape(re.sub(r"<[^>]+>", "", text)).strip(): html.unescape(href) for href, text in links}


def _fill_and_submit(target: str) -> Callable[[Any], None]:
    def prepare(page: Any) -> None:
        page.fill("#gr-import-target", target)
        with page.expect_navigation():
            page.click("form[action='/catalog-import/analyze'] button[type=submit]")

    return prepare


def discover_shots(base_url: str) -> list[Shot]:
    """Every page worth a screenshot on the demo catalog, found through the catalog API."""
    shots = [
        Shot("home", "Home", "/"),
        Shot("catalog-index", "Catalog index", "/catalog"),
        Shot("catalog-index-apis", "Catalog index: APIs", "/catalog?filters[kind]=api"),
    ]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        entities = client.get(
            "/api/catalog/entities", params={"fields": "kind,metadata.name,metadata.namespace,spec.type"}
        ).json()
        errors = client.get("/api/catalog/processing-errors").json().get("items", [])
        by_kind: dict[str, dict[str, Any]] = {}
        apis_by_type: dict[str, dict[str, Any]] = {}
        for entity in sorted(
            entities, key=lambda e: (e.get("kind", ""), (e.get("metadata") or {}).get("name", ""))
        ):
            kind = str(entity.get("kind", "")).lower()
            by_kind.setdefault(kind, entity)
            if kind == "api":
                apis_by_type.setdefault(str((entity.get("spec") or {}).get("type", "")).lower(), entity)
        for kind, entity in sorted(by_kind.items()):
            name = (entity.get("metadata") or {}).get("name", "")
            shots.append(Shot(f"entity-{kind}", f"Entity page: {kind} {name}", _entity_path(entity)))
        broken = next(
            (
                item
                for item in errors
                if item.get("visible") and not item["entityRef"].startswith("location:")
            ),
            None,
        )
        if broken:
            kind, _, rest = broken["entityRef"].partition(":")
            namespace, _, name = rest.partition("/")
            path = _entity_path({"kind": kind, "metadata": {"namespace": namespace, "name": name}})
            shots.append(
                Shot("entity-broken", f"Entity with a processing error: {broken['entityRef']}", path)
            )
        component = by_kind.get("component")
        if component:
            path = _entity_path(component)
            for title, tab_href in _tab_links(client, path).items():
                lowered = title.lower()
                if "raw" in lowered:
                    shots.append(Shot("entity-tab-raw", f"Raw tab ({title})", tab_href))
                elif any(word in lowered for word in ("graph", "relation", "dependenc")):
                    shots.append(Shot("entity-tab-graph", f"Dependency graph tab ({title})", tab_href))
        for api_type in ("openapi", "asyncapi", "graphql", "grpc"):
            entity = apis_by_type.get(api_type)
            if entity is None:
                continue
            path = _entity_path(entity)
            tabs = _tab_links(client, path)
            definition = next(
                (h for t, h in tabs.items() if "definition" in t.lower() or t.lower() == "api"), None
            )
            shots.append(
                Shot(
                    f"api-definition-{api_type}",
                    f"API definition: {api_type}",
                    definition or f"{path}/definition",
                )
            )
        for kind in ("group", "user"):
            if kind in by_kind:
                shots.append(Shot(f"{kind}-page", f"{kind.title()} page", _entity_path(by_kind[kind])))
    shots += [
        Shot("api-docs", "API explorer", "/api-docs"),
        Shot("catalog-graph", "Catalog graph", "/catalog-graph"),
        Shot("catalog-import", "Register: empty", "/catalog-import"),
        Shot("catalog-import-preview", "Register: preview", "/catalog-import", _fill_and_submit(DEMO_FOLDER)),
        Shot(
            "catalog-import-error", "Register: YAML error", "/catalog-import", _fill_and_submit(BROKEN_FILE)
        ),
        Shot("catalog-admin", "Admin: overview", "/catalog-admin"),
        Shot("catalog-admin-errors", "Admin: processing errors", "/catalog-admin/errors"),
        Shot("catalog-admin-unprocessed", "Admin: failed locations", "/catalog-admin/unprocessed"),
        Shot("catalog-admin-orphans", "Admin: orphans", "/catalog-admin/orphans"),
        Shot("catalog-admin-conflicts", "Admin: conflicts", "/catalog-admin/conflicts"),
        Shot("catalog-admin-locations", "Admin: locations", "/catalog-admin/locations"),
        Shot("search", "Search: checkout", "/search?q=checkout"),
        Shot("not-found", "404 page", "/this-page-does-not-exist"),
    ]
    return shots


def _with_theme(path: str, theme: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}theme={theme}"


def capture(
    base_url: str, shots: list[Shot], out: Path, *, themes: tuple[str, ...], widths: dict[str, int]
) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for theme in themes:
                for width_name, width in widths.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": HEIGHT},
                        color_scheme=theme,  # type: ignore[arg-type]
                    )
                    page = context.new_page()
                    page.set_default_timeout(20_000)
                    for shot in shots:
                        file_name = f"{shot.name}--{theme}--{width_name}.png"
                        status = 0
                        try:
                            response = page.goto(
                                base_url + _with_theme(shot.path, theme), wait_until="networkidle"
                            )
                            status = response.status if response else 0
                            if shot.prepare:
                                shot.prepare(page)
                                status = 200
                            page.wait_for_timeout(150)
                            page.screenshot(path=str(out / file_name), full_page=True)
                        except Exception as error:  # a page that is not built yet must not stop the run
                            print(f"  ! {shot.name} ({theme}, {width_name}): {error}", file=sys.stderr)
                            continue
                        results.append(
                            {
                                "shot": shot,
                                "theme": theme,
                                "width": width_name,
                                "file": file_name,
                                "status": status,
                            }
                        )
                        print(f"  {file_name} ({status})")
                    context.close()
        finally:
            browser.close()
    return results


def write_gallery(out: Path, shots: list[Shot], results: list[dict[str, Any]], base_url: str) -> Path:
    by_shot: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_shot.setdefault(result["shot"].name, []).append(result)
    sections = []
    for shot in shots:
        captured = by_shot.get(shot.name, [])
        if not captured:
            continue
        figures = "".join(
            f'<figure><a href="{html.escape(r["file"])}"><img loading="lazy" src="{html.escape(r["file"])}" '
            f'alt="{html.escape(shot.title)}, {r["theme"]}, {r["width"]}"></a>'
            f"<figcaption>{r['theme']} · {r['width']}"
            + (
                f' · <span class="status">HTTP {r["status"]}</span>'
                if r["status"] and r["status"] != 200
                else ""
            )
            + "</figcaption></figure>"
            for r in captured
        )
        sections.append(
            f'<section id="{html.escape(shot.name)}"><h2>{html.escape(shot.title)}</h2>'
            f'<p><code>{html.escape(shot.path)}</code></p><div class="row">{figures}</div></section>'
        )
    toc = "".join(
        f'<li><a href="#{html.escape(s.name)}">{html.escape(s.title)}</a></li>'
        for s in shots
        if s.name in by_shot
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Greenroom screenshots</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font: 14px/1.5 system-ui, sans-serif; margin: 0 auto; padding: 24px; max-width: 1600px; }}
body {{ color: #16181d; }}
h1 {{ margin: 0 0 4px; }} h2 {{ margin: 32px 0 4px; font-size: 18px; }}
ul.toc {{ columns: 3 240px; padding-left: 18px; }}
.row {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 16px; }}
figure {{ margin: 0; border: 1px solid #e2e5ea; border-radius: 8px; padding: 8px; background: #f6f7f9; }}
img {{ width: 100%; height: 240px; object-fit: cover; object-position: top; display: block; }}
figcaption {{ margin-top: 6px; color: #5b6370; }} .status {{ color: #c22a2a; }}
</style></head><body>
<h1>Greenroom screenshots</h1>
<p>{len(results)} screenshots of {len(by_shot)} pages from {html.escape(base_url)},
taken {time.strftime("%Y-%m-%d %H:%M")}.</p>
<ul class="toc">{toc}</ul>
{"".join(sections)}
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    return index


@contextmanager
def demo_server(base_url: str | None) -> Iterator[str]:
    if base_url:
        wait_for_catalog(base_url)
        yield base_url.rstrip("/")
        return
    with tempfile.TemporaryDirectory(prefix="greenroom-screenshots-") as workdir:
        server = start_demo_server(Path(workdir))
        try:
            yield server.base_url
        finally:
            server.process.terminate()
            try:
                server.process.wait(timeout=15)
            except Exception:
                server.process.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "screenshots", help="output folder (git-ignored)")
    parser.add_argument("--base-url", help="use a running Greenroom instead of starting the demo server")
    parser.add_argument("--only", action="append", default=[], help="only pages whose name contains this")
    parser.add_argument("--theme", action="append", choices=THEMES, help="light and/or dark (default both)")
    parser.add_argument(
        "--width", action="append", choices=sorted(WIDTHS), help="desktop and/or narrow (default both)"
    )
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(
            f"Chromium not found at {CHROMIUM}; install Debian's chromium (apt-get install chromium)",
            file=sys.stderr,
        )
        return 2
    themes = tuple(args.theme or THEMES)
    widths = {name: WIDTHS[name] for name in (args.width or WIDTHS)}
    with demo_server(args.base_url) as base_url:
        shots = discover_shots(base_url)
        if args.only:
            shots = [s for s in shots if any(part in s.name for part in args.only)]
        print(f"Capturing {len(shots)} pages x {len(themes)} themes x {len(widths)} widths from {base_url}")
        results = capture(base_url, shots, args.out, themes=themes, widths=widths)
    index = write_gallery(args.out, shots, results, base_url)
    print(f"Wrote {len(results)} screenshots and {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
