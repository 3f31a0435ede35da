"""The Content-Security-Policy: only the portal's own scripts run, inline ones by per-page nonce."""

from __future__ import annotations

import re

from greenroom.core.http.csp import ContentSecurityPolicy
from greenroom.core.testing import start_test_backend


def _directives(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split("; ")}


def test_default_policy_allows_only_the_portals_own_scripts_and_images() -> None:
    policy = _directives(ContentSecurityPolicy().header("abc"))
    assert policy["script-src"] == ["'self'", "'nonce-abc'"]
    assert policy["img-src"] == ["'self'", "data:"]  # a description's image on another host is not fetched
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'self'"]
    assert ContentSecurityPolicy.new_nonce() != ContentSecurityPolicy.new_nonce()


def test_backend_csp_replaces_or_removes_directives_as_in_backstage() -> None:
    policy = _directives(
        ContentSecurityPolicy({"img-src": ["'self'", "https:"], "frame-ancestors": False, "bad": 3}).header(
            "n"
        )
    )
    assert policy["img-src"] == ["'self'", "https:"]
    assert "frame-ancestors" not in policy and "bad" not in policy
    assert policy["script-src"] == ["'self'", "'nonce-n'"]


def test_every_page_gets_a_fresh_nonce_that_its_inline_scripts_carry() -> None:
    with start_test_backend([]) as backend:
        nonces = []
        for _ in range(2):
            page = backend.client.get("/")
            assert page.status_code == 200
            script_src = _directives(page.headers["content-security-policy"])["script-src"]
            nonce = script_src[-1].removeprefix("'nonce-").removesuffix("'")
            inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page.text)
            assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline)
            nonces.append(nonce)
        assert nonces[0] != nonces[1]
        api = backend.client.get("/.backstage/health/v1/liveness")
        assert "content-security-policy" not in api.headers  # JSON is not a page
