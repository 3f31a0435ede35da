"""Storage of user settings, with the star and recently-visited helpers the portal uses."""

from __future__ import annotations

import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from greenroom.core.db.manager import writer
from greenroom.core.errors import InputError
from greenroom.plugins.user_settings.client import RECENT_BUCKET, RECENT_KEY, STARRED_BUCKET, STARRED_KEY

MAX_VALUE_BYTES = 64 * 1024
MAX_RECENT = 20

metadata = sa.MetaData()
user_settings = sa.Table(
    "user_settings",
    metadata,
    sa.Column("user_entity_ref", sa.String(512), primary_key=True),
    sa.Column("bucket", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


def _check_name(what: str, value: str) -> None:
    if not value or len(value) > 255:
        raise InputError(f"Invalid {what} '{value[:40]}': expected 1 to 255 characters")


class UserSettingsStore:
    """JSON values keyed by (user, bucket, key); small by design (64 KiB per value)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.write_engine = writer(engine)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def get(self, user_ref: str, bucket: str, key: str) -> Any | None:
        with self.engine.connect() as conn:
            raw = conn.execute(
                sa.select(user_settings.c.value).where(
                    user_settings.c.user_entity_ref == user_ref,
                    user_settings.c.bucket == bucket,
                    user_settings.c.key == key,
                )
            ).scalar_one_or_none()
        return None if raw is None else orjson.loads(raw)

    def set(self, user_ref: str, bucket: str, key: str, value: Any) -> None:
        _check_name("bucket", bucket)
        _check_name("key", key)
        encoded = orjson.dumps(value).decode()
        if len(encoded) > MAX_VALUE_BYTES:
            raise InputError(f"Setting value is {len(encoded)} bytes; the limit is {MAX_VALUE_BYTES}")
        statement = self._insert(user_settings).values(
            user_entity_ref=user_ref, bucket=bucket, key=key, value=encoded, updated_at=time.time()
        )
        statement = statement.on_conflict_do_update(
            index_elements=[user_settings.c.user_entity_ref, user_settings.c.bucket, user_settings.c.key],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
        with self.write_engine.begin() as conn:
            conn.execute(statement)

    def delete(self, user_ref: str, bucket: str, key: str) -> bool:
        with self.write_engine.begin() as conn:
            result = conn.execute(
                user_settings.delete().where(
                    user_settings.c.user_entity_ref == user_ref,
                    user_settings.c.bucket == bucket,
                    user_settings.c.key == key,
                )
            )
        return bool(result.rowcount)

    # -- helpers with Backstage's storage format (a JSON array of entity refs) ------------------
    def starred(self, user_ref: str) -> list[str]:
        value = self.get(user_ref, STARRED_BUCKET, STARRED_KEY)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def set_starred(self, user_ref: str, entity_ref: str, starred: bool) -> list[str]:
        refs = [r for r in self.starred(user_ref) if r != entity_ref]
        if starred:
            refs.append(entity_ref)
        self.set(user_ref, STARRED_BUCKET, STARRED_KEY, refs)
        return refs

    def recently_visited(self, user_ref: str) -> list[str]:
        value = self.get(user_ref, RECENT_BUCKET, RECENT_KEY)
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def record_visit(self, user_ref: str, entity_ref: str) -> None:
        refs = [entity_ref, *(r for r in self.recently_visited(user_ref) if r != entity_ref)][:MAX_RECENT]
        self.set(user_ref, RECENT_BUCKET, RECENT_KEY, refs)
