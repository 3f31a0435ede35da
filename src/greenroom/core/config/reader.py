"""Typed access to loaded config, mirroring Backstage's ConfigReader.

Plugins read config through this instead of poking at dicts so that a wrong type or a missing
value fails with the full key path and the file that supplied it, rather than a bare KeyError.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from greenroom.core.config.duration import parse_duration
from greenroom.core.config.errors import ConfigError, KeyPath, format_key_path, parse_key_path

if TYPE_CHECKING:
    from greenroom.core.config.loading import LoadedConfig

_T = TypeVar("_T")

OriginLookup = Callable[[Sequence[str | int]], str | None]

_TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "n", "off", "0"})


def _type_of(value: Any) -> str:
    """Backstage's type vocabulary, so messages read the same as in a Backstage deployment."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string" if value else "empty-string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


class Config:
    """A read-only view of (a subtree of) the config, addressed with dotted keys like `backend.baseUrl`."""

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        *,
        prefix: str = "",
        origin: OriginLookup | None = None,
    ) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._prefix = prefix
        self._path: KeyPath = parse_key_path(prefix)
        self._origin = origin

    @classmethod
    def from_loaded(cls, loaded: LoadedConfig) -> Config:
        """Wrap loaded config so errors can name the file each value came from."""
        return cls(loaded.data, origin=loaded.origin_of)

    def __repr__(self) -> str:
        return f"Config(prefix={self._prefix!r}, keys={self.keys()!r})"

    # -- generic access -------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        return self._read(key) is not None

    def keys(self) -> list[str]:
        return list(self._data)

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def get(self, key: str = "") -> Any:
        return self._required(key, self.get_optional(key))

    def get_optional(self, key: str = "") -> Any:
        return copy.deepcopy(self._read(key))

    # -- scalars --------------------------------------------------------------------------------

    def get_string(self, key: str) -> str:
        return self._required(key, self.get_optional_string(key))

    def get_optional_string(self, key: str) -> str | None:
        value = self._read(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self._type_error(key, value, "string")
        return value

    def get_number(self, key: str) -> int | float:
        return self._required(key, self.get_optional_number(key))

    def get_optional_number(self, key: str) -> int | float | None:
        """Numbers; numeric strings are accepted because `${PORT}` substitution always yields strings."""
        value = self._read(key)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            number = _parse_number(value)
            if number is not None:
                return number
        raise self._type_error(key, value, "number")

    def get_boolean(self, key: str) -> bool:
        return self._required(key, self.get_optional_boolean(key))

    def get_optional_boolean(self, key: str) -> bool | None:
        """Booleans, plus the usual env-var spellings (`"true"`, `"1"`, `"off"`...) for the same reason."""
        value = self._read(key)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str | int) and not isinstance(value, bool):
            word = str(value).strip().lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
        raise self._type_error(key, value, "boolean")

    def get_duration(self, key: str) -> timedelta:
        return self._required(key, self.get_optional_duration(key))

    def get_optional_duration(self, key: str) -> timedelta | None:
        value = self._read(key)
        if value is None:
            return None
        try:
            return parse_duration(value, key=self._full_key(key))
        except ConfigError as error:
            raise ConfigError(error.message + self._in_file(key)) from None

    # -- nested values --------------------------------------------------------------------------

    def get_config(self, key: str) -> Config:
        return self._required(key, self.get_optional_config(key))

    def get_optional_config(self, key: str) -> Config | None:
        value = self._read(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._type_error(key, value, "object")
        return Config(value, prefix=self._full_key(key), origin=self._origin)

    def get_config_array(self, key: str) -> list[Config]:
        return self._required(key, self.get_optional_config_array(key))

    def get_optional_config_array(self, key: str) -> list[Config] | None:
        items = self._read_list(key)
        if items is None:
            return None
        configs = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise self._type_error(f"{key}[{index}]", item, "object")
            configs.append(Config(item, prefix=self._full_key(f"{key}[{index}]"), origin=self._origin))
        return configs

    def get_string_array(self, key: str) -> list[str]:
        return self._required(key, self.get_optional_string_array(key))

    def get_optional_string_array(self, key: str) -> list[str] | None:
        items = self._read_list(key)
        if items is None:
            return None
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item:
                raise self._type_error(f"{key}[{index}]", item, "string")
        return list(items)

    # -- internals ------------------------------------------------------------------------------

    def _read(self, key: str) -> Any:
        """Walk the dotted key; a non-object in the middle of the path is a type error, not 'missing'."""
        segments = self._segments(key)
        current: Any = self._data
        for depth, segment in enumerate(segments):
            if current is None:
                return None
            if isinstance(current, Mapping):
                current = current.get(segment) if isinstance(segment, str) else None
            elif isinstance(current, list) and isinstance(segment, int):
                current = current[segment] if segment < len(current) else None
            else:
                raise self._type_error(format_key_path(segments[:depth]), current, "object")
        return current

    def _read_list(self, key: str) -> list[Any] | None:
        value = self._read(key)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._type_error(key, value, "array")
        return value

    def _segments(self, key: str) -> KeyPath:
        if not key:
            return ()
        segments = parse_key_path(key)
        if format_key_path(segments) != key or any(segment == "" for segment in segments):
            raise ConfigError(
                f"Invalid config key '{key}': expected dot-separated names like 'backend.baseUrl'"
            )
        return segments

    def _full_key(self, key: str) -> str:
        return format_key_path((*self._path, *self._segments(key)))

    def _in_file(self, key: str) -> str:
        if self._origin is None:
            return ""
        origin = self._origin((*self._path, *self._segments(key)))
        return f" in '{origin}'" if origin else ""

    def _type_error(self, key: str, value: Any, wanted: str) -> ConfigError:
        return ConfigError(
            f"Invalid type in config for key '{self._full_key(key)}'{self._in_file(key)}, "
            f"got {_type_of(value)}, wanted {wanted}"
        )

    def _required(self, key: str, value: _T | None) -> _T:
        if value is None:
            raise ConfigError(f"Missing required config value at '{self._full_key(key)}'")
        return value


def _parse_number(text: str) -> int | float | None:
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        number = float(stripped)
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None
