"""Backstage-compatible configuration: load app-config files, read values, validate and mask them."""

from greenroom.core.config.duration import parse_duration
from greenroom.core.config.errors import ConfigError, ConfigIssue
from greenroom.core.config.loading import LoadedConfig, load_config
from greenroom.core.config.reader import Config
from greenroom.core.config.schema import (
    CORE_CONFIG_SCHEMAS,
    ConfigModel,
    Duration,
    config_json_schema,
    frontend_field,
    secret_field,
)
from greenroom.core.config.validation import check_config, frontend_visible, mask_secrets, validate_config

__all__ = [
    "CORE_CONFIG_SCHEMAS",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "ConfigModel",
    "Duration",
    "LoadedConfig",
    "check_config",
    "config_json_schema",
    "frontend_field",
    "frontend_visible",
    "load_config",
    "mask_secrets",
    "parse_duration",
    "secret_field",
    "validate_config",
]
