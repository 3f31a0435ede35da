"""The real npm `@backstage/catalog-client` against a real `greenroom serve` process.

Two node scripts drive the server:

- `client_check.mjs`, the shared conformance script (from `../shared/compat`, beside the repo),
  which registers a generated catalog and checks what the client gets back;
- `node/catalog_client_extra.mjs`, Greenroom's own checks of the client methods the shared
  script does not cover (offset and `after` paging, locations by ref, updates, analysis,
  removal by uid, relation facets, validation).

The client is installed with npm into `build/compat-node/` (git-ignored) the first time. Without
node/npm (or without `../shared/compat`) the tests are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from filelock import FileLock

pytestmark = [pytest.mark.node, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "compat"
CACHE = REPO / "build" / "compat-node"
EXTRA_SCRIPT = Path(__file__).parent / "node" / "catalog_client_extra.mjs"
CLIENT_PACKAGE = "@backstage/catalog-client"
IN_CI = os.environ.get("CI", "").lower() == "true"
ALL_KINDS = ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location", "Template"]
ENTITIES = 300
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$")


def _unavailable(message: str) -> None:
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it")
    pytest.skip(f"{message}; skipped outside CI")


@pytest.fixture(scope="session")
def node_client() -> Path:
    """The folder holding the node scripts next to a node_modules with the pinned client."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{' and '.join(missing)} not found on PATH (needed for the real {CLIENT_PACKAGE})")
    if not (SHARED / "client_check.mjs").is_file():
        _unavailable(f"the shared compat scripts are not at {SHARED}")
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(CACHE / ".install.lock"), timeout=600):
        for source in (SHARED / "package.json", SHARED / "client_check.mjs", EXTRA_SCRIPT):
            target = CACHE / source.name
            if not target.exists() or target.read_bytes() != source.read_bytes():
                shutil.copyfile(source, target)
        wanted = json.loads((CACHE / "package.json").read_text())["dependencies"][CLIENT_PACKAGE]
        installed = CACHE / "node_modules" / CLIENT_PACKAGE / "package.json"
        if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
            result = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"],
                cwd=CACHE,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert result.returncode == 0, f"npm install failed:\n{result.stdout}\n{result.stderr}"
        assert json.loads(installed.read_text())["version"] == wanted
    return CACHE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base_url: str
    catalog_dir: Path
    scratch_dir: Path
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, server: Server) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"greenroom serve exited with {process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{base_url}/.backstage/health/v1/readiness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    pytest.fail(f"greenroom serve did not become ready within 90 s:\n{server.log_tail()}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path, node_client: Path) -> Iterator[Server]:
    """A `greenroom serve` subprocess with an empty catalog that may read the generated one."""
    work = tmp_path / "compat"
    catalog_dir = work / "catalog"
    scratch_dir = work / "scratch"
    scratch_dir.mkdir(parents=True)
    generated = subprocess.run(
        [
            sys.executable,
            str(SHARED / "gen_catalog.py"),
            "--entities",
            str(ENTITIES),
            "--out",
            str(catalog_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr

    database: dict[str, Any]
    if request.param == "postgres":
        database = {
            "client": "pg",
            "connection": request.getfixturevalue("pg_url"),
            "prefix": request.getfixturevalue("pg_schema_prefix"),
        }
    else:
        database = {"client": "sqlite", "connection": {"directory": str(tmp_path / "data")}}
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    config = {
        "app": {"title": "Greenroom (npm client contract)", "baseUrl": base_url},
        "backend": {
            "baseUrl": base_url,
            "listen": {"host": "127.0.0.1", "port": port},
            "dataDir": str(tmp_path / "data"),
            "database": database,
            "logging": {"level": "warning"},
            "reading": {"roots": [str(catalog_dir.parent)], "allow": [{"host": "example.com"}]},
        },
        "catalog": {"rules": [{"allow": ALL_KINDS}]},
    }
    config_file = tmp_path / "app-config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    log = tmp_path / "server.log"
    srv = Server(base_url, catalog_dir, scratch_dir, log)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "greenroom.cli.main", "serve", "--config", str(config_file)],
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            _wait_ready(process, base_url, srv)
            yield srv
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _run_node(node_client: Path, script: str, server: Server, *args: str) -> tuple[int, int, str]:
    result = subprocess.run(
        ["node", script, "--base-url", server.base_url, "--catalog-dir", str(server.catalog_dir), *args],
        cwd=node_client,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    match = SUMMARY.match(lines[-1]) if lines else None
    assert match, (
        f"{script} did not end with 'N passed, M failed':\n{output}\n--- server log ---\n{server.log_tail()}"
    )
    return int(match.group(1)), int(match.group(2)), output


def _ingest(server: Server) -> None:
    """Register the generated catalog (unless it is) and wait until every entity is visible."""
    manifest = json.loads((server.catalog_dir / "manifest.json").read_text())
    target = str(server.catalog_dir / manifest["root"])
    api = f"{server.base_url}/api/catalog"
    response = httpx.post(f"{api}/locations", json={"type": "file", "target": target}, timeout=30)
    assert response.status_code in (201, 409), response.text
    params = [("filter", f"kind={kind}") for kind in manifest["counts"]] + [("limit", "1")]
    deadline = time.monotonic() + 300
    total = -1
    while time.monotonic() < deadline:
        total = httpx.get(f"{api}/entities/by-query", params=params, timeout=30).json()["totalItems"]
        if total >= manifest["entities"]:
            return
        time.sleep(0.5)
    pytest.fail(f"only {total} of {manifest['entities']} entities ingested:\n{server.log_tail()}")


def test_client_check_script(node_client: Path, server: Server) -> None:
    """The shared conformance script registers the catalog itself and must pass every check."""
    passed, failed, output = _run_node(
        node_client, "client_check.mjs", server, "--register", "--timeout", "300"
    )
    print(output)
    assert failed == 0 and passed > 0, f"{output}\n--- server log ---\n{server.log_tail()}"
    assert passed >= 20, output


def test_catalog_client_extra_script(node_client: Path, server: Server) -> None:
    _ingest(server)
    passed, failed, output = _run_node(
        node_client, EXTRA_SCRIPT.name, server, "--scratch-dir", str(server.scratch_dir)
    )
    print(output)
    assert failed == 0 and passed > 0, f"{output}\n--- server log ---\n{server.log_tail()}"
    assert passed >= 8, output
