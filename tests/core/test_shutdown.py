"""Graceful shutdown: an in-flight request finishes, background work stops, the process exits 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port, install_plugin_module, start, wait_ready, write_config

SLOW = """
import time
from fastapi import APIRouter
from greenroom.core.plugin_api import core_services, create_plugin


def register(env):
    def init(http_router, lifecycle, logger):
        router = APIRouter()

        @router.get("/slow")
        def slow():
            time.sleep(2)
            return {"finished": True}

        http_router.use(router)
        lifecycle.add_shutdown_hook(lambda: logger.info("slow plugin stopped"))

    env.register_init(
        deps={"http_router": core_services.http_router, "lifecycle": core_services.lifecycle, "logger": core_services.logger},
        init=init,
    )


plugin = create_plugin("slow", register)
"""


@pytest.mark.slow
def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    site = install_plugin_module(
        tmp_path / "site", "greenroom-slow", "greenroom_slow", SLOW, {"slow": "greenroom_slow:plugin"}
    )
    port = free_port()
    config = write_config(
        tmp_path / "app-config.yaml",
        f"""
        backend:
          baseUrl: http://127.0.0.1:{port}
          listen: {{port: {port}}}
          dataDir: {tmp_path / "data"}
          logging: {{format: json}}
        """,
    )
    log = tmp_path / "serve.log"
    process = start("serve", config, site=site, cwd=tmp_path, log=log)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base)
    result: dict[str, object] = {}

    def call() -> None:
        result["response"] = httpx.get(base + "/api/slow/slow", timeout=30)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.5)  # the request is now in flight
    process.send_signal(signal.SIGTERM)
    caller.join(timeout=30)
    assert process.wait(timeout=30) == 0
    response = result["response"]
    assert isinstance(response, httpx.Response) and response.json() == {"finished": True}
    assert "slow plugin stopped" in log.read_text()
