"""Config errors and the key-path notation shared by loading, reading and validation.

Every config problem is reported against a file and a key path so that an operator can go
straight to the offending line; keeping the formatting in one place keeps messages uniform.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

KeyPath = tuple[str | int, ...]

_KEY_PATH_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def format_key_path(path: Iterable[str | int]) -> str:
    """Render `("backend", "allow", 0, "host")` as `backend.allow[0].host`."""
    rendered = ""
    for segment in path:
        if isinstance(segment, int):
            rendered += f"[{segment}]"
        else:
            rendered += f".{segment}" if rendered else segment
    return rendered


def parse_key_path(path: str | Sequence[str | int]) -> KeyPath:
    """Accept either a sequence of segments or the dotted form produced by `format_key_path`."""
    if not isinstance(path, str):
        return tuple(path)
    segments: list[str | int] = []
    for match in _KEY_PATH_TOKEN.finditer(path):
        name, index = match.groups()
        segments.append(int(index) if index is not None else name)
    return tuple(segments)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in the config, located by the file that supplied the value and its key path."""

    file: str | None
    path: str
    message: str

    def __str__(self) -> str:
        location = f"{self.file}: {self.path}" if self.file else self.path
        return f"{location}: {self.message}" if location else self.message


class ConfigError(Exception):
    """Raised for any unusable configuration; `issues` lists each problem when there are several."""

    def __init__(self, message: str, issues: Sequence[ConfigIssue] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.issues: list[ConfigIssue] = list(issues)

    @classmethod
    def from_issues(cls, issues: Sequence[ConfigIssue]) -> ConfigError:
        """Summarise validation issues in one error so startup can fail with every problem listed."""
        noun = "problem" if len(issues) == 1 else "problems"
        return cls(f"Configuration is invalid ({len(issues)} {noun})", issues)

    def __str__(self) -> str:
        if not self.issues:
            return self.message
        return "\n".join([self.message + ":", *(f"  - {issue}" for issue in self.issues)])
