"""The Content-Security-Policy of every portal page: only the portal's own scripts run.

Pages are rendered on the server with autoescaping, so a script can only get in through a bug;
the policy is the second wall. Inline scripts carry a per-response nonce (`request.state.csp_nonce`,
which the shell passes to templates), everything else must come from the portal itself. Images
are the portal's own or `data:` URLs: an image in an entity's Markdown description from another
host is not fetched, so reading the catalog does not tell other sites who looked at what.

`backend.csp` changes the policy as Backstage's does: each key is a directive, a list of sources
replaces its value, `false` removes it (`backend.csp: {img-src: ["'self'", "data:", "https:"]}`).
"""

from __future__ import annotations

import secrets
from typing import Any

DEFAULT_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "base-uri": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "frame-ancestors": ["'self'"],
    "form-action": ["'self'"],
}
_NONCE_PLACEHOLDER = "{nonce}"


class ContentSecurityPolicy:
    """The policy template, built once from config; `header(nonce)` is the value for one response."""

    def __init__(self, overrides: Any = None) -> None:
        policy = {name: list(sources) for name, sources in DEFAULT_POLICY.items()}
        if isinstance(overrides, dict):
            for name, value in overrides.items():
                if value is False:
                    policy.pop(str(name), None)
                elif isinstance(value, list) and all(isinstance(source, str) for source in value):
                    policy[str(name)] = list(value)
        if "script-src" in policy:
            policy["script-src"].append(f"'nonce-{_NONCE_PLACEHOLDER}'")
        self._template = "; ".join(" ".join([name, *sources]) for name, sources in policy.items())

    @classmethod
    def from_config(cls, config: Any) -> ContentSecurityPolicy:
        return cls(config.get_optional("backend.csp"))

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(16)

    def header(self, nonce: str) -> str:
        return self._template.replace(_NONCE_PLACEHOLDER, nonce)
