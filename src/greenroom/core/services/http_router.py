"""Where plugins hand over their HTTP routes; the backend mounts them at /api/<plugin_id>."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fastapi import APIRouter

AuthPolicy = Literal["unauthenticated", "user-cookie"]


@dataclass
class PluginRoutes:
    plugin_id: str
    routers: list[APIRouter] = field(default_factory=list)
    auth_policies: dict[str, AuthPolicy] = field(default_factory=dict)


class RootHttpRouter:
    """Collects every plugin's routers until the backend mounts them after init."""

    def __init__(self) -> None:
        self.plugins: dict[str, PluginRoutes] = {}

    def routes_for(self, plugin_id: str) -> PluginRoutes:
        return self.plugins.setdefault(plugin_id, PluginRoutes(plugin_id))


class HttpRouterService:
    """A plugin's HTTP router: `use(router)` mounts it at /api/<plugin_id>."""

    def __init__(self, root: RootHttpRouter, plugin_id: str) -> None:
        self._routes = root.routes_for(plugin_id)
        self.plugin_id = plugin_id

    @property
    def base_path(self) -> str:
        return f"/api/{self.plugin_id}"

    def use(self, router: APIRouter) -> None:
        self._routes.routers.append(router)

    def add_auth_policy(self, path: str, allow: AuthPolicy) -> None:
        """Record that `path` may be called without full credentials (enforced once sign-in exists)."""
        self._routes.auth_policies[path] = allow
