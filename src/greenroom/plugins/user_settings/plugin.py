"""The user-settings plugin: per-user JSON settings (stars, recently visited) with Backstage's API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from greenroom.core import core_services as cs
from greenroom.core.db import PluginDatabase
from greenroom.core.errors import AuthenticationError, InputError, NotFoundError
from greenroom.core.plugin_api import PluginRegistrationPoints, create_plugin
from greenroom.core.services.http_router import HttpRouterService
from greenroom.core.services.identity import CurrentPrincipal, Principal
from greenroom.plugins.user_settings.client import user_settings_service_ref
from greenroom.plugins.user_settings.store import UserSettingsStore


class _LateBound:
    """The provided service; usable once the plugin has initialised."""

    def __init__(self) -> None:
        self.store: UserSettingsStore | None = None

    def __getattr__(self, name: str) -> Any:
        if self.store is None:
            raise RuntimeError("user-settings has not started yet")
        return getattr(self.store, name)


def _user(principal: Principal) -> str:
    if not principal.user_entity_ref:
        raise AuthenticationError("User settings need a signed-in user")
    return principal.user_entity_ref


def create_router(store: UserSettingsStore) -> APIRouter:
    router = APIRouter()

    @router.get("/buckets/{bucket}/keys/{key}")
    def get_setting(bucket: str, key: str, principal: CurrentPrincipal) -> Response:
        value = store.get(_user(principal), bucket, key)
        if value is None:
            raise NotFoundError(f"No value for key '{key}' in bucket '{bucket}'")
        return Response(
            orjson.dumps({"bucket": bucket, "key": key, "value": value}), media_type="application/json"
        )

    @router.put("/buckets/{bucket}/keys/{key}")
    async def put_setting(bucket: str, key: str, request: Request, principal: CurrentPrincipal) -> Response:
        try:
            body = orjson.loads(await request.body() or b"null")
        except orjson.JSONDecodeError as error:
            raise InputError(f"Request body is not valid JSON: {error}") from error
        if not isinstance(body, dict) or "value" not in body:
            raise InputError('Request body must be a JSON object with a "value" field')
        store.set(_user(principal), bucket, key, body["value"])
        return Response(
            orjson.dumps({"bucket": bucket, "key": key, "value": body["value"]}),
            media_type="application/json",
        )

    @router.delete("/buckets/{bucket}/keys/{key}", status_code=204)
    def delete_setting(bucket: str, key: str, principal: CurrentPrincipal) -> Response:
        if not store.delete(_user(principal), bucket, key):
            raise NotFoundError(f"No value for key '{key}' in bucket '{bucket}'")
        return Response(status_code=204)

    return router


def register(env: PluginRegistrationPoints) -> None:
    api = _LateBound()
    env.provide_service(user_settings_service_ref, api)  # type: ignore[arg-type]

    def init(database: PluginDatabase, http_router: HttpRouterService) -> None:
        api.store = UserSettingsStore(database.engine)
        http_router.use(create_router(api.store))

    env.register_init(deps={"database": cs.database, "http_router": cs.http_router}, init=init)


plugin = create_plugin(
    "user-settings",
    register,
    title="User Settings",
    description="Per-user settings such as starred entities, with Backstage's user-settings API.",
    migrations_dir=Path(__file__).parent / "migrations",
)
