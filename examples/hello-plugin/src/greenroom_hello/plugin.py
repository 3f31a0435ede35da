"""A tiny Greenroom plugin: a page, an API route, a config key and a metric."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from greenroom.core.config import Config
from greenroom.core.plugin_api import PluginRegistrationPoints, core_services, create_plugin
from greenroom.core.services.http_router import HttpRouterService
from greenroom.core.services.identity import CurrentPrincipal
from greenroom.core.services.metrics import MetricsService
from greenroom.core.services.web import WebService


class HelloConfig(BaseModel):
    """The `hello` config section."""

    model_config = ConfigDict(extra="forbid")
    greeting: str = "Hello"


def register(env: PluginRegistrationPoints) -> None:
    def init(
        config: Config, http_router: HttpRouterService, web: WebService, metrics: MetricsService
    ) -> None:
        settings = HelloConfig.model_validate(config.get_optional("hello") or {})
        greetings = metrics.counter("greetings_total", "Greetings served")

        api = APIRouter()

        @api.get("/greeting")
        def greeting(principal: CurrentPrincipal) -> dict[str, str]:
            greetings.inc()
            return {"message": f"{settings.greeting}, {principal.user_entity_ref}!"}

        http_router.use(api)

        pages = APIRouter()

        @pages.get("/hello", response_class=HTMLResponse)
        def hello_page(request: Request) -> HTMLResponse:
            return web.render(request, "hello/index.html", {"greeting": settings.greeting}, title="Hello")

        web.add_template_dir(Path(__file__).parent / "templates")
        web.add_page_router(pages)
        web.add_nav_item("Hello", "/hello", icon="box", order=900)

    env.register_init(
        deps={
            "config": core_services.config,
            "http_router": core_services.http_router,
            "web": core_services.web,
            "metrics": core_services.metrics,
        },
        init=init,
    )


plugin = create_plugin(
    "hello",
    register,
    title="Hello",
    description="An example plugin: one page, one API route.",
    config_schema={"hello": HelloConfig},
)
