"""Writes are taken only from the portal's own pages or from scripts, never from another website.

A browser lets any website send a form post or a "simple" request (a POST with a `text/plain`
body) to the portal, with the visitor's cookies and network position. Such requests carry the
other site's `Origin` (or `Sec-Fetch-Site: cross-site`), so every unsafe request with a foreign
origin is refused, and an API request body must be JSON, which a browser only sends cross-site
after a CORS preflight the portal does not grant. Scripts and API clients send no `Origin` and
are not affected.

The accepted origins are the configured addresses (`app.baseUrl`, `backend.baseUrl`, exact
`backend.cors.origin` entries) and the loopback addresses of the port the server listens on, so
`greenroom serve --port N` opened at `http://localhost:N` works. The request's own Host header is
deliberately not trusted: a DNS-rebinding page would pass that test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def origin_of(url: str) -> str | None:
    """The `scheme://host[:port]` of a URL, lower-cased, default port left out; None if not a URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return None
    default = {"http": 80, "https": 443}.get(scheme)
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


@dataclass(frozen=True)
class Refusal:
    status: int
    name: str
    message: str


class SameSiteGuard:
    """The origins the portal accepts writes from, and the check applied to every request."""

    def __init__(self, configured: Iterable[str] = ()) -> None:
        self._origins: set[str] = {o for o in (origin_of(url) for url in configured) if o}

    @classmethod
    def from_config(cls, config: Any) -> SameSiteGuard:
        urls = [
            config.get_optional_string("app.baseUrl") or "http://127.0.0.1:7007",
            config.get_optional_string("backend.baseUrl") or "",
        ]
        cors = config.get_optional("backend.cors.origin")
        for entry in cors if isinstance(cors, list) else [cors]:
            if isinstance(entry, str) and "*" not in entry:
                urls.append(entry)
        guard = cls(urls)
        port = config.get_optional_number("backend.listen.port")
        guard.add_listen_port(int(port) if port is not None else 7007)
        return guard

    def add_listen_port(self, port: int) -> None:
        """Accept the loopback addresses of the port the server really listens on."""
        self._origins.update(f"http://{host}:{port}" for host in LOOPBACK_HOSTS)

    @property
    def origins(self) -> list[str]:
        return sorted(self._origins)

    def accepts(self, origin: str) -> bool:
        return origin_of(origin) in self._origins

    def refusal(self, method: str, path: str, headers: Mapping[str, str]) -> Refusal | None:
        """Why this request must not run, or None. `headers` are lower-cased names."""
        if method.upper() in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and not self.accepts(origin):
            return Refusal(
                403,
                "NotAllowedError",
                f"Refused a request from another site ({origin}); this portal accepts changes from "
                f"{', '.join(self.origins)}. If you open the portal at another address, set app.baseUrl to it.",
            )
        if origin is None and headers.get("sec-fetch-site", "").lower() == "cross-site":
            return Refusal(403, "NotAllowedError", "Refused a request from another site.")
        if path.startswith("/api/") and _has_body(headers) and not _is_json(headers.get("content-type", "")):
            return Refusal(
                415,
                "UnsupportedMediaTypeError",
                "The request body must be JSON, sent with Content-Type: application/json",
            )
        return None


def _has_body(headers: Mapping[str, str]) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in headers


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
