"""Reads catalog and docs locations from the filesystem and over HTTP, within configured limits.

Locations come from users (registered URLs, `$text` substitutions, relative targets), so every
read is checked first: files must resolve (symlinks followed) inside `backend.reading.roots`,
HTTP hosts must be in `backend.reading.allow` or be a configured integration host, every
redirect hop is checked again, and no read may exceed `backend.reading.maxBytes`.
Integration tokens are only ever sent to the host they are configured for.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import httpx

from greenroom.core.errors import (
    GreenroomError,
    InputError,
    NotAllowedError,
    NotFoundError,
    NotModifiedError,
    ServiceUnavailableError,
)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 5
_CHUNK_SIZE = 64 * 1024
_SCHEME_PATTERN = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ROOTS_KEY = "backend.reading.roots"
_ALLOW_KEY = "backend.reading.allow"
_MAX_BYTES_KEY = "backend.reading.maxBytes"
_INTEGRATION_KINDS: tuple[Literal["github", "gitlab"], ...] = ("github", "gitlab")
# A file modified this recently may be rewritten within the same filesystem timestamp tick
# without its stat changing (git's "racily clean" problem), so its stat is not trusted yet.
RACY_SECONDS = 2.0


@dataclass(frozen=True)
class ReadUrlResponse:
    """What was read; `etag` lets the caller skip unchanged input on the next read."""

    data: bytes
    etag: str | None
    last_modified: datetime | None
    url: str


@dataclass(frozen=True)
class _HostRule:
    """One `backend.reading.allow` entry (or integration host); port None means the default port."""

    hostname: str
    port: int | None
    wildcard: bool
    path_prefixes: tuple[str, ...] | None
    source: str

    def matches(self, url: httpx.URL) -> bool:
        hostname = url.host.lower()
        host_ok = hostname.endswith("." + self.hostname) if self.wildcard else hostname == self.hostname
        if not host_ok or _effective_port(url) != (self.port or _DEFAULT_PORTS[url.scheme]):
            return False
        if self.path_prefixes is None:
            return True
        normalized_path = _normalized_path(url.path)
        return any(normalized_path.startswith(prefix) for prefix in self.path_prefixes)


@dataclass(frozen=True)
class _Integration:
    """An SCM host with the headers its token needs; `kind` decides how repositories are named."""

    kind: Literal["github", "gitlab"]
    rules: tuple[_HostRule, ...]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _FileTarget:
    path: str
    as_file_url: bool


def _effective_port(url: httpx.URL) -> int:
    return url.port or _DEFAULT_PORTS[url.scheme]


def _normalized_path(raw_path: str) -> str:
    """Percent-decoded and `..`-collapsed, so `/docs/../secret` cannot pass a `/docs/` prefix."""
    decoded = unquote(raw_path or "/")
    normalized = posixpath.normpath(decoded)
    if normalized.startswith("//"):
        normalized = "/" + normalized.lstrip("/")
    if decoded.endswith("/") and not normalized.endswith("/"):
        normalized += "/"
    return normalized


def _parse_host_rule(host: Any, *, paths: Any, source: str) -> _HostRule:
    if not isinstance(host, str) or not host.strip():
        raise InputError(f"{source}: host must be a non-empty string, got {host!r}")
    host = host.strip().lower()
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
    try:
        parsed = urlsplit("//" + host)
        port = parsed.port
    except ValueError as error:
        raise InputError(f'{source}: host "{host}" is not a valid host or host:port') from error
    if not parsed.hostname or parsed.path or parsed.query or "@" in host:
        raise InputError(f'{source}: host "{host}" is not a valid host or host:port')
    path_prefixes: tuple[str, ...] | None = None
    if paths is not None:
        if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
            raise InputError(f"{source}: paths must be a list of strings starting with /")
        path_prefixes = tuple(paths)
    return _HostRule(parsed.hostname, port, wildcard, path_prefixes, source)


def _host_of(base_url: Any, *, source: str) -> str | None:
    if base_url is None:
        return None
    if not isinstance(base_url, str):
        raise InputError(f"{source} must be a URL string")
    parsed = urlsplit(base_url)
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.hostname:
        raise InputError(f'{source} "{base_url}" must be an http(s) URL')
    return parsed.netloc.rsplit("@", 1)[-1]


def _parse_integrations(integrations_config: Mapping[str, Any] | None) -> tuple[_Integration, ...]:
    integrations: list[_Integration] = []
    for kind in _INTEGRATION_KINDS:
        entries = (integrations_config or {}).get(kind) or []
        if not isinstance(entries, list):
            raise InputError(f"integrations.{kind} must be a list")
        for index, entry in enumerate(entries):
            source = f"integrations.{kind}[{index}]"
            if not isinstance(entry, Mapping):
                raise InputError(f"{source} must be an object")
            host = entry.get("host", "github.com" if kind == "github" else "gitlab.com")
            hosts = [host]
            for key in ("apiBaseUrl", "rawBaseUrl", "baseUrl"):
                extra_host = _host_of(entry.get(key), source=f"{source}.{key}")
                if extra_host:
                    hosts.append(extra_host)
            if kind == "github" and host == "github.com":
                hosts += ["api.github.com", "raw.githubusercontent.com"]
            rules = tuple(_parse_host_rule(h, paths=None, source=source) for h in dict.fromkeys(hosts))
            token = entry.get("token")
            headers: dict[str, str] = {}
            if token is not None:
                if not isinstance(token, str) or not token:
                    raise InputError(f"{source}.token must be a non-empty string")
                headers["Authorization"] = f"token {token}" if kind == "github" else f"Bearer {token}"
            integrations.append(_Integration(kind, rules, headers))
    return tuple(integrations)


def _is_inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    """`**` spans directories, `*` and `?` stay within one path segment, `[...]` is a class."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif char == "*":
            parts.append("[^/]*")
            index += 1
        elif char == "?":
            parts.append("[^/]")
            index += 1
        elif char == "[" and "]" in pattern[index + 1 :]:
            end = pattern.index("]", index + 1)
            body = pattern[index + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            parts.append("[" + body.replace("\\", "\\\\") + "]")
            index = end + 1
        else:
            parts.append(re.escape(char))
            index += 1
    return re.compile("".join(parts) + r"\Z")


class UrlReader:
    """Reads files under configured roots and URLs on allowed hosts (`coreServices.urlReader`).

    `reading_config` is Backstage's `backend.reading` plus `roots` (directories file reads may
    touch), `maxBytes` (default 20 MiB) and `timeout` (seconds, default 30).
    `integrations_config` is the `integrations` section; its github/gitlab hosts are allowed
    and their tokens sent to them. Thread-safe: configuration is immutable after construction.
    """

    def __init__(
        self,
        reading_config: Mapping[str, Any],
        integrations_config: Mapping[str, Any] | None = None,
        *,
        http_client: httpx.Client | None = None,
    ) -> None:
        roots = reading_config.get("roots") or []
        if not isinstance(roots, list) or not all(isinstance(root, str) and root for root in roots):
            raise InputError(f"{_ROOTS_KEY} must be a list of directory paths")
        self._roots: tuple[str, ...] = tuple(os.path.realpath(root) for root in roots)
        allow = reading_config.get("allow") or []
        if not isinstance(allow, list):
            raise InputError(f"{_ALLOW_KEY} must be a list of {{host, paths?}} objects")
        self._allow_rules = tuple(
            _parse_host_rule(
                entry.get("host") if isinstance(entry, Mapping) else entry,
                paths=entry.get("paths") if isinstance(entry, Mapping) else None,
                source=f"{_ALLOW_KEY}[{index}]",
            )
            for index, entry in enumerate(allow)
        )
        max_bytes = reading_config.get("maxBytes", DEFAULT_MAX_BYTES)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
            raise InputError(f"{_MAX_BYTES_KEY} must be a positive integer, got {max_bytes!r}")
        self._max_bytes = max_bytes
        timeout = reading_config.get("timeout", DEFAULT_TIMEOUT_SECONDS)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InputError(f"backend.reading.timeout must be a positive number of seconds, got {timeout!r}")
        self._timeout = httpx.Timeout(float(timeout))
        self._integrations = _parse_integrations(integrations_config)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(timeout=self._timeout, follow_redirects=False)

    @property
    def roots(self) -> tuple[str, ...]:
        return self._roots

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def close(self) -> None:
        """Close the HTTP client if this reader created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> UrlReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ----------------------------------------------------------------------- public API

    def check_allowed(self, target: str) -> None:
        """Raise exactly what `read_url` would for a disallowed or malformed target, without reading."""
        parsed = self._parse_target(target)
        if isinstance(parsed, _FileTarget):
            self._resolve_file_in_roots(parsed.path)
        else:
            self._check_http_allowed(parsed)

    def read_url(self, target: str, *, etag: str | None = None) -> ReadUrlResponse:
        """Read a file path, `file://` URL or `http(s)://` URL; NotModifiedError when `etag` still matches."""
        parsed = self._parse_target(target)
        if isinstance(parsed, _FileTarget):
            return self._read_file(parsed, etag=etag)
        return self._read_http(parsed, etag=etag)

    def file_etag(self, target: str) -> str | None:
        """A change token for a file target from one `lstat`, without reading it.

        Device, inode, size, mtime and ctime (ns): an in-place save, an atomic rename or a
        metadata-preserving copy all change it. None for http(s) targets (no cheap token) and
        for files modified within `RACY_SECONDS`, whose stat cannot be trusted yet: the caller
        must read them. Raises what `read_url` would for a disallowed, missing or special file;
        the reading-root and symlink checks are the same.
        """
        parsed = self._parse_target(target)
        if not isinstance(parsed, _FileTarget):
            return None
        real_path = self._resolve_file_in_roots(parsed.path)
        try:
            # lstat: a component swapped for a symlink since realpath() is not followed
            file_stat = os.stat(real_path, follow_symlinks=False)
        except FileNotFoundError as error:
            raise NotFoundError(f'file "{parsed.path}" does not exist', path=parsed.path) from error
        except OSError as error:
            raise NotAllowedError(
                f'cannot stat "{parsed.path}": {error.strerror}', path=parsed.path
            ) from error
        if stat.S_ISDIR(file_stat.st_mode):
            raise InputError(f'"{parsed.path}" is a directory, not a file', path=parsed.path)
        if not stat.S_ISREG(file_stat.st_mode):
            raise InputError(f'"{parsed.path}" is not a regular file', path=parsed.path)
        if time.time_ns() - file_stat.st_mtime_ns < RACY_SECONDS * 1e9:
            return None
        return (
            f"{file_stat.st_dev:x}-{file_stat.st_ino:x}-{file_stat.st_size:x}-"
            f"{file_stat.st_mtime_ns:x}-{file_stat.st_ctime_ns:x}"
        )

    def resolve_url(self, base: str, relative: str) -> str:
        """`relative` resolved against the location `base` (a file's directory, or an URL).

        An absolute URL is returned as is; callers enforce locality with `is_same_tree`.
        On integration hosts a leading `/` means the repository root, as in Backstage.
        """
        if not isinstance(relative, str) or not relative:
            raise InputError("relative location must be a non-empty string")
        if _SCHEME_PATTERN.match(relative):
            self._parse_target(relative)
            return relative
        parsed_base = self._parse_target(base)
        if isinstance(parsed_base, _FileTarget):
            joined = os.path.normpath(os.path.join(os.path.dirname(parsed_base.path), relative))
            return self._format_file(joined, as_file_url=parsed_base.as_file_url)
        integration = self._integration_for(parsed_base)
        if integration is not None and relative.startswith("/") and not relative.startswith("//"):
            repo_root = self._repository_root_path(integration, parsed_base)
            if repo_root is not None:
                return str(parsed_base.join(quote(repo_root) + relative))
        return str(parsed_base.join(relative))

    def is_same_tree(self, a: str, b: str) -> bool:
        """Whether `b` stays in the tree of `a`: same reading root, or same repository/host."""
        try:
            first, second = self._parse_target(a), self._parse_target(b)
        except GreenroomError:
            return False
        if isinstance(first, _FileTarget) and isinstance(second, _FileTarget):
            real_first, real_second = os.path.realpath(first.path), os.path.realpath(second.path)
            return any(_is_inside(real_first, r) and _is_inside(real_second, r) for r in self._roots)
        if isinstance(first, httpx.URL) and isinstance(second, httpx.URL):
            return self._tree_key(first) == self._tree_key(second)
        return False

    def search(self, pattern: str) -> list[str]:
        """Files matching a glob (`**` allowed) under the roots; an URL is returned as is (no globbing)."""
        parsed = self._parse_target(pattern)
        if isinstance(parsed, httpx.URL):
            if any(char in unquote(parsed.path) for char in "*[]"):
                raise InputError(f'"{pattern}": glob patterns are only supported for file locations')
            self._check_http_allowed(parsed)
            return [str(parsed)]
        matches = self._glob(os.path.normpath(parsed.path))
        return [self._format_file(path, as_file_url=parsed.as_file_url) for path in matches]

    # ----------------------------------------------------------------------- targets

    def _parse_target(self, target: str) -> _FileTarget | httpx.URL:
        if not isinstance(target, str) or not target.strip():
            raise InputError("location must be a non-empty string")
        if "\x00" in target:
            raise InputError("location must not contain NUL characters")
        scheme_match = _SCHEME_PATTERN.match(target)
        if scheme_match is None:
            if target.startswith("/") and not target.startswith("//"):
                return _FileTarget(target, as_file_url=False)
            raise InputError(
                f'"{target}" is a relative location without a base; give an absolute path or an http(s) URL'
            )
        scheme = scheme_match.group(1).lower()
        if scheme == "file":
            parts = urlsplit(target)
            if parts.netloc not in ("", "localhost"):
                raise InputError(f'"{target}": file URLs on another host are not supported')
            path = unquote(parts.path)
            if not path.startswith("/") or "\x00" in path:
                raise InputError(f'"{target}" is not an absolute file URL')
            return _FileTarget(path, as_file_url=True)
        if scheme in _DEFAULT_PORTS:
            try:
                url = httpx.URL(target)
            except httpx.InvalidURL as error:
                raise InputError(f'"{target}" is not a valid URL: {error}') from error
            if not url.host:
                raise InputError(f'"{target}" has no host')
            if url.userinfo:
                raise InputError(
                    f'"{target}": credentials in URLs are not accepted; configure a token under integrations'
                )
            return url
        raise InputError(
            f'"{target}": the URL scheme "{scheme}:" is not supported; use a file path or http(s)'
        )

    @staticmethod
    def _format_file(path: str, *, as_file_url: bool) -> str:
        return "file://" + quote(path) if as_file_url else path

    def _roots_description(self) -> str:
        return "[" + ", ".join(self._roots) + "]" if self._roots else "(none configured)"

    def _resolve_file_in_roots(self, path: str) -> str:
        real_path = os.path.realpath(path)
        if any(_is_inside(real_path, root) for root in self._roots):
            return real_path
        resolved_note = "" if real_path == path else f' (resolves to "{real_path}")'
        raise NotAllowedError(
            f'reading "{path}"{resolved_note} is not allowed: it is outside the reading roots '
            f"{self._roots_description()}; add its directory to {_ROOTS_KEY} if it should be readable",
            path=path,
            roots=list(self._roots),
        )

    # ----------------------------------------------------------------------- files

    def _read_file(self, target: _FileTarget, *, etag: str | None) -> ReadUrlResponse:
        real_path = self._resolve_file_in_roots(target.path)
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real_path, flags)
        except FileNotFoundError as error:
            raise NotFoundError(f'file "{target.path}" does not exist', path=target.path) from error
        except IsADirectoryError as error:
            raise InputError(f'"{target.path}" is a directory, not a file', path=target.path) from error
        except OSError as error:
            raise NotAllowedError(
                f'cannot open "{target.path}": {error.strerror}', path=target.path
            ) from error
        try:
            # A path component may have been swapped for a symlink since realpath(): check what was opened.
            opened_path = self._opened_path(fd)
            if opened_path is not None and not any(_is_inside(opened_path, root) for root in self._roots):
                raise NotAllowedError(f'"{target.path}" changed to point outside the reading roots')
            file_stat = os.fstat(fd)
            if stat.S_ISDIR(file_stat.st_mode):
                raise InputError(f'"{target.path}" is a directory, not a file', path=target.path)
            if not stat.S_ISREG(file_stat.st_mode):
                raise InputError(f'"{target.path}" is not a regular file', path=target.path)
            if file_stat.st_size > self._max_bytes:
                raise self._too_big(target.path, file_stat.st_size)
            data = self._read_at_most(fd, self._max_bytes + 1)
        finally:
            os.close(fd)
        if len(data) > self._max_bytes:
            raise self._too_big(target.path, None)
        content_etag = hashlib.sha256(data).hexdigest()
        if etag is not None and etag.strip('"').removeprefix("W/").strip('"') == content_etag:
            raise NotModifiedError(f'"{target.path}" has not changed')
        return ReadUrlResponse(
            data=data,
            etag=content_etag,
            last_modified=datetime.fromtimestamp(file_stat.st_mtime, tz=UTC),
            url=self._format_file(target.path, as_file_url=target.as_file_url),
        )

    @staticmethod
    def _read_at_most(fd: int, limit: int) -> bytes:
        """Stops at `limit` even if the file grew after fstat (or reports size 0, as /proc files do)."""
        chunks: list[bytes] = []
        remaining = limit
        while remaining > 0:
            chunk = os.read(fd, min(_CHUNK_SIZE, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    @staticmethod
    def _opened_path(fd: int) -> str | None:
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return None

    def _too_big(self, location: str, size: int | None) -> InputError:
        size_text = f" ({size} bytes)" if size is not None else ""
        return InputError(
            f'"{location}"{size_text} is larger than the read limit of {self._max_bytes} bytes; '
            f"raise {_MAX_BYTES_KEY} to allow it",
            max_bytes=self._max_bytes,
        )

    def _glob(self, pattern: str) -> list[str]:
        segments = pattern.split("/")
        literal_count = next(
            (index for index, segment in enumerate(segments) if any(c in segment for c in "*?[")),
            len(segments),
        )
        base = "/".join(segments[:literal_count]) or "/"
        if literal_count == len(segments):
            # No magic at all: the pattern names one file.
            real_path = self._resolve_file_in_roots(pattern)
            return [pattern] if os.path.isfile(real_path) else []
        self._resolve_file_in_roots(base)
        matcher = _glob_to_regex("/".join(segments[literal_count:]))
        return sorted(
            path
            for path in self._walk_files(base)
            if matcher.match(os.path.relpath(path, base).replace(os.sep, "/"))
        )

    def _walk_files(self, base: str) -> Iterator[str]:
        """Files under `base` whose real path is inside a root; symlinked directories are not entered."""
        for directory, _, file_names in os.walk(base, followlinks=False):
            for file_name in file_names:
                path = os.path.join(directory, file_name)
                real_path = os.path.realpath(path)
                if os.path.isfile(real_path) and any(_is_inside(real_path, root) for root in self._roots):
                    yield path

    # ----------------------------------------------------------------------- http

    def _integration_for(self, url: httpx.URL) -> _Integration | None:
        return next(
            (
                integration
                for integration in self._integrations
                if any(r.matches(url) for r in integration.rules)
            ),
            None,
        )

    def _check_http_allowed(self, url: httpx.URL) -> None:
        if self._integration_for(url) is not None or any(rule.matches(url) for rule in self._allow_rules):
            return
        host = url.netloc.decode("ascii").rsplit("@", 1)[-1]
        host_rules = [rule for rule in self._allow_rules if not rule.wildcard and rule.hostname == url.host]
        path_hint = " (the host is listed, but not for this path)" if host_rules else ""
        raise NotAllowedError(
            f'reading from host "{host}" is not allowed{path_hint}: {url}; '
            f"add it to {_ALLOW_KEY} (or configure it as an integration) if it should be readable",
            host=host,
        )

    def _read_http(self, url: httpx.URL, *, etag: str | None) -> ReadUrlResponse:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            self._check_http_allowed(current)
            integration = self._integration_for(current)
            headers = dict(integration.headers) if integration else {}
            if etag is not None:
                headers["If-None-Match"] = etag if etag.startswith(("W/", '"')) else f'"{etag}"'
            try:
                with self._client.stream(
                    "GET", current, headers=headers, follow_redirects=False, timeout=self._timeout
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        current = current.join(response.headers["location"])
                        if current.scheme not in _DEFAULT_PORTS:
                            raise NotAllowedError(f"{url} redirects to unsupported location {current}")
                        continue
                    return self._http_response(url, current, response)
            except httpx.TimeoutException as error:
                raise ServiceUnavailableError(f"reading {current} timed out", cause=error) from error
            except httpx.TransportError as error:
                raise ServiceUnavailableError(f"reading {current} failed: {error}", cause=error) from error
        raise InputError(f"reading {url} followed more than {MAX_REDIRECTS} redirects")

    def _http_response(
        self, requested: httpx.URL, final: httpx.URL, response: httpx.Response
    ) -> ReadUrlResponse:
        status = response.status_code
        if status == 304:
            raise NotModifiedError(f"{requested} has not changed")
        if status in (404, 410):
            raise NotFoundError(f"{final} was not found (HTTP {status})", status=status)
        if status in (401, 403):
            raise NotAllowedError(
                f"{final} refused access (HTTP {status}); check the integration token", status=status
            )
        if status == 429 or status >= 500:
            raise ServiceUnavailableError(f"{final} answered HTTP {status}", status=status)
        if not 200 <= status < 300:
            raise InputError(f"{final} answered HTTP {status}", status=status)
        declared_length = response.headers.get("content-length")
        if declared_length and declared_length.isdigit() and int(declared_length) > self._max_bytes:
            raise self._too_big(str(final), int(declared_length))
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes(_CHUNK_SIZE):
            received += len(chunk)
            if received > self._max_bytes:
                raise self._too_big(str(final), None)
            chunks.append(chunk)
        return ReadUrlResponse(
            data=b"".join(chunks),
            etag=response.headers.get("etag"),
            last_modified=_parse_http_date(response.headers.get("last-modified")),
            url=str(final),
        )

    # ----------------------------------------------------------------------- trees

    def _repository_root_path(self, integration: _Integration, url: httpx.URL) -> str | None:
        """`/owner/repo/blob/ref` (GitHub) or `/group/repo/-/blob/ref` (GitLab) of a file URL."""
        segments = [segment for segment in url.path.split("/") if segment]
        if integration.kind == "gitlab" and "-" in segments:
            dash = segments.index("-")
            if len(segments) >= dash + 3:
                return "/" + "/".join(segments[: dash + 3])
            return None
        if len(segments) >= 4 and segments[2] in ("blob", "tree", "raw", "edit"):
            return "/" + "/".join(segments[:4])
        if url.host == "raw.githubusercontent.com" and len(segments) >= 3:
            return "/" + "/".join(segments[:3])
        return None

    def _tree_key(self, url: httpx.URL) -> tuple[str, ...]:
        host = f"{url.host.lower()}:{_effective_port(url)}"
        integration = self._integration_for(url)
        if integration is None:
            return (host,)
        segments = [segment for segment in _normalized_path(url.path).split("/") if segment]
        if integration.kind == "gitlab" and "-" in segments:
            repository = segments[: segments.index("-")]
        else:
            repository = segments[:2]
        if integration.kind == "github":
            repository = [segment.lower() for segment in repository]
            if url.host in ("api.github.com",) and repository[:1] == ["repos"]:
                repository = [segment.lower() for segment in segments[1:3]]
            host = (
                "github"
                if url.host in ("github.com", "raw.githubusercontent.com", "api.github.com")
                else host
            )
        return (host, *repository)


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
