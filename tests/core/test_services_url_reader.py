"""UrlReader against real files in tmp_path and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from greenroom.core.errors import (
    InputError,
    NotAllowedError,
    NotFoundError,
    NotModifiedError,
    ServiceUnavailableError,
)
from greenroom.core.services.url_reader import UrlReader

DOC_BODY = b"kind: Component\n"
DOC_ETAG = '"v1"'


class _Handler(BaseHTTPRequestHandler):
    """Routes used by the tests; `server.other_origin` is the same server under another host name."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        other_origin = self.server.other_origin  # type: ignore[attr-defined]
        path = self.path
        if path == "/docs/missing":
            self._send(404, b"not found")
        elif path.startswith("/docs/"):
            if self.headers.get("If-None-Match") == DOC_ETAG:
                self._send(304, headers={"ETag": DOC_ETAG, "Content-Length": "0"})
                return
            self._send(200, DOC_BODY, {"ETag": DOC_ETAG, "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"})
        elif path == "/private":
            self._send(200, b"private")
        elif path == "/auth":
            self._send(200, (self.headers.get("Authorization") or "").encode())
        elif path == "/redirect-inside":
            self._send(302, headers={"Location": "/docs/target.yaml"})
        elif path == "/redirect-outside":
            self._send(302, headers={"Location": f"{other_origin}/docs/x.yaml"})
        elif path == "/redirect-to-auth":
            self._send(302, headers={"Location": f"{other_origin}/auth"})
        elif path == "/redirect-loop":
            self._send(302, headers={"Location": "/redirect-loop"})
        elif path == "/big-declared":
            self._send(200, b"x" * 2048)
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"y" * 2048)
        elif path == "/forbidden":
            self._send(403, b"no")
        elif path == "/broken":
            self._send(500, b"oops")
        elif path == "/teapot":
            self._send(418, b"teapot")
        else:
            self._send(404, b"not found")


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = server.server_address[1]
    server.other_origin = f"http://localhost:{port}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "catalog" / "team-a").mkdir(parents=True)
    (root / "catalog" / "catalog-info.yaml").write_text("a: 1\n")
    (root / "catalog" / "team-a" / "catalog-info.yaml").write_text("b: 2\n")
    (root / "catalog" / "team-a" / "other.yaml").write_text("c: 3\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text("secret: yes\n")
    return root


@pytest.fixture
def reader(root: Path, server_port: int) -> Iterator[UrlReader]:
    url_reader = UrlReader(
        {
            "roots": [str(root)],
            "allow": [
                {"host": f"127.0.0.1:{server_port}", "paths": ["/docs/", "/redirect", "/big", "/auth"]}
            ],
            "maxBytes": 1024,
            "timeout": 5,
        }
    )
    yield url_reader
    url_reader.close()


# --------------------------------------------------------------------------- files


def test_read_file_inside_root(reader: UrlReader, root: Path) -> None:
    target = root / "catalog" / "catalog-info.yaml"
    response = reader.read_url(str(target))
    assert response.data == b"a: 1\n"
    assert response.etag == hashlib.sha256(b"a: 1\n").hexdigest()
    assert response.last_modified is not None and response.last_modified.tzinfo is not None
    assert response.url == str(target)
    assert reader.read_url(target.as_uri()).data == b"a: 1\n"
    assert reader.read_url(target.as_uri()).url == target.as_uri()


def test_dotdot_escape_is_refused_with_helpful_message(reader: UrlReader, root: Path) -> None:
    escape = f"{root}/catalog/../../outside/secret.yaml"
    with pytest.raises(NotAllowedError) as caught:
        reader.read_url(escape)
    message = str(caught.value)
    assert escape in message
    assert str(root) in message
    assert "backend.reading.roots" in message
    with pytest.raises(NotAllowedError):
        reader.read_url("file://" + escape)


def test_symlink_pointing_outside_is_refused(reader: UrlReader, root: Path, tmp_path: Path) -> None:
    link = root / "catalog" / "sneaky.yaml"
    link.symlink_to(tmp_path / "outside" / "secret.yaml")
    with pytest.raises(NotAllowedError, match="outside the reading roots"):
        reader.read_url(str(link))
    directory_link = root / "linked-dir"
    directory_link.symlink_to(tmp_path / "outside")
    with pytest.raises(NotAllowedError):
        reader.read_url(str(directory_link / "secret.yaml"))


def test_symlink_inside_pointing_inside_is_allowed(reader: UrlReader, root: Path) -> None:
    link = root / "alias.yaml"
    link.symlink_to(root / "catalog" / "catalog-info.yaml")
    assert reader.read_url(str(link)).data == b"a: 1\n"


def test_root_given_through_a_symlink_is_resolved(root: Path, tmp_path: Path) -> None:
    linked_root = tmp_path / "root-link"
    linked_root.symlink_to(root)
    with UrlReader({"roots": [str(linked_root)]}) as url_reader:
        assert url_reader.read_url(str(root / "catalog" / "catalog-info.yaml")).data == b"a: 1\n"


def test_file_not_found(reader: UrlReader, root: Path) -> None:
    missing = str(root / "catalog" / "missing.yaml")
    with pytest.raises(NotFoundError, match=re.escape(missing)):
        reader.read_url(missing)


def test_missing_file_outside_roots_is_not_allowed_not_not_found(reader: UrlReader, tmp_path: Path) -> None:
    with pytest.raises(NotAllowedError):
        reader.read_url(str(tmp_path / "outside" / "nope.yaml"))


def test_directory_is_input_error(reader: UrlReader, root: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        reader.read_url(str(root / "catalog"))


def test_too_big_sparse_file_is_refused_quickly(reader: UrlReader, root: Path) -> None:
    big = root / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(InputError, match="1024 bytes") as caught:
        reader.read_url(str(big))
    assert "backend.reading.maxBytes" in str(caught.value)


def test_file_at_the_limit_is_read(reader: UrlReader, root: Path) -> None:
    exact = root / "exact.bin"
    exact.write_bytes(b"z" * 1024)
    assert len(reader.read_url(str(exact)).data) == 1024


def test_file_etag_not_modified(reader: UrlReader, root: Path) -> None:
    target = str(root / "catalog" / "catalog-info.yaml")
    etag = reader.read_url(target).etag
    with pytest.raises(NotModifiedError):
        reader.read_url(target, etag=etag)
    (root / "catalog" / "catalog-info.yaml").write_text("a: 2\n")
    assert reader.read_url(target, etag=etag).data == b"a: 2\n"


def test_no_roots_configured_refuses_files(root: Path) -> None:
    with UrlReader({}) as url_reader, pytest.raises(NotAllowedError, match="none configured"):
        url_reader.read_url(str(root / "catalog" / "catalog-info.yaml"))


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "ftp://example.com/x.yaml",
        "data:text/plain,hello",
        "gopher://example.com/",
        "catalog-info.yaml",
        "./catalog-info.yaml",
        "//example.com/x.yaml",
        "",
        "file://otherhost/etc/passwd",
        "https://user:pass@example.com/x",
    ],
)
def test_unsupported_targets_are_input_errors(reader: UrlReader, target: str) -> None:
    with pytest.raises(InputError):
        reader.read_url(target)
    with pytest.raises(InputError):
        reader.check_allowed(target)


def test_check_allowed_does_not_read(reader: UrlReader, root: Path, tmp_path: Path, server_port: int) -> None:
    reader.check_allowed(str(root / "catalog" / "not-yet-there.yaml"))
    reader.check_allowed(f"http://127.0.0.1:{server_port}/docs/anything")
    with pytest.raises(NotAllowedError):
        reader.check_allowed(str(tmp_path / "outside" / "secret.yaml"))
    with pytest.raises(NotAllowedError):
        reader.check_allowed("https://evil.example.com/x")


# --------------------------------------------------------------------------- http


def test_host_not_allowed(reader: UrlReader) -> None:
    with pytest.raises(NotAllowedError) as caught:
        reader.read_url("https://evil.example.com/catalog-info.yaml")
    assert "evil.example.com" in str(caught.value)
    assert "backend.reading.allow" in str(caught.value)


def test_allowed_host_with_path_prefix(reader: UrlReader, server_port: int) -> None:
    response = reader.read_url(f"http://127.0.0.1:{server_port}/docs/catalog-info.yaml")
    assert response.data == DOC_BODY
    assert response.etag == DOC_ETAG
    assert response.last_modified is not None and response.last_modified.year == 2015
    with pytest.raises(NotAllowedError, match="not for this path"):
        reader.read_url(f"http://127.0.0.1:{server_port}/private")
    with pytest.raises(NotAllowedError):
        reader.read_url(f"http://127.0.0.1:{server_port}/docs/../private")
    with pytest.raises(NotAllowedError):
        reader.read_url(f"http://127.0.0.1:{server_port}/docs/%2e%2e/private")


def test_port_must_match(reader: UrlReader, server_port: int) -> None:
    with pytest.raises(NotAllowedError):
        reader.check_allowed("http://127.0.0.1/docs/x")
    with pytest.raises(NotAllowedError):
        reader.check_allowed(f"http://127.0.0.1:{server_port + 1}/docs/x")


def test_wildcard_host_rule() -> None:
    with UrlReader({"allow": [{"host": "*.example.com"}]}) as url_reader:
        url_reader.check_allowed("https://docs.example.com/x")
        url_reader.check_allowed("https://a.b.example.com/x")
        for refused in (
            "https://example.com/x",
            "https://badexample.com/x",
            "https://docs.example.com:8443/x",
        ):
            with pytest.raises(NotAllowedError):
                url_reader.check_allowed(refused)


def test_redirect_to_allowed_location_is_followed(reader: UrlReader, server_port: int) -> None:
    response = reader.read_url(f"http://127.0.0.1:{server_port}/redirect-inside")
    assert response.data == DOC_BODY
    assert response.url == f"http://127.0.0.1:{server_port}/docs/target.yaml"


def test_redirect_to_disallowed_host_is_refused(reader: UrlReader, server_port: int) -> None:
    with pytest.raises(NotAllowedError, match="localhost"):
        reader.read_url(f"http://127.0.0.1:{server_port}/redirect-outside")


def test_redirect_loop_stops(reader: UrlReader, server_port: int) -> None:
    with pytest.raises(InputError, match="redirects"):
        reader.read_url(f"http://127.0.0.1:{server_port}/redirect-loop")


def test_http_404_is_not_found(reader: UrlReader, server_port: int) -> None:
    with pytest.raises(NotFoundError, match="404"):
        reader.read_url(f"http://127.0.0.1:{server_port}/docs/missing")


def test_http_errors_carry_status(server_port: int) -> None:
    with UrlReader({"allow": [{"host": f"127.0.0.1:{server_port}"}]}) as url_reader:
        with pytest.raises(NotAllowedError, match="403"):
            url_reader.read_url(f"http://127.0.0.1:{server_port}/forbidden")
        with pytest.raises(ServiceUnavailableError, match="500"):
            url_reader.read_url(f"http://127.0.0.1:{server_port}/broken")
        with pytest.raises(InputError, match="418"):
            url_reader.read_url(f"http://127.0.0.1:{server_port}/teapot")


def test_connection_refused_is_service_unavailable(tmp_path: Path) -> None:
    with (
        UrlReader({"allow": [{"host": "127.0.0.1:1"}]}) as url_reader,
        pytest.raises(ServiceUnavailableError),
    ):
        url_reader.read_url("http://127.0.0.1:1/x")


def test_http_etag_not_modified(reader: UrlReader, server_port: int) -> None:
    url = f"http://127.0.0.1:{server_port}/docs/catalog-info.yaml"
    etag = reader.read_url(url).etag
    with pytest.raises(NotModifiedError):
        reader.read_url(url, etag=etag)
    with pytest.raises(NotModifiedError):
        reader.read_url(url, etag="v1")


def test_http_body_limit(reader: UrlReader, server_port: int) -> None:
    with pytest.raises(InputError, match="2048 bytes"):
        reader.read_url(f"http://127.0.0.1:{server_port}/big-declared")
    with pytest.raises(InputError, match="read limit of 1024 bytes"):
        reader.read_url(f"http://127.0.0.1:{server_port}/big-chunked")


def test_integration_token_sent_only_to_its_host(server_port: int) -> None:
    integrations = {"github": [{"host": f"127.0.0.1:{server_port}", "token": "ghp_secret"}]}
    reading = {"allow": [{"host": f"localhost:{server_port}"}]}
    with UrlReader(reading, integrations) as url_reader:
        assert url_reader.read_url(f"http://127.0.0.1:{server_port}/auth").data == b"token ghp_secret"
        redirected = url_reader.read_url(f"http://127.0.0.1:{server_port}/redirect-to-auth")
        assert redirected.url == f"http://localhost:{server_port}/auth"
        assert redirected.data == b"", "the token must not follow a redirect to another host"


def test_gitlab_integration_uses_bearer(server_port: int) -> None:
    integrations = {"gitlab": [{"host": f"127.0.0.1:{server_port}", "token": "glpat"}]}
    with UrlReader({}, integrations) as url_reader:
        assert url_reader.read_url(f"http://127.0.0.1:{server_port}/auth").data == b"Bearer glpat"


def test_github_dot_com_integration_allows_raw_hosts() -> None:
    with UrlReader({}, {"github": [{"host": "github.com"}]}) as url_reader:
        url_reader.check_allowed("https://github.com/o/r/blob/main/catalog-info.yaml")
        url_reader.check_allowed("https://raw.githubusercontent.com/o/r/main/catalog-info.yaml")


def test_bad_config_is_input_error() -> None:
    with pytest.raises(InputError, match="maxBytes"):
        UrlReader({"maxBytes": -1})
    with pytest.raises(InputError, match="allow"):
        UrlReader({"allow": [{"host": "example.com/path"}]})
    with pytest.raises(InputError, match="roots"):
        UrlReader({"roots": "/not-a-list"})


# --------------------------------------------------------------------------- search / resolve / tree


def test_search_glob(reader: UrlReader, root: Path) -> None:
    found = reader.search(f"{root}/catalog/**/catalog-info.yaml")
    assert found == [
        f"{root}/catalog/catalog-info.yaml",
        f"{root}/catalog/team-a/catalog-info.yaml",
    ]
    assert reader.search(f"{root}/catalog/*/*.yaml") == [
        f"{root}/catalog/team-a/catalog-info.yaml",
        f"{root}/catalog/team-a/other.yaml",
    ]
    assert reader.search(f"file://{root}/catalog/*.yaml") == [f"file://{root}/catalog/catalog-info.yaml"]
    assert reader.search(f"{root}/catalog/nothing-*.yaml") == []


def test_search_stays_inside_roots(reader: UrlReader, root: Path, tmp_path: Path) -> None:
    (root / "catalog" / "leak.yaml").symlink_to(tmp_path / "outside" / "secret.yaml")
    (root / "catalog" / "leak-dir").symlink_to(tmp_path / "outside")
    found = reader.search(f"{root}/**/*.yaml")
    assert all(os.path.realpath(path).startswith(str(root)) for path in found)
    assert not any("leak" in path for path in found)
    with pytest.raises(NotAllowedError):
        reader.search(f"{root}/../outside/*.yaml")


def test_search_url_is_literal(reader: UrlReader, server_port: int) -> None:
    url = f"http://127.0.0.1:{server_port}/docs/catalog-info.yaml"
    assert reader.search(url) == [url]
    with pytest.raises(InputError, match="glob"):
        reader.search(f"http://127.0.0.1:{server_port}/docs/*.yaml")
    with pytest.raises(NotAllowedError):
        reader.search("https://evil.example.com/catalog-info.yaml")


def test_resolve_url(reader: UrlReader, root: Path) -> None:
    base = f"{root}/catalog/catalog-info.yaml"
    assert reader.resolve_url(base, "./team-a/other.yaml") == f"{root}/catalog/team-a/other.yaml"
    assert reader.resolve_url(base, "../x.yaml") == f"{root}/x.yaml"
    assert reader.resolve_url(f"file://{base}", "b.yaml") == f"file://{root}/catalog/b.yaml"
    assert reader.resolve_url("https://example.com/a/b/c.yaml", "../d.yaml") == "https://example.com/a/d.yaml"
    assert reader.resolve_url("https://example.com/a/c.yaml", "https://other.com/x") == "https://other.com/x"
    with pytest.raises(InputError):
        reader.resolve_url(base, "javascript:alert(1)")


def test_resolve_url_leading_slash_is_repository_root() -> None:
    with UrlReader(
        {}, {"github": [{"host": "github.com"}], "gitlab": [{"host": "gitlab.com"}]}
    ) as url_reader:
        github_base = "https://github.com/o/r/blob/main/services/a/catalog-info.yaml"
        assert (
            url_reader.resolve_url(github_base, "/docs/api.yaml")
            == "https://github.com/o/r/blob/main/docs/api.yaml"
        )
        gitlab_base = "https://gitlab.com/g/sub/r/-/blob/main/a/catalog-info.yaml"
        assert (
            url_reader.resolve_url(gitlab_base, "/b.yaml") == "https://gitlab.com/g/sub/r/-/blob/main/b.yaml"
        )


def test_is_same_tree(root: Path, tmp_path: Path) -> None:
    other_root = tmp_path / "other-root"
    other_root.mkdir()
    integrations = {"github": [{"host": "github.com"}], "gitlab": [{"host": "gitlab.com"}]}
    with UrlReader({"roots": [str(root), str(other_root)]}, integrations) as url_reader:
        assert url_reader.is_same_tree(f"{root}/a.yaml", f"{root}/catalog/b.yaml")
        assert not url_reader.is_same_tree(f"{root}/a.yaml", f"{other_root}/b.yaml")
        assert not url_reader.is_same_tree(f"{root}/a.yaml", f"{root}/../outside/secret.yaml")
        assert not url_reader.is_same_tree(f"{root}/a.yaml", "https://github.com/o/r/blob/main/a.yaml")
        github = "https://github.com/o/r/blob/main/a.yaml"
        assert url_reader.is_same_tree(github, "https://github.com/o/r/blob/main/docs/b.yaml")
        assert url_reader.is_same_tree(github, "https://github.com/O/R/tree/dev/c.yaml")
        assert url_reader.is_same_tree(github, "https://raw.githubusercontent.com/o/r/main/a.yaml")
        assert not url_reader.is_same_tree(github, "https://github.com/o/other/blob/main/a.yaml")
        assert not url_reader.is_same_tree(github, "https://github.com/o/r/blob/main/../../../x/y/blob/a")
        gitlab = "https://gitlab.com/g/sub/r/-/blob/main/a.yaml"
        assert url_reader.is_same_tree(gitlab, "https://gitlab.com/g/sub/r/-/raw/main/b.yaml")
        assert not url_reader.is_same_tree(gitlab, "https://gitlab.com/g/sub/other/-/blob/main/b.yaml")
        assert url_reader.is_same_tree("https://docs.example.com/a", "https://docs.example.com/b/c")
        assert not url_reader.is_same_tree("https://docs.example.com/a", "https://api.example.com/a")
        assert not url_reader.is_same_tree("ftp://x/a", "ftp://x/b")
