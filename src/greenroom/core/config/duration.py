"""Durations in config, accepted in every shape Backstage configs use in the wild.

Backstage reads durations as ISO 8601 strings or `{hours: 1}`-style objects; humans also write
"30s" or "2 days", and plain numbers are natural for seconds. Accepting all of them means
existing app-config files keep working unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from greenroom.core.config.errors import ConfigError

# Calendar units have no fixed length; these are the conventional approximations.
_SECONDS_PER_UNIT: dict[str, float] = {
    "years": 365 * 86400,
    "months": 30 * 86400,
    "weeks": 7 * 86400,
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
    "seconds": 1,
    "milliseconds": 0.001,
}

DURATION_OBJECT_KEYS: tuple[str, ...] = tuple(_SECONDS_PER_UNIT)

_UNIT_ALIASES: dict[str, str] = {
    **dict.fromkeys(["ms", "msec", "msecs", "millisecond", "milliseconds"], "milliseconds"),
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], "seconds"),
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes"], "minutes"),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], "hours"),
    **dict.fromkeys(["d", "day", "days"], "days"),
    **dict.fromkeys(["w", "wk", "wks", "week", "weeks"], "weeks"),
    **dict.fromkeys(["mo", "month", "months"], "months"),
    **dict.fromkeys(["y", "yr", "yrs", "year", "years"], "years"),
}

_NUMBER = r"\d+(?:[.,]\d+)?"
_ISO_8601 = re.compile(
    rf"""^P(?!$)
    (?:(?P<years>{_NUMBER})Y)?
    (?:(?P<months>{_NUMBER})M)?
    (?:(?P<weeks>{_NUMBER})W)?
    (?:(?P<days>{_NUMBER})D)?
    (?:T(?=\d)
        (?:(?P<hours>{_NUMBER})H)?
        (?:(?P<minutes>{_NUMBER})M)?
        (?:(?P<seconds>{_NUMBER})S)?
    )?$""",
    re.VERBOSE | re.IGNORECASE,
)
_HUMAN_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*(?:,|\band\b)?", re.IGNORECASE)
_PLAIN_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)?\s*$")

DURATION_EXPECTATION = (
    "expected an ISO 8601 duration (e.g. 'PT30S', 'P1D'), a human duration (e.g. '500ms', '30s', "
    "'5m', '2 days'), a number of seconds, or an object with any of the keys " + ", ".join(_SECONDS_PER_UNIT)
)


def parse_duration(value: Any, *, key: str | None = None) -> timedelta:
    """Convert any supported duration shape into a `timedelta`; `key` only improves the error."""
    seconds = _to_seconds(value)
    if seconds is None or seconds < 0:
        where = f" at '{key}'" if key else ""
        raise ConfigError(f"Invalid duration{where}: {value!r}; {DURATION_EXPECTATION}")
    return timedelta(seconds=seconds)


def _to_seconds(value: Any) -> float | None:
    """Total seconds for a recognised shape, or None so the caller can report one uniform error."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        return _object_seconds(value)
    if isinstance(value, str):
        return _string_seconds(value)
    return None


def _object_seconds(value: Mapping[Any, Any]) -> float | None:
    if not value or any(unit not in _SECONDS_PER_UNIT for unit in value):
        return None
    total = 0.0
    for unit, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        total += amount * _SECONDS_PER_UNIT[unit]
    return total


def _string_seconds(text: str) -> float | None:
    if _PLAIN_NUMBER.match(text):
        return float(text)
    iso = _ISO_8601.match(text.strip())
    if iso:
        return sum(
            float(amount.replace(",", ".")) * _SECONDS_PER_UNIT[unit]
            for unit, amount in iso.groupdict().items()
            if amount is not None
        )
    return _human_seconds(text)


def _human_seconds(text: str) -> float | None:
    total = 0.0
    position = 0
    matched_any = False
    for part in _HUMAN_PART.finditer(text):
        if part.start() != position:
            return None
        unit = _UNIT_ALIASES.get(part.group(2).lower())
        if unit is None:
            return None
        total += float(part.group(1)) * _SECONDS_PER_UNIT[unit]
        position = part.end()
        matched_any = True
    if not matched_any or text[position:].strip():
        return None
    return total
