"""Children of a Location are kept serialised and spill to a temporary file; nothing is lost."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from greenroom.plugins.catalog.processing import children as children_module
from greenroom.plugins.catalog.processing.children import ChildEntity, ChildSpool

from .conftest import CatalogHarness, component


def _entity(name: str, description: str = "ok") -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name, "description": description},
    }


def test_children_come_back_in_order_with_their_keys_and_exact_text() -> None:
    spool = ChildSpool()
    entities = [_entity(f"c{i}", 'ünïcødé \n \t "quoted" ' * (i % 3)) for i in range(50)]
    for index, entity in enumerate(entities):
        spool.append(f"component:default/c{index}", f"file:/repo/part-{index % 4}.yaml", entity)
    read = list(spool)
    assert len(spool) == 50 and [c.entity for c in read] == entities
    assert [c.location_key for c in read] == [f"file:/repo/part-{i % 4}.yaml" for i in range(50)]
    assert read[7] == ChildEntity(
        "component:default/c7", "file:/repo/part-3.yaml", orjson.dumps(entities[7]).decode()
    )
    assert list(spool) == read  # re-iterable


def test_a_large_spool_moves_to_disk_and_reads_back_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(children_module, "MEMORY_LIMIT", 4096)
    monkeypatch.setattr(children_module, "_READ_BLOCK", 1000)  # records straddle block boundaries
    spool = ChildSpool()
    for index in range(2000):
        spool.append(
            f"component:default/c{index}", "file:/repo/a.yaml", _entity(f"c{index}", "x" * (index % 700))
        )
    assert spool.spilled
    chunks = list(spool.chunks(300))
    assert [len(chunk) for chunk in chunks] == [300] * 6 + [200]
    names = [child.entity["metadata"]["name"] for chunk in chunks for child in chunk]
    assert names == [f"c{index}" for index in range(2000)]
    spool.close()


def test_appending_between_items_read_keeps_both_consistent() -> None:
    spool = ChildSpool()
    spool.append("component:default/a", "k", _entity("a"))
    iterator = iter(spool)
    first = next(iterator)
    spool.append("component:default/b", "k", _entity("b"))
    assert first.entity_ref == "component:default/a"
    assert [c.entity_ref for c in spool] == ["component:default/a", "component:default/b"]


def test_digests_follow_content_and_order_per_location_key() -> None:
    def digests(*items: tuple[str, str, str]) -> dict[str, str]:
        spool = ChildSpool()
        for ref, key, description in items:
            spool.append(ref, key, _entity(ref.rsplit("/", 1)[1], description))
        return spool.digests()

    base = digests(
        ("component:default/a", "k1", "x"),
        ("component:default/b", "k1", "y"),
        ("component:default/c", "k2", "z"),
    )
    assert set(base) == {"k1", "k2"}
    same = digests(
        ("component:default/a", "k1", "x"),
        ("component:default/c", "k2", "z"),
        ("component:default/b", "k1", "y"),
    )
    assert same == base  # interleaving across keys does not matter, only each key's own sequence
    edited = digests(
        ("component:default/a", "k1", "x"),
        ("component:default/b", "k1", "CHANGED"),
        ("component:default/c", "k2", "z"),
    )
    assert edited["k1"] != base["k1"] and edited["k2"] == base["k2"]
    swapped = digests(
        ("component:default/b", "k1", "y"),
        ("component:default/a", "k1", "x"),
        ("component:default/c", "k2", "z"),
    )
    assert swapped["k1"] != base["k1"]


def test_a_location_whose_children_spill_to_disk_ingests_every_entity(
    catalog: CatalogHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(children_module, "MEMORY_LIMIT", 2048)
    targets = []
    for part in range(12):
        catalog.write(
            f"parts/part-{part}.yaml",
            "---\n".join(component(f"svc-{part}-{index}", owner=f"team-{part}") for index in range(40)),
        )
        targets.append(f"./parts/part-{part}.yaml")
    catalog.write(
        "parts/part-3.yaml", "---\n".join(component(f"svc-3-{i}") for i in range(40)) + "---\nkind: [oops\n"
    )
    root = catalog.write(
        "all.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\nspec:\n  targets:\n"
        + "".join(f"    - {target}\n" for target in targets),
    )
    catalog.register(root)
    catalog.settle()
    listed = catalog.client.get(
        "/api/catalog/entities/by-query", params={"filter": "kind=component", "limit": 1}
    )
    assert listed.json()["totalItems"] == 12 * 40
    assert catalog.entity("component:default/svc-11-39") is not None
    assert catalog.entity("component:default/svc-3-0") is not None
    location = catalog.entity("location:default/root")
    assert location is not None
    # the broken document in part-3 is reported on the Location with its file, the rest is kept
    errors = [item["error"] for item in location["status"]["items"]]
    assert any("part-3.yaml" in error.get("location", "") + error["message"] for error in errors), errors
    # a second processing of the unchanged tree writes nothing new
    store = catalog.service.store
    before = catalog.client.get("/api/catalog/entities/by-name/component/default/svc-5-5").json()
    catalog.service.engine.run_once()
    after = catalog.client.get("/api/catalog/entities/by-name/component/default/svc-5-5").json()
    assert before["metadata"]["etag"] == after["metadata"]["etag"]
    assert store.queue_depths(time.time())["stitching"] == 0
