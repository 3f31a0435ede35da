"""Live sources: saved files show up in seconds; a module adds a custom kind through the extension point."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from greenroom.core.plugin_api import create_module
from greenroom.core.testing import start_test_backend
from greenroom.plugins.catalog.extension_points import (
    catalog_model_extension_point,
    catalog_processing_extension_point,
)
from greenroom.plugins.catalog.model import RelationRule
from greenroom.plugins.catalog.plugin import plugin as catalog_plugin
from greenroom.plugins.catalog.processing.types import DeferredEntity, DeltaMutation, FullMutation
from greenroom.plugins.user_settings.plugin import plugin as user_settings_plugin

from .conftest import ALL_KINDS, CatalogHarness, component


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_saved_change_is_visible_without_waiting_for_the_interval(catalog: CatalogHarness) -> None:
    path = catalog.write("watched/catalog-info.yaml", component("watched", description="before"))
    catalog.register(path)
    catalog.settle()
    time.sleep(0.5)  # let the watcher pick up the new folder
    path.write_text(component("watched", description="after"))

    def updated() -> bool:
        entity = catalog.entity("component:default/watched")
        return bool(entity and entity["metadata"].get("description") == "after")

    # the processing interval is 10 minutes in this fixture: only the file watcher can do this
    assert wait_until(updated), "the edited description never appeared"


@pytest.fixture
def file_tree(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[CatalogHarness]:
    root = tmp_path / "repos"
    root.mkdir()
    config = {
        "backend": {"reading": {"roots": [str(root)]}},
        "catalog": {
            "rules": [{"allow": ALL_KINDS}],
            "processingInterval": {"minutes": 10},
            "providers": {"fileTree": [{"path": str(root)}]},
        },
    }
    with start_test_backend(
        [catalog_plugin, user_settings_plugin], config=config, data_dir=tmp_path / "data"
    ) as backend:
        yield CatalogHarness(backend, root)


def test_file_tree_provider_discovers_new_and_removed_files(file_tree: CatalogHarness) -> None:
    first = file_tree.write("service-a/catalog-info.yaml", component("service-a"))
    assert first.exists()
    file_tree.service.file_tree_providers[0].rescan()  # the initial scan happened before the file existed
    file_tree.settle()
    assert file_tree.entity("component:default/service-a") is not None
    second = file_tree.write("service-b/catalog-info.yaml", component("service-b"))
    assert wait_until(lambda: file_tree.entity("component:default/service-b") is not None), (
        "new file not discovered"
    )
    second.unlink()
    assert wait_until(lambda: file_tree.entity("component:default/service-b") is None), (
        "deleted file not removed"
    )
    assert file_tree.entity("component:default/service-a") is not None


def _register_widget_kind(env) -> None:
    def init(model) -> None:
        model.add_kind(
            "Widget",
            api_versions=["acme.io/v1"],
            schema={
                "type": "object",
                "required": ["spec"],
                "properties": {
                    "spec": {
                        "type": "object",
                        "required": ["owner", "size"],
                        "properties": {"owner": {"type": "string"}, "size": {"enum": ["small", "large"]}},
                    }
                },
            },
            relation_rules=[RelationRule("Widget", "spec.owner", "Group", "ownedBy", "ownerOf")],
        )

    env.register_init(deps={"model": catalog_model_extension_point}, init=init)


def test_a_module_adds_a_custom_kind_with_schema_and_relations(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    module = create_module("catalog", "widgets", _register_widget_kind)
    config = {
        "backend": {"reading": {"roots": [str(root)]}},
        "catalog": {"rules": [{"allow": [*ALL_KINDS, "Widget"]}]},
    }
    with start_test_backend(
        [catalog_plugin, user_settings_plugin, module], config=config, data_dir=tmp_path / "d"
    ) as backend:
        harness = CatalogHarness(backend, root)
        path = harness.write(
            "widgets.yaml",
            """
            apiVersion: acme.io/v1
            kind: Widget
            metadata: {name: sprocket}
            spec: {owner: team-a, size: small}
            ---
            apiVersion: acme.io/v1
            kind: Widget
            metadata: {name: oversized}
            spec: {owner: team-a, size: enormous}
            """,
        )
        harness.register(path)
        harness.settle()
        widget = harness.entity("widget:default/sprocket")
        assert widget is not None
        assert {"type": "ownedBy", "targetRef": "group:default/team-a"} in widget["relations"]
        assert harness.entity("widget:default/oversized") is None
        errors = harness.client.get("/api/catalog/processing-errors").json()["items"]
        oversized = next(e for e in errors if e["entityRef"] == "widget:default/oversized")
        assert "spec.size" in str(oversized["errors"])


def test_rules_of_one_static_location_do_not_leak_to_another(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "org").mkdir(parents=True)
    (root / "apps").mkdir()
    group = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {{name: {name}}}
spec: {{type: team, children: []}}
"""
    (root / "org" / "catalog-info.yaml").write_text(group.format(name="allowed-team"))
    (root / "apps" / "catalog-info.yaml").write_text(
        component("app") + "---" + group.format(name="smuggled-team")
    )
    config = {
        "backend": {"reading": {"roots": [str(root)]}},
        "catalog": {
            "rules": [{"allow": ["Component", "Location"]}],
            "locations": [
                {
                    "type": "file",
                    "target": str(root / "org" / "catalog-info.yaml"),
                    "rules": [{"allow": ["Group"]}],
                },
                {"type": "file", "target": str(root / "apps" / "catalog-info.yaml")},
            ],
        },
    }
    with start_test_backend(
        [catalog_plugin, user_settings_plugin], config=config, data_dir=tmp_path / "d"
    ) as backend:
        harness = CatalogHarness(backend, root)
        harness.settle()
        assert harness.entity("group:default/allowed-team") is not None
        assert harness.entity("component:default/app") is not None
        assert (
            harness.entity("group:default/smuggled-team") is None
        )  # the org rules stay with the org location


class _TeamDirectory:
    """A provider like an LDAP sync: owns a bucket of Group entities and edits it over time."""

    def __init__(self) -> None:
        self.connection = None

    def get_provider_name(self) -> str:
        return "team-directory"

    def connect(self, connection) -> None:
        self.connection = connection
        connection.apply_mutation(
            FullMutation([DeferredEntity(_group("red")), DeferredEntity(_group("blue"))])
        )


def _group(name: str) -> dict:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Group",
        "metadata": {
            "name": name,
            "annotations": {
                "backstage.io/managed-by-location": "url:https://example.com/directory",
                "backstage.io/managed-by-origin-location": "url:https://example.com/directory",
            },
        },
        "spec": {"type": "team", "children": []},
    }


def test_a_provider_module_applies_full_and_delta_mutations(tmp_path: Path) -> None:
    directory = _TeamDirectory()
    module = create_module(
        "catalog",
        "team-directory",
        lambda env: env.register_init(
            deps={"processing": catalog_processing_extension_point},
            init=lambda processing: processing.add_entity_provider(directory),
        ),
    )
    config = {"catalog": {"rules": [{"allow": ALL_KINDS}]}}
    with start_test_backend(
        [catalog_plugin, user_settings_plugin, module], config=config, data_dir=tmp_path
    ) as backend:
        harness = CatalogHarness(backend, tmp_path)
        harness.settle()
        assert (
            harness.entity("group:default/red") is not None
            and harness.entity("group:default/blue") is not None
        )
        directory.connection.apply_mutation(
            DeltaMutation(added=[DeferredEntity(_group("green"))], removed=["group:default/red"])
        )
        harness.settle()
        assert harness.entity("group:default/green") is not None
        assert harness.entity("group:default/red") is None  # removed from the bucket: deleted at once
        directory.connection.apply_mutation(FullMutation([DeferredEntity(_group("blue"))]))
        harness.settle()
        assert harness.entity("group:default/green") is None
        assert harness.entity("group:default/blue") is not None
