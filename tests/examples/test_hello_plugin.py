"""A third-party plugin, pip-installed into its own folder, is discovered through its entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_pip_installed_plugin_adds_a_page_and_an_api_route(tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(REPO / "examples" / "hello-plugin"),
        ],
        check=True,
        timeout=300,
    )
    assert list(site.glob("greenroom_hello-*.dist-info/entry_points.txt"))
    port = free_port()
    config = tmp_path / "app-config.yaml"
    config.write_text(
        f"backend:\n  baseUrl: http://127.0.0.1:{port}\n  listen: {{port: {port}}}\n  dataDir: {tmp_path / 'data'}\n"
        "hello:\n  greeting: Howdy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    process = subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli.main", "serve", "--config", str(config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(base + "/.backstage/health/v1/readiness").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        greeting = httpx.get(base + "/api/hello/greeting")
        assert greeting.json() == {"message": "Howdy, user:default/guest!"}
        page = httpx.get(base + "/hello", headers={"accept": "text/html"})
        assert page.status_code == 200 and "Howdy from a plugin" in page.text
        home = httpx.get(base + "/")
        assert 'href="/hello"' in home.text  # its nav item
        assert "greenroom_hello_greetings_total 1.0" in httpx.get(base + "/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=15)
