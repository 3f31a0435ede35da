"""The cross-site write guard: which origins, methods and bodies are let through."""

from __future__ import annotations

import pytest

from greenroom.core.http.same_site import SameSiteGuard, origin_of


def test_origin_of_normalises_and_rejects_non_urls() -> None:
    assert origin_of("HTTP://Portal.Example:80/x?y") == "http://portal.example"
    assert origin_of("https://[::1]:8443/") == "https://[::1]:8443"
    assert origin_of("null") is None and origin_of("http://host:99999") is None


@pytest.fixture
def guard() -> SameSiteGuard:
    guard = SameSiteGuard(["https://portal.example/", "https://api.portal.example"])
    guard.add_listen_port(7027)
    return guard


@pytest.mark.parametrize(
    "origin",
    [
        "https://portal.example",
        "https://api.portal.example",
        "http://localhost:7027",
        "http://127.0.0.1:7027",
    ],
)
def test_the_portals_own_addresses_may_write(guard: SameSiteGuard, origin: str) -> None:
    assert guard.refusal("POST", "/catalog/default/component/a/unregister", {"origin": origin}) is None


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://localhost:7007"},  # another port on this machine is another site
        {"origin": "http://portal.example"},  # a downgrade to http is another origin
        {"sec-fetch-site": "cross-site"},
    ],
)
def test_other_sites_may_not_write(guard: SameSiteGuard, headers: dict[str, str]) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        refusal = guard.refusal(method, "/api/catalog/refresh", headers)
        assert refusal is not None and refusal.status == 403 and refusal.name == "NotAllowedError"
    assert guard.refusal("GET", "/api/catalog/entities", headers) is None


def test_api_bodies_must_be_json(guard: SameSiteGuard) -> None:
    def status(headers: dict[str, str], path: str = "/api/catalog/refresh") -> int | None:
        refusal = guard.refusal("POST", path, headers)
        return None if refusal is None else refusal.status

    assert status({"content-length": "12", "content-type": "text/plain"}) == 415
    assert (
        status({"transfer-encoding": "chunked", "content-type": "application/x-www-form-urlencoded"}) == 415
    )
    assert status({"content-length": "12"}) == 415  # no content type at all
    assert status({"content-length": "12", "content-type": "application/json; charset=utf-8"}) is None
    assert status({"content-length": "12", "content-type": "application/merge-patch+json"}) is None
    assert status({"content-length": "0"}) is None  # nothing to parse
    assert (
        status({"content-length": "12", "content-type": "application/x-www-form-urlencoded"}, "/home/starred")
        is None
    )


class _Config:
    def __init__(self, values: dict[str, object]) -> None:
        self.values = values

    def get_optional_string(self, key: str) -> str | None:
        value = self.values.get(key)
        return value if isinstance(value, str) else None

    def get_optional_number(self, key: str) -> float | None:
        value = self.values.get(key)
        return float(value) if isinstance(value, int | float) else None

    def get_optional(self, key: str) -> object:
        return self.values.get(key)


def test_from_config_takes_base_urls_exact_cors_origins_and_the_listen_port() -> None:
    guard = SameSiteGuard.from_config(
        _Config(
            {
                "app.baseUrl": "https://portal.example",
                "backend.baseUrl": "https://backend.example",
                "backend.cors.origin": ["https://frontend.example", "https://*.example"],
                "backend.listen.port": 8080,
            }
        )
    )
    assert guard.origins == sorted(
        [
            "https://portal.example",
            "https://backend.example",
            "https://frontend.example",
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ]
    )
