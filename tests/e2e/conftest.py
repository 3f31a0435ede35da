"""End-to-end fixtures: a live `greenroom serve` with the demo organisation, and a real Chromium.

The browser is Debian's `chromium` driven by Playwright with `executable_path` (no browser is
ever downloaded). Outside CI the tests skip when Chromium is missing; in CI they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GREENROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_catalog(base_url: str, timeout: float = 120.0) -> None:
    """Wait for readiness, then until processing and stitching queues are empty."""
    deadline = time.time() + timeout
    with httpx.Client(base_url=base_url, timeout=5) as client:
        while time.time() < deadline:
            try:
                if client.get("/.backstage/health/v1/readiness").status_code == 200:
                    status = client.get("/api/catalog/status").json()
                    queues = status["queues"]
                    if status["entities"] > 0 and queues["processing"] == 0 and queues["stitching"] == 0:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
    raise TimeoutError(f"Greenroom at {base_url} did not settle within {timeout}s")


class LiveServer:
    def __init__(self, base_url: str, process: subprocess.Popen[bytes], workdir: Path, log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.workdir = workdir
        self.log = log

    def url(self, path: str) -> str:
        return self.base_url + path


def start_demo_server(workdir: Path, extra_config: dict | None = None) -> LiveServer:
    """Serve the demo organisation from the repository with a fresh SQLite data folder."""
    port = free_port()
    config = yaml.safe_load((REPO / "app-config.yaml").read_text())
    config["backend"].update(
        {
            "baseUrl": f"http://127.0.0.1:{port}",
            "listen": {"host": "127.0.0.1", "port": port},
            "dataDir": str(workdir / "data"),
            "logging": {"level": "info", "format": "json"},
        }
    )
    config["app"]["baseUrl"] = f"http://127.0.0.1:{port}"
    for key, value in (extra_config or {}).items():
        config.setdefault(key, {}).update(value)
    config_path = workdir / "app-config.e2e.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log = workdir / "server.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli.main", "serve", "--config", str(config_path)],
        cwd=REPO,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", process, workdir, log)
    try:
        wait_for_catalog(server.base_url)
    except TimeoutError:
        process.terminate()
        raise
    return server


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("e2e-server")
    server = start_demo_server(workdir)
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI must install Debian's chromium")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium); skipped outside CI")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()
