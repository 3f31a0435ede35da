"""The `catalog` config section (Backstage's keys where the concept is the same)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from greenroom.core.config import parse_duration

DEFAULT_KINDS_ALLOWED = ["Component", "API", "Location"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RuleLocation(_Model):
    type: str
    exact: str | None = None
    pattern: str | None = None


class KindMatcher(_Model):
    kind: str
    spec_type: str | None = Field(default=None, alias="spec.type")


class CatalogRule(_Model):
    """Which kinds may come from which locations (`catalog.rules`)."""

    allow: list[str | KindMatcher]
    locations: list[RuleLocation] | None = None


class StaticLocation(_Model):
    """A location read at startup (`catalog.locations[]`)."""

    type: str = "url"
    target: str
    rules: list[CatalogRule] | None = None
    presence: Literal["required", "optional"] | None = None


class FileTreeProviderConfig(_Model):
    """A folder watched for descriptor files: saved changes appear within seconds."""

    path: str
    pattern: str = "**/catalog-info.yaml"
    rules: list[CatalogRule] | None = None


class CatalogProvidersConfig(_Model):
    file_tree: list[FileTreeProviderConfig] = Field(default_factory=list, alias="fileTree")


class StitchingConfig(_Model):
    polling_interval: Any = Field(default="PT0.25S", alias="pollingInterval")
    stitch_timeout: Any = Field(default="PT60S", alias="stitchTimeout")


class CatalogConfig(_Model):
    """Validated `catalog` section."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    locations: list[StaticLocation] = Field(default_factory=list)
    rules: list[CatalogRule] = Field(default_factory=lambda: [CatalogRule(allow=list(DEFAULT_KINDS_ALLOWED))])
    readonly: bool = False
    processing_interval: Any = Field(default=None, alias="processingInterval")
    orphan_strategy: Literal["keep", "delete"] = Field(default="delete", alias="orphanStrategy")
    orphan_grace_period: Any = Field(default="PT0S", alias="orphanGracePeriod")
    orphan_provider_strategy: Literal["keep", "delete"] = Field(
        default="delete", alias="orphanProviderStrategy"
    )
    default_location_conflict_strategy: Literal["reject", "refresh"] = Field(
        default="reject", alias="defaultLocationConflictStrategy"
    )
    allowed_location_types: list[str] = Field(
        default_factory=lambda: ["url", "file"], alias="allowedLocationTypes"
    )
    providers: CatalogProvidersConfig = Field(default_factory=CatalogProvidersConfig)
    stitching_strategy: StitchingConfig = Field(default_factory=StitchingConfig, alias="stitchingStrategy")
    processing_batch_size: int = Field(default=500, alias="processingBatchSize", ge=1, le=5000)

    @field_validator("processing_interval", "orphan_grace_period")
    @classmethod
    def _duration_or_false(cls, value: Any) -> Any:
        if value is None or value is False:
            return value
        parse_duration(value)  # raises a readable error naming what was expected
        return value

    def processing_interval_seconds(self) -> tuple[float, float] | None:
        """The (min, max) seconds between two processings of one entity; None when disabled."""
        if self.processing_interval is False:
            return None
        if self.processing_interval is None:
            return (100.0, 150.0)
        seconds = parse_duration(self.processing_interval).total_seconds()
        return (seconds, seconds * 1.5)

    def next_interval(self) -> float:
        bounds = self.processing_interval_seconds()
        if bounds is None:
            return 10 * 365 * 24 * 3600.0
        return random.uniform(*bounds)

    def grace_seconds(self) -> float:
        return parse_duration(self.orphan_grace_period).total_seconds() if self.orphan_grace_period else 0.0

    def stitch_timeout_seconds(self) -> float:
        """How long a claimed stitch may take before another process may take it over."""
        return max(1.0, parse_duration(self.stitching_strategy.stitch_timeout).total_seconds())

    def stitch_poll_seconds(self) -> float:
        return max(0.05, parse_duration(self.stitching_strategy.polling_interval).total_seconds())


def duration_seconds(value: Any, default: timedelta) -> float:
    return (parse_duration(value) if value not in (None, False) else default).total_seconds()
