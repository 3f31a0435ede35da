"""The one ASGI app: health, metrics, the web shell, and every plugin's API under /api/<plugin_id>.

Errors raised anywhere are rendered here, once, as Backstage's envelope
`{"error": {"name", "message"}, "request": {"method", "url"}, "response": {"statusCode"}}`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from greenroom.core import core_services as cs
from greenroom.core.errors import GreenroomError, NotFoundError
from greenroom.core.http.csp import ContentSecurityPolicy
from greenroom.core.http.same_site import SameSiteGuard
from greenroom.core.runtime import Backend
from greenroom.core.services.logging import request_id_var

REQUEST_ID_HEADER = "x-request-id"
_HTTP_NAMES = {
    400: "InputError",
    401: "AuthenticationError",
    403: "NotAllowedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    501: "NotImplementedError",
    503: "ServiceUnavailableError",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class OrjsonResponse(JSONResponse):
    """JSON encoded with orjson: several times faster than the standard library for large lists."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_body(method: str, url: str, status_code: int, name: str, message: str) -> dict[str, Any]:
    return {
        "error": {"name": name, "message": message},
        "request": {"method": method, "url": url},
        "response": {"statusCode": status_code},
    }


def _request_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def error_response(request: Request, status_code: int, name: str, message: str) -> Response:
    if status_code == 304:
        return Response(status_code=304)  # a 304 must not carry a body
    return OrjsonResponse(
        error_body(request.method, _request_url(request), status_code, name, message), status_code=status_code
    )


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.method not in ("GET", "HEAD"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _describe_validation_error(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body",)) or "request"
        parts.append(f"{location}: {item.get('msg', 'invalid value')}")
    return "Invalid request: " + "; ".join(parts)


class GreenroomMiddleware:
    """Request id, body size limit, readiness gate, principal and HTTP metrics in one pass."""

    def __init__(
        self,
        app: ASGIApp,
        backend: Backend,
        max_body_bytes: int,
        same_site: SameSiteGuard,
        csp: ContentSecurityPolicy,
    ) -> None:
        self.app = app
        self.backend = backend
        self.max_body_bytes = max_body_bytes
        self.same_site = same_site
        self.csp = csp
        self.health = backend.get_service(cs.health)
        self.metrics = backend.get_service(cs.root_metrics)
        self.identity = backend.get_service(cs.identity)
        self.logger = logging.getLogger("greenroom.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        incoming = headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        started = time.perf_counter()
        status_holder = {"status": 500}

        nonce = self.csp.new_nonce()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                extra = [(b"x-request-id", request_id.encode())]
                names = {name.lower(): value for name, value in message["headers"]}
                if names.get(b"content-type", b"").startswith(b"text/html") and (
                    b"content-security-policy" not in names
                ):
                    extra.append((b"content-security-policy", self.csp.header(nonce).encode()))
                message["headers"] = [*message["headers"], *extra]
            await send(message)

        try:
            query = scope.get("query_string", b"").decode("latin-1")
            url = path + (f"?{query}" if query else "")
            if path.startswith("/api/") and self.health.state != "ready":
                _status, body = self.health.readiness()
                await self._send_json(
                    send_with_id,
                    503,
                    error_body(method, url, 503, "ServiceUnavailableError", body.get("message", "Not ready")),
                )
                return
            refusal = self.same_site.refusal(method, path, headers)
            if refusal is not None:
                await self._send_json(
                    send_with_id,
                    refusal.status,
                    error_body(method, url, refusal.status, refusal.name, refusal.message),
                )
                return
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._send_json(send_with_id, 413, self._too_large(method, url))
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge
                return message

            state = scope.setdefault("state", {})
            from starlette.requests import Request as StarletteRequest

            state["principal"] = self.identity.principal_for(StarletteRequest(scope))
            state["request_id"] = request_id
            state["csp_nonce"] = nonce  # inline <script> tags of this page carry it
            try:
                await self.app(scope, limited_receive, send_with_id)
            except _BodyTooLarge:
                await self._send_json(send_with_id, 413, self._too_large(method, url))
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            if path.startswith("/static/"):
                template = "/static"
            elif path.startswith("/api/") and template != "unmatched" and not template.startswith("/api/"):
                template = (
                    "/".join(path.split("/", 3)[:3]) + template
                )  # router templates lack the mount prefix
            elapsed = time.perf_counter() - started
            self.metrics.http_requests.labels(method, template, str(status_holder["status"])).inc()
            self.metrics.http_latency.labels(method, template).observe(elapsed)
            request_id_var.reset(token)

    def _too_large(self, method: str, url: str) -> dict[str, Any]:
        return error_body(
            method,
            url,
            413,
            "PayloadTooLargeError",
            f"Request body is larger than the limit of {self.max_body_bytes} bytes (backend.requestSizeLimit)",
        )

    @staticmethod
    async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class _BodyTooLarge(Exception):
    pass


def create_app(backend: Backend) -> FastAPI:
    """Build the ASGI app for `backend`; plugin routes are mounted once the backend has started."""
    app = FastAPI(
        title="Greenroom",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        default_response_class=OrjsonResponse,
    )
    app.state.backend = backend
    health = backend.get_service(cs.health)
    root_metrics = backend.get_service(cs.root_metrics)
    logger = logging.getLogger("greenroom.http")

    @app.exception_handler(GreenroomError)
    async def _named_error(request: Request, error: GreenroomError) -> Response:
        if _wants_html(request) and error.status_code in (404, 403, 400):
            return _html_error(request, error.status_code, error.name, error.message)
        return error_response(request, error.status_code, error.name, error.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> Response:
        return error_response(request, 400, "InputError", _describe_validation_error(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        name = _HTTP_NAMES.get(error.status_code, "Error")
        message = str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = f"No route matches {request.method} {request.url.path}"
        if _wants_html(request):
            return _html_error(request, error.status_code, name, message)
        return error_response(request, error.status_code, name, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        request_id = getattr(request.state, "request_id", None) or request_id_var.get()
        logger.error(
            "Unhandled %s while serving %s %s",
            type(error).__name__,
            request.method,
            request.url.path,
            exc_info=error,
        )
        message = (
            f"An unexpected error occurred; the server log has the details under request id {request_id}"
        )
        if _wants_html(request):
            return _html_error(request, 500, "Error", message)
        return error_response(request, 500, "Error", message)

    def _html_error(request: Request, status: int, name: str, message: str) -> Response:
        try:
            shell = backend.get_service(cs.web_shell)
            titles = {
                404: "Page not found",
                403: "Not allowed",
                400: "Bad request",
                500: "Something went wrong",
            }
            return shell.render_error(request, status, titles.get(status, name), message)  # type: ignore[no-any-return]
        except Exception:
            return error_response(request, status, name, message)

    @app.get("/.backstage/health/v1/readiness", include_in_schema=False)
    def readiness() -> Response:
        status, body = health.readiness()
        return OrjsonResponse(body, status_code=status)

    @app.get("/.backstage/health/v1/liveness", include_in_schema=False)
    def liveness() -> Response:
        status, body = health.liveness()
        return OrjsonResponse(body, status_code=status)

    @app.get("/api/{plugin_id}/.backstage/scheduler/v1/tasks", include_in_schema=False)
    def scheduled_tasks(plugin_id: str) -> Response:
        """A plugin's scheduled tasks with last run, next run and last error (as Backstage serves it)."""
        if plugin_id not in backend.plugins:
            raise NotFoundError(f"No plugin '{plugin_id}' is installed")
        scheduler = backend.services.existing(cs.scheduler, plugin_id)
        tasks = scheduler.get_scheduled_tasks() if scheduler is not None else []
        return OrjsonResponse(
            {
                "tasks": [
                    {
                        "taskId": task.id,
                        "pluginId": plugin_id,
                        "scope": task.scope,
                        "settings": {"frequency": task.frequency},
                        "taskState": {
                            "status": "running" if task.running else "idle",
                            "startsAt": task.next_run_at.isoformat() if task.next_run_at else None,
                            "lastRunStartedAt": task.last_run_started_at.isoformat()
                            if task.last_run_started_at
                            else None,
                            "lastRunEndedAt": task.last_run_ended_at.isoformat()
                            if task.last_run_ended_at
                            else None,
                            "lastRunError": task.last_run_error,
                        },
                    }
                    for task in tasks
                ]
            }
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(root_metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    def mount_plugins() -> None:
        root_router = backend.get_service(cs.root_http_router)
        for plugin_id, routes in root_router.plugins.items():
            for router in routes.routers:
                app.include_router(router, prefix=f"/api/{plugin_id}")
        shell = backend.get_service(cs.web_shell)
        from greenroom.core.web.shell import InstalledFeature

        shell.set_installed(
            [
                InstalledFeature(feature_id=fid, kind=kind, title=title, description=desc, plugin_id=pid)  # type: ignore[arg-type]
                for fid, kind, title, desc, pid in backend.installed_features()
            ]
        )
        shell.mount(app)

    backend.on_started(mount_plugins)
    max_body = int(backend.config.get_optional_number("backend.requestSizeLimit") or 10 * 1024 * 1024)
    app.state.same_site = SameSiteGuard.from_config(backend.config)
    app.add_middleware(
        GreenroomMiddleware,  # type: ignore[arg-type]
        backend=backend,
        max_body_bytes=max_body,
        same_site=app.state.same_site,
        csp=ContentSecurityPolicy.from_config(backend.config),
    )
    return app
