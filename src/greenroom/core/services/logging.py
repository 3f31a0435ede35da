"""Structured logging: JSON lines in production, readable lines in development.

Every record carries the plugin id (from the logger name `greenroom.<plugin>`) and the id of the
request being served (from a context variable set by the HTTP middleware), so one request can be
followed across plugins. Secret config values are redacted from messages.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from greenroom.core.config import Config

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "greenroom_request_id", default=None
)

ROOT_LOGGER_NAME = "greenroom"
_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class _ContextFilter(logging.Filter):
    """Adds `plugin` and `request_id` to every record and redacts secret values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted(
            {s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True
        )

    def filter(self, record: logging.LogRecord) -> bool:
        parts = record.name.split(".")
        record.plugin = parts[1] if len(parts) > 1 and parts[0] == ROOT_LOGGER_NAME else None
        record.request_id = request_id_var.get()
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                if secret in message:
                    message = message.replace(secret, "<secret>")
            record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "message": record.getMessage(),
            "logger": record.name,
        }
        plugin = getattr(record, "plugin", None)
        if plugin:
            entry["plugin"] = plugin
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["requestId"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in ("plugin", "request_id") and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["stack"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class PrettyFormatter(logging.Formatter):
    _COLORS = {
        "DEBUG": "\x1b[2m",
        "INFO": "\x1b[36m",
        "WARNING": "\x1b[33m",
        "ERROR": "\x1b[31m",
        "CRITICAL": "\x1b[41m",
    }

    def __init__(self, color: bool) -> None:
        super().__init__()
        self.color = color

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = record.levelname.lower()
        level = f"{self._COLORS.get(record.levelname, '')}{level:<7}\x1b[0m" if self.color else f"{level:<7}"
        origin = getattr(record, "plugin", None) or record.name
        request_id = getattr(record, "request_id", None)
        extras = {
            k: v
            for k, v in record.__dict__.items()
            if k not in _STANDARD_ATTRS and k not in ("plugin", "request_id") and not k.startswith("_")
        }
        line = f"{stamp} {level} {origin}: {record.getMessage()}"
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        if request_id:
            line += f" [req {request_id}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _choose_format(config_format: str | None) -> str:
    if config_format in ("json", "pretty"):
        return config_format
    if os.environ.get("NODE_ENV") == "production" or os.environ.get("GREENROOM_ENV") == "production":
        return "json"
    return "pretty" if sys.stderr.isatty() else "json"


def create_root_logger(config: Config | None, secrets: Iterable[str] = ()) -> logging.Logger:
    """Configure the `greenroom` logger tree once per process; later calls reconfigure it."""
    level_name = "info"
    fmt: str | None = None
    if config is not None:
        level_name = config.get_optional_string("backend.logging.level") or "info"
        fmt = config.get_optional_string("backend.logging.format")
    root = logging.getLogger(ROOT_LOGGER_NAME)
    for handler in list(root.handlers):
        if getattr(handler, "_greenroom", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._greenroom = True  # type: ignore[attr-defined]
    chosen = _choose_format(fmt)
    handler.setFormatter(JsonFormatter() if chosen == "json" else PrettyFormatter(color=sys.stderr.isatty()))
    handler.addFilter(_ContextFilter(secrets))
    root.addHandler(handler)
    root.setLevel(getattr(logging, level_name.upper(), logging.INFO))
    root.propagate = False
    return root


def secret_values(data: Any, masked: Any) -> list[str]:
    """Every string in `data` that `masked` (the same tree after secret masking) hides."""
    found: list[str] = []
    if isinstance(data, dict) and isinstance(masked, dict):
        for key, value in data.items():
            found.extend(secret_values(value, masked.get(key)))
    elif isinstance(data, list) and isinstance(masked, list):
        for value, hidden in zip(data, masked, strict=False):
            found.extend(secret_values(value, hidden))
    elif isinstance(data, str) and data != masked:
        found.append(data)
    return found


def redact_secrets(values: Iterable[str]) -> None:
    """Tell the `greenroom` log handlers which strings must never appear in a log line."""
    for handler in logging.getLogger(ROOT_LOGGER_NAME).handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, _ContextFilter):
                log_filter.secrets = sorted(
                    {v for v in [*log_filter.secrets, *values] if isinstance(v, str) and len(v) >= 4},
                    key=len,
                    reverse=True,
                )
