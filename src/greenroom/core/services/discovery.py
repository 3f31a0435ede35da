"""Where each plugin's API lives, so plugins and the UI never hard-code URLs."""

from __future__ import annotations

from dataclasses import dataclass

from greenroom.core.config import Config


@dataclass(frozen=True)
class DiscoveryService:
    internal_base_url: str
    external_base_url: str

    @classmethod
    def from_config(cls, config: Config) -> DiscoveryService:
        external = (config.get_optional_string("backend.baseUrl") or "http://127.0.0.1:7007").rstrip("/")
        host = config.get_optional_string("backend.listen.host") or "127.0.0.1"
        port = config.get_optional_number("backend.listen.port") or 7007
        internal_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        return cls(internal_base_url=f"http://{internal_host}:{int(port)}", external_base_url=external)

    def get_base_url(self, plugin_id: str) -> str:
        """Base URL for calls from inside the deployment."""
        return f"{self.internal_base_url}/api/{plugin_id}"

    def get_external_base_url(self, plugin_id: str) -> str:
        """Base URL as seen by browsers and external clients."""
        return f"{self.external_base_url}/api/{plugin_id}"
