"""Docs drift guards: what the code offers must be documented, and the docs' links must resolve.

Each test walks the real objects (the typer app, the config models, the service and extension
point refs), so adding a command, key or extension point without documenting it fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from greenroom.cli.main import app as cli_app
from greenroom.core import core_services as core_services_module
from greenroom.core.core_services import core_services
from greenroom.core.plugin_api import ExtensionPoint, ServiceRef
from greenroom.plugins.catalog import client as catalog_client
from greenroom.plugins.catalog import extension_points as catalog_extension_points
from greenroom.plugins.catalog.ui import registry as catalog_ui_registry
from tests.docs.config_keys import all_config_keys

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ---------------------------------------------------------------- CLI


def _cli_commands(app: typer.Typer, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__.replace("_", "-") if command.callback else "")
        yield " ".join(("greenroom", *prefix, name))
    for group in app.registered_groups:
        assert group.name and group.typer_instance
        yield from _cli_commands(group.typer_instance, (*prefix, group.name))


def test_the_cli_walk_finds_the_commands() -> None:
    commands = set(_cli_commands(cli_app))
    assert {"greenroom serve", "greenroom config check", "greenroom catalog validate"} <= commands


@pytest.mark.parametrize("command", sorted(_cli_commands(cli_app)))
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`{command}" in _read(DOCS / "cli.md"), f"{command} is missing from docs/cli.md"


# ---------------------------------------------------------------- config keys


def test_the_config_walk_finds_the_keys() -> None:
    paths = {key.path for key in all_config_keys()}
    assert {"backend.database.client", "catalog.orphanStrategy", "catalog.providers.fileTree[].path"} <= paths


@pytest.mark.parametrize("path", sorted({key.path for key in all_config_keys()}))
def test_every_config_key_is_documented(path: str) -> None:
    assert f"`{path}`" in _read(DOCS / "configuration.md"), f"{path} is missing from docs/configuration.md"


# ---------------------------------------------------------------- services and extension points


def _core_service_refs() -> list[tuple[str, ServiceRef[object]]]:
    return [
        (name, value)
        for name, value in vars(core_services).items()
        if not name.startswith("_") and isinstance(value, ServiceRef)
    ]


def _catalog_extension_objects() -> list[tuple[str, ExtensionPoint[object] | ServiceRef[object]]]:
    found = []
    for module in (catalog_extension_points, catalog_ui_registry, catalog_client):
        for name, value in vars(module).items():
            if isinstance(value, ExtensionPoint | ServiceRef):
                found.append((name, value))
    return found


def test_the_walks_find_services_and_extension_points() -> None:
    assert len(_core_service_refs()) >= 20
    names = {name for name, _ in _catalog_extension_objects()}
    assert {"catalog_processing_extension_point", "catalog_model_extension_point"} <= names
    # every ref the core defines is reachable through the namespace plugins use
    module_refs = {v.id for v in vars(core_services_module).values() if isinstance(v, ServiceRef)}
    assert module_refs == {ref.id for _, ref in _core_service_refs()}


def _plugin_docs() -> str:
    return _read(DOCS / "writing-a-plugin.md") + _read(DOCS / "architecture.md")


@pytest.mark.parametrize("name", sorted({name for name, _ in _core_service_refs()}))
def test_every_core_service_is_documented(name: str) -> None:
    ref = getattr(core_services, name)
    text = _plugin_docs()
    assert f"core_services.{name}" in text, f"core_services.{name} is missing from the plugin docs"
    assert f"`{ref.id}`" in text, f"service id {ref.id} is missing from the plugin docs"


@pytest.mark.parametrize("name", sorted({name for name, _ in _catalog_extension_objects()}))
def test_every_catalog_extension_point_and_service_is_documented(name: str) -> None:
    value = dict(_catalog_extension_objects())[name]
    text = _plugin_docs()
    assert f"`{name}`" in text, f"{name} is missing from the plugin docs"
    assert f"`{value.id}`" in text, f"id {value.id} of {name} is missing from the plugin docs"


# ---------------------------------------------------------------- README and links


def test_readme_starts_with_the_two_commands() -> None:
    head = "\n".join(_read(REPO / "README.md").splitlines()[:15])
    assert "make demo" in head and "make test" in head


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _markdown_files() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]


def _relative_links(path: Path) -> Iterator[str]:
    text = _read(path)
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # links inside code blocks are examples
    for match in _LINK.finditer(text):
        target = match.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue
        yield target


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_points_at_an_existing_file(path: Path) -> None:
    broken = []
    for target in _relative_links(path):
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(REPO)} links to missing files: {broken}"
