"""The `greenroom` command as scripts use it: output, exit codes, --help everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from greenroom.cli.main import EXIT_CONFIG, EXIT_PROBLEMS, app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "app-config.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            backend:
              baseUrl: http://127.0.0.1:7007
              dataDir: {tmp_path / "data"}
              database:
                client: sqlite
            integrations:
              github:
                - host: github.com
                  token: ghp_supersecret_value
            """
        )
        + extra
    )
    return path


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["serve"],
        ["worker"],
        ["config"],
        ["config", "check"],
        ["config", "print"],
        ["config", "schema"],
        ["db"],
        ["db", "upgrade"],
        ["db", "current"],
        ["catalog"],
        ["catalog", "validate"],
        ["version"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0 and result.output.startswith("greenroom ")


def test_config_check_ok_and_invalid(tmp_path: Path) -> None:
    good = _config(tmp_path)
    result = runner.invoke(app, ["config", "check", "--config", str(good)])
    assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("backend:\n  listen:\n    port: seventy\n")
    result = runner.invoke(app, ["config", "check", "--config", str(good), "--config", str(bad)])
    assert result.exit_code == EXIT_PROBLEMS
    assert "bad.yaml" in result.output and "backend.listen.port" in result.output


def test_config_print_masks_secrets_unless_asked(tmp_path: Path) -> None:
    path = _config(tmp_path)
    masked = runner.invoke(app, ["config", "print", "--config", str(path)])
    assert masked.exit_code == 0
    assert "ghp_supersecret_value" not in masked.output and "<secret>" in masked.output
    shown = runner.invoke(
        app, ["config", "print", "--config", str(path), "--with-secrets", "--format", "json"]
    )
    assert json.loads(shown.output)["integrations"]["github"][0]["token"] == "ghp_supersecret_value"


def test_config_schema_covers_core_and_plugins(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "schema", "--config", str(_config(tmp_path))])
    schema = json.loads(result.output)
    assert {"backend", "catalog", "app"} <= set(schema["properties"])


def test_unloadable_config_exits_3(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("backend: [unclosed\n")
    result = runner.invoke(app, ["config", "check", "--config", str(broken)])
    assert result.exit_code == EXIT_CONFIG
    assert "broken.yaml" in result.output


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    path = _config(tmp_path)
    upgraded = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert upgraded.exit_code == 0, upgraded.output
    assert "catalog: applied" in upgraded.output
    current = runner.invoke(app, ["db", "current", "--config", str(path)])
    assert current.exit_code == 0, current.output
    assert "catalog: current=" in current.output and "up to date" in current.output
    again = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert "catalog: up to date" in again.output


def test_catalog_validate_prints_file_line_field_and_exits_1(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: fine}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )
    assert runner.invoke(app, ["catalog", "validate", str(good)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: Bad Name!\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )
    result = runner.invoke(app, ["catalog", "validate", str(good), str(bad)])
    assert result.exit_code == EXIT_PROBLEMS
    assert f"{bad}:4: metadata.name:" in result.output


def test_catalog_validate_accepts_the_demo_organisation_except_its_deliberate_mistakes() -> None:
    demo = REPO / "examples" / "demo-org"
    good_files = [p for p in demo.rglob("*.yaml") if "mistakes" not in p.parts and p.name != "openapi.yaml"]
    catalog_files = [p for p in good_files if "apiVersion:" in p.read_text()]
    result = runner.invoke(app, ["catalog", "validate", *map(str, catalog_files)])
    assert result.exit_code == 0, result.output
    mistakes = runner.invoke(app, ["catalog", "validate", str(demo / "mistakes")])
    assert mistakes.exit_code == EXIT_PROBLEMS
    assert "Bad Name!" in mistakes.output


def test_serve_with_invalid_config_exits_4_naming_the_key(tmp_path: Path) -> None:
    path = _config(tmp_path, "catalog:\n  orphanStrategy: sometimes\n")
    process = subprocess.run(
        [sys.executable, "-m", "greenroom.cli.main", "serve", "--config", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.returncode == 4, process.stdout + process.stderr
    assert "catalog.orphanStrategy" in process.stderr


def test_demo_config_is_valid() -> None:
    config = yaml.safe_load((REPO / "app-config.yaml").read_text())
    assert config["backend"]["listen"]["port"] == 7007
    result = runner.invoke(app, ["config", "check", "--config", str(REPO / "app-config.yaml")])
    assert result.exit_code == 0, result.output


def test_serve_on_a_taken_port_exits_4_promptly(tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "greenroom.cli.main",
                "serve",
                "--config",
                str(_config(tmp_path)),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert process.returncode == 4, process.stderr
    assert "address already in use" in process.stderr.lower() or "could not listen" in process.stderr.lower()
    assert time.monotonic() - started < 30
