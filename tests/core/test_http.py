"""The HTTP layer: Backstage's error envelope everywhere, health, metrics, request ids and limits."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from greenroom.core import core_services as cs
from greenroom.core import errors
from greenroom.core.config import LoadedConfig
from greenroom.core.http.app import create_app
from greenroom.core.plugin_api import create_plugin
from greenroom.core.runtime import Backend
from greenroom.core.services.identity import CurrentPrincipal
from greenroom.core.testing import make_test_config, start_test_backend

ERRORS = {
    "InputError": (errors.InputError, 400),
    "AuthenticationError": (errors.AuthenticationError, 401),
    "NotAllowedError": (errors.NotAllowedError, 403),
    "NotFoundError": (errors.NotFoundError, 404),
    "ConflictError": (errors.ConflictError, 409),
    "NotImplementedError": (errors.NotImplementedError_, 501),
    "ServiceUnavailableError": (errors.ServiceUnavailableError, 503),
}


def _raiser_plugin():
    def register(env):
        def init(http_router) -> None:
            router = APIRouter()

            @router.get("/raise/{name}")
            def raise_named(name: str) -> dict:
                if name == "NotModifiedError":
                    raise errors.NotModifiedError("still fresh")
                if name == "crash":
                    raise RuntimeError("secret connection string postgres://user:pw@db")
                error_class, _ = ERRORS[name]
                raise error_class(f"{name} happened")

            @router.post("/echo")
            def echo(payload: dict) -> dict:
                return payload

            @router.get("/count")
            def count(limit: int) -> dict:
                return {"limit": limit}

            http_router.use(router)

        env.register_init(deps={"http_router": cs.http_router}, init=init)

    return create_plugin("raiser", register)


@pytest.fixture(scope="module")
def client():
    with start_test_backend([_raiser_plugin()], config={"backend": {"requestSizeLimit": 1024}}) as backend:
        yield backend.client


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_every_named_error_renders_backstages_envelope(client: TestClient, name: str) -> None:
    response = client.get(f"/api/raiser/raise/{name}?x=1")
    assert response.status_code == ERRORS[name][1]
    assert response.json() == {
        "error": {"name": name, "message": f"{name} happened"},
        "request": {"method": "GET", "url": "/api/raiser/raise/" + name + "?x=1"},
        "response": {"statusCode": ERRORS[name][1]},
    }


def test_not_modified_is_a_bodyless_304(client: TestClient) -> None:
    response = client.get("/api/raiser/raise/NotModifiedError")
    assert response.status_code == 304
    assert response.content == b""


def test_unexpected_exception_is_a_500_without_internals(client: TestClient, caplog) -> None:
    response = client.get("/api/raiser/raise/crash", headers={"x-request-id": "req-123"})
    assert response.status_code == 500
    body = response.json()
    assert body["error"]["name"] == "Error"
    assert "postgres://" not in response.text and "RuntimeError" not in response.text
    assert "req-123" in body["error"]["message"]
    assert body["response"] == {"statusCode": 500}


def test_request_validation_errors_are_input_errors(client: TestClient) -> None:
    response = client.get("/api/raiser/count?limit=abc")
    assert response.status_code == 400
    assert response.json()["error"]["name"] == "InputError"
    assert "limit" in response.json()["error"]["message"]


def test_unknown_api_route_is_a_not_found_envelope(client: TestClient) -> None:
    response = client.get("/api/raiser/nope")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "name": "NotFoundError",
        "message": "No route matches GET /api/raiser/nope",
    }


def test_unknown_page_renders_html_404_for_browsers(client: TestClient) -> None:
    response = client.get("/definitely-not-a-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "not found" in response.text.lower()


def test_request_id_is_generated_or_echoed(client: TestClient) -> None:
    generated = client.get("/.backstage/health/v1/liveness")
    assert len(generated.headers["x-request-id"]) >= 16
    echoed = client.get("/.backstage/health/v1/liveness", headers={"x-request-id": "abc-42"})
    assert echoed.headers["x-request-id"] == "abc-42"


def test_request_body_over_the_limit_is_rejected(client: TestClient) -> None:
    response = client.post(
        "/api/raiser/echo",
        content=b'{"a": "' + b"x" * 2000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["name"] == "PayloadTooLargeError"
    small = client.post("/api/raiser/echo", json={"a": 1})
    assert small.status_code == 200 and small.json() == {"a": 1}


def test_metrics_expose_http_requests_by_route_template(client: TestClient) -> None:
    client.get("/api/raiser/raise/NotFoundError")
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/api/raiser/raise/{name}",status="404"}' in text
    assert "http_request_duration_seconds_bucket" in text


def test_readiness_is_503_until_startup_completes_then_200(tmp_path) -> None:
    backend = Backend(
        LoadedConfig(data=make_test_config(tmp_path), files=[]), features=[_raiser_plugin()], discover=False
    )
    app = create_app(backend)
    with TestClient(app, raise_server_exceptions=False) as client:
        before = client.get("/.backstage/health/v1/readiness")
        assert before.status_code == 503
        assert before.json() == {"status": "error", "message": "Backend has not started yet"}
        assert client.get("/.backstage/health/v1/liveness").json() == {"status": "ok"}
        gated = client.get("/api/raiser/raise/NotFoundError")
        assert gated.status_code == 503 and gated.json()["error"]["name"] == "ServiceUnavailableError"
        backend.start()
        after = client.get("/.backstage/health/v1/readiness")
        assert after.status_code == 200 and after.json() == {"status": "ok"}
        backend.stop()
        stopping = client.get("/.backstage/health/v1/readiness")
        assert stopping.status_code == 503 and stopping.json()["message"] == "Backend is shutting down"


def test_home_page_lists_installed_plugins(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "raiser" in response.text.lower()


def test_every_request_carries_the_guest_principal(tmp_path) -> None:
    def register(env):
        def init(http_router) -> None:
            router = APIRouter()

            @router.get("/whoami")
            def whoami(principal: CurrentPrincipal) -> dict:
                return {"user": principal.user_entity_ref}

            http_router.use(router)

        env.register_init(deps={"http_router": cs.http_router}, init=init)

    with start_test_backend([create_plugin("who", register)]) as backend:
        assert backend.client.get("/api/who/whoami").json() == {"user": "user:default/guest"}
