"""Structured logs: JSON lines with plugin and request ids; secrets never reach the log."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import APIRouter

from greenroom.core import core_services as cs
from greenroom.core.config import Config
from greenroom.core.plugin_api import create_plugin
from greenroom.core.services.logging import create_root_logger, request_id_var
from greenroom.core.testing import start_test_backend


def _json_logger(capsys: pytest.CaptureFixture[str]) -> logging.Logger:
    return create_root_logger(Config({"backend": {"logging": {"format": "json", "level": "debug"}}}))


def test_json_lines_carry_plugin_and_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = _json_logger(capsys)
    token = request_id_var.set("req-7")
    try:
        root.getChild("catalog").info("Processed %d entities", 3, extra={"batch": 1})
    finally:
        request_id_var.reset(token)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "Processed 3 entities"
    assert line["plugin"] == "catalog" and line["requestId"] == "req-7" and line["batch"] == 1
    assert line["level"] == "info" and line["timestamp"].endswith("Z")


def test_pretty_format_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    root = create_root_logger(Config({"backend": {"logging": {"format": "pretty"}}}))
    root.getChild("scaffolder").warning("Slow step")
    err = capsys.readouterr().err
    assert "warning" in err and "scaffolder: Slow step" in err


def test_secret_config_values_are_redacted_from_logs(capsys: pytest.CaptureFixture[str]) -> None:
    def register(env):
        def init(logger: logging.Logger, http_router) -> None:
            router = APIRouter()

            @router.get("/leak")
            def leak() -> dict:
                logger.warning("connecting with token ghp_topsecret_123456")
                return {}

            http_router.use(router)

        env.register_init(deps={"logger": cs.logger, "http_router": cs.http_router}, init=init)

    config = {
        "backend": {"logging": {"format": "json", "level": "info"}},
        "integrations": {"github": [{"host": "github.com", "token": "ghp_topsecret_123456"}]},
    }
    with start_test_backend([create_plugin("leaky", register)], config=config) as backend:
        backend.client.get("/api/leaky/leak", headers={"x-request-id": "r-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    leak = next(line for line in lines if "connecting" in line["message"])
    assert "ghp_topsecret_123456" not in leak["message"] and "<secret>" in leak["message"]
    assert leak["plugin"] == "leaky" and leak["requestId"] == "r-1"
