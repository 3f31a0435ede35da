"""A plugin's handle on the web shell: nav items, templates and page routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from greenroom.core.web.shell import HomeWidget, NavItem, WebShell


class WebService:
    """Lets a plugin add pages to the portal without knowing how the shell is built."""

    def __init__(self, shell: WebShell, plugin_id: str) -> None:
        self._shell = shell
        self.plugin_id = plugin_id

    def add_nav_item(self, title: str, href: str, *, icon: str = "box", order: int = 100) -> None:
        self._shell.add_nav_item(
            NavItem(plugin_id=self.plugin_id, title=title, href=href, icon=icon, order=order)
        )

    def add_template_dir(self, path: Path) -> None:
        self._shell.add_template_dir(path)

    def add_home_widget(
        self,
        widget_id: str,
        render: Callable[[Request], Markup | str | None],
        *,
        order: int = 100,
        width: str = "half",
    ) -> None:
        """Add a block to the home page; `render` returns markup, or None to show nothing."""
        self._shell.add_home_widget(
            HomeWidget(plugin_id=self.plugin_id, id=widget_id, render=render, order=order, width=width)  # type: ignore[arg-type]
        )

    def render_fragment(self, template_name: str, context: Mapping[str, Any] | None = None) -> Markup:
        return self._shell.render_fragment(template_name, context)

    def add_page_router(self, router: APIRouter) -> None:
        self._shell.add_router(router)

    def render(
        self,
        request: Request,
        template_name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        title: str | None = None,
    ) -> HTMLResponse:
        return self._shell.render(request, template_name, context, status_code=status_code, title=title)
