"""Per-user settings for other plugins (stars, recently visited, preferences).

Values are JSON, stored per user entity ref in buckets of keys, like Backstage's user-settings
backend (`/api/user-settings/buckets/{bucket}/keys/{key}`).
"""

from __future__ import annotations

from typing import Any, Protocol

from greenroom.core.plugin_api import ServiceRef, create_service_ref

STARRED_BUCKET = "starredEntities"
STARRED_KEY = "entityRefs"
RECENT_BUCKET = "greenroom.recentlyVisited"
RECENT_KEY = "entityRefs"


class UserSettingsApi(Protocol):
    def get(self, user_ref: str, bucket: str, key: str) -> Any | None: ...
    def set(self, user_ref: str, bucket: str, key: str, value: Any) -> None: ...
    def delete(self, user_ref: str, bucket: str, key: str) -> None: ...
    def starred(self, user_ref: str) -> list[str]: ...
    def set_starred(self, user_ref: str, entity_ref: str, starred: bool) -> list[str]: ...
    def recently_visited(self, user_ref: str) -> list[str]: ...
    def record_visit(self, user_ref: str, entity_ref: str) -> None: ...


user_settings_service_ref: ServiceRef[UserSettingsApi] = create_service_ref("userSettings.api", "root")
