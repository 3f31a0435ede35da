"""Incremental reading of Location targets: a file whose etag is unchanged is not read again.

A root Location lists several files; editing one must re-read only that file, keep every other
entity untouched, keep orphaning and errors right, and an explicit refresh or a changed parent
must still read everything. On SQLite and PostgreSQL. Files are aged (mtime an hour back) because
the reader does not trust the stat of a file modified in the last seconds (racy timestamps).
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenroom.core.errors import InputError, NotAllowedError, NotFoundError
from greenroom.core.services.url_reader import UrlReader
from greenroom.plugins.catalog import tables as t

from .conftest import CatalogHarness, component


def _age(path: Path, seconds: float = 3600.0) -> Path:
    """Move the mtime back so the reader trusts the file's stat (see `UrlReader.file_etag`)."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
    return path


def _write(catalog: CatalogHarness, relative: str, content: str, *, age: float = 3600.0) -> Path:
    return _age(catalog.write(relative, content), age)


def _components(*names: str, description: str = "A service") -> str:
    return "---\n".join(textwrap.dedent(component(n, description=description)) for n in names)


def _root(*targets: str, name: str = "root-list") -> str:
    return textwrap.dedent(
        f"""
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {{name: {name}}}
        spec: {{type: file, targets: [{", ".join(targets)}]}}
        """
    )


class ReadSpy:
    """Records every path the catalog's URL reader reads (the boundary a skipped file never crosses)."""

    def __init__(self, reader: UrlReader, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        original = reader.read_url

        def read_url(target: str, *, etag: str | None = None) -> Any:
            self.paths.append(target)
            return original(target, etag=etag)

        monkeypatch.setattr(reader, "read_url", read_url)

    def names(self) -> set[str]:
        return {os.path.basename(p) for p in self.paths}

    def reset(self) -> None:
        self.paths.clear()


@pytest.fixture
def spy(catalog: CatalogHarness, monkeypatch: pytest.MonkeyPatch) -> ReadSpy:
    return ReadSpy(catalog.service.reader, monkeypatch)


def _tree(catalog: CatalogHarness) -> dict[str, Path]:
    """Three files of two components each under one root Location, ingested."""
    files = {
        "a": _write(catalog, "a.yaml", _components("a1", "a2")),
        "b": _write(catalog, "b.yaml", _components("b1", "b2")),
        "c": _write(catalog, "c.yaml", _components("c1", "c2")),
    }
    files["root"] = _write(catalog, "all.yaml", _root("./a.yaml", "./b.yaml", "./c.yaml"))
    catalog.register(files["root"])
    catalog.settle()
    return files


def _file_changed(catalog: CatalogHarness, *paths: Path) -> None:
    """What the file watcher does for a saved file."""
    catalog.service.store.refresh_keys([f"file:{p}" for p in paths], time.time())
    catalog.settle()


def _make_everything_due(catalog: CatalogHarness) -> None:
    """One full processing interval elapsing, without waiting for it."""
    with catalog.service.store.engine.begin() as conn:
        conn.execute(t.refresh_state.update().values(next_update_at=0))
    catalog.settle()


def _snapshot(catalog: CatalogHarness) -> dict[str, Any]:
    """Every stored row that processing or stitching could rewrite (not the claim: lease and token)."""
    state_columns = [c for c in t.refresh_state.c if c.name not in ("next_update_at", "claim_token")]
    with catalog.service.store.read_engine.connect() as conn:

        def rows(query: sa.Select[Any]) -> list[tuple[Any, ...]]:
            return sorted(tuple(r) for r in conn.execute(query))

        return {
            "refresh_state": rows(sa.select(*state_columns)),
            "references": rows(sa.select(t.refresh_state_references)),
            "relations": rows(sa.select(t.relations)),
            "final_entities": rows(sa.select(t.final_entities)),
            "search": rows(sa.select(t.search)),
            "refresh_keys": rows(sa.select(t.refresh_keys)),
        }


def _final_rows(catalog: CatalogHarness, refs: list[str]) -> dict[str, tuple[Any, ...]]:
    with catalog.service.store.read_engine.connect() as conn:
        return {
            r.entity_ref: (r.entity_id, r.hash, r.last_updated_at)
            for r in conn.execute(sa.select(t.final_entities).where(t.final_entities.c.entity_ref.in_(refs)))
        }


def _errors_of(catalog: CatalogHarness, ref: str) -> list[dict[str, Any]]:
    items = catalog.client.get("/api/catalog/processing-errors").json()["items"]
    return next((item["errors"] for item in items if item["entityRef"] == ref), [])


def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# --------------------------------------------------------------------------- edits


def test_editing_one_target_rereads_only_that_file(catalog: CatalogHarness, spy: ReadSpy) -> None:
    files = _tree(catalog)
    untouched = ["component:default/a2", "component:default/b1", "component:default/b2"]
    untouched += ["component:default/c1", "component:default/c2"]
    before = {ref: catalog.entity(ref) for ref in untouched}
    rows_before = _final_rows(catalog, untouched)
    spy.reset()
    catalog.write("a.yaml", _components("a1", "a2").replace("A service", "Edited", 1))
    _age(files["a"], 1800)
    _file_changed(catalog, files["a"])
    assert spy.names() == {"a.yaml"}
    assert catalog.entity("component:default/a1")["metadata"]["description"] == "Edited"
    for ref in untouched:
        entity = catalog.entity(ref)
        assert entity["metadata"]["uid"] == before[ref]["metadata"]["uid"]
        assert entity["metadata"]["etag"] == before[ref]["metadata"]["etag"]
    assert _final_rows(catalog, untouched) == rows_before  # not rewritten at all


def test_steady_state_reads_and_writes_nothing(catalog: CatalogHarness, spy: ReadSpy) -> None:
    _tree(catalog)
    _make_everything_due(catalog)  # the first interval after ingest may store settled etags
    spy.reset()
    before = _snapshot(catalog)
    changed = catalog.service.engine.stats.changed
    processed = catalog.service.engine.stats.processed
    _make_everything_due(catalog)
    assert catalog.service.engine.stats.processed > processed  # everything was processed again
    assert spy.paths == []  # not even all.yaml was read
    assert catalog.service.engine.stats.changed == changed
    assert _snapshot(catalog) == before


def test_an_edit_then_the_steady_state_writes_nothing_more(catalog: CatalogHarness, spy: ReadSpy) -> None:
    files = _tree(catalog)
    catalog.write("b.yaml", _components("b1", "b2", description="Second version"))
    _age(files["b"], 1800)
    _file_changed(catalog, files["b"])
    before = _snapshot(catalog)
    spy.reset()
    _make_everything_due(catalog)
    assert spy.paths == []
    assert _snapshot(catalog) == before


def test_a_just_saved_file_is_read_again_until_its_stat_settles(
    catalog: CatalogHarness, spy: ReadSpy
) -> None:
    files = _tree(catalog)
    spy.reset()
    catalog.write("c.yaml", _components("c1", "c2", description="Fresh"))  # mtime: now
    _file_changed(catalog, files["c"])
    assert spy.names() == {"c.yaml"}
    spy.reset()
    _make_everything_due(catalog)
    assert spy.names() == {"c.yaml"}  # racy: same-size rewrites within a timestamp tick are possible
    _age(files["c"], 1800)
    _make_everything_due(catalog)
    spy.reset()
    _make_everything_due(catalog)
    assert spy.paths == []
    assert catalog.entity("component:default/c2")["metadata"]["description"] == "Fresh"


# --------------------------------------------------------------------------- orphaning


def test_entity_removed_from_inside_a_file_is_deleted(catalog: CatalogHarness, spy: ReadSpy) -> None:
    files = _tree(catalog)
    kept = _final_rows(catalog, ["component:default/b1", "component:default/b2"])
    spy.reset()
    catalog.write("a.yaml", _components("a1"))
    _age(files["a"], 1800)
    _file_changed(catalog, files["a"])
    assert spy.names() == {"a.yaml"}
    assert catalog.entity("component:default/a2") is None
    assert catalog.entity("component:default/a1") is not None
    assert _final_rows(catalog, ["component:default/b1", "component:default/b2"]) == kept


@pytest.mark.parametrize("catalog", [{"orphanStrategy": "keep"}], indirect=True)
def test_entity_removed_from_inside_a_file_is_orphaned_with_keep(catalog: CatalogHarness) -> None:
    files = _tree(catalog)
    catalog.write("c.yaml", _components("c2"))
    _age(files["c"], 1800)
    _file_changed(catalog, files["c"])
    orphan = catalog.entity("component:default/c1")
    assert orphan["metadata"]["annotations"]["backstage.io/orphan"] == "true"
    for ref in ("component:default/c2", "component:default/a1", "component:default/b1"):
        assert "backstage.io/orphan" not in catalog.entity(ref)["metadata"]["annotations"]


def test_removing_a_target_from_the_location_deletes_its_entities(catalog: CatalogHarness) -> None:
    files = _tree(catalog)
    _write(catalog, "all.yaml", _root("./a.yaml", "./c.yaml"), age=1800)
    _file_changed(catalog, files["root"])
    assert catalog.entity("component:default/b1") is None
    assert catalog.entity("component:default/b2") is None
    assert catalog.entity("component:default/a1") is not None
    assert catalog.entity("component:default/c2") is not None


@pytest.mark.parametrize("catalog", [{"orphanStrategy": "keep"}], indirect=True)
def test_a_deleted_file_matched_by_a_glob_orphans_its_entities(catalog: CatalogHarness, spy: ReadSpy) -> None:
    first = _write(catalog, "parts/one.yaml", _components("one"))
    second = _write(catalog, "parts/two.yaml", _components("two"))
    root = _write(catalog, "all.yaml", _root("./parts/*.yaml"))
    catalog.register(root)
    catalog.settle()
    assert catalog.entity("component:default/two") is not None
    spy.reset()
    second.unlink()
    _file_changed(catalog, second)
    assert spy.paths == []  # one.yaml is unchanged, two.yaml is gone
    orphan = catalog.entity("component:default/two")
    assert orphan["metadata"]["annotations"]["backstage.io/orphan"] == "true"
    assert "backstage.io/orphan" not in catalog.entity("component:default/one")["metadata"]["annotations"]
    # a new file the glob matches is read at the next interval, the unchanged one still is not
    _write(catalog, "parts/three.yaml", _components("three"))
    _make_everything_due(catalog)
    assert spy.names() == {"three.yaml"}
    assert first.exists()
    assert catalog.entity("component:default/three") is not None


def test_a_deleted_optional_target_deletes_its_entities(catalog: CatalogHarness) -> None:
    _write(catalog, "a.yaml", _components("a1"))
    gone = _write(catalog, "b.yaml", _components("b1"))
    root = _write(
        catalog,
        "all.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {name: optional-list}
        spec: {type: file, presence: optional, targets: [./a.yaml, ./b.yaml]}
        """,
    )
    catalog.register(root)
    catalog.settle()
    assert catalog.entity("component:default/b1") is not None
    gone.unlink()
    _file_changed(catalog, gone)
    assert catalog.entity("component:default/b1") is None
    assert catalog.entity("component:default/a1") is not None


def test_a_deleted_required_target_keeps_its_entities_and_reports_it(catalog: CatalogHarness) -> None:
    """Unchanged behaviour: a listed file that cannot be read keeps its entities (no transient deletes)."""
    files = _tree(catalog)
    files["b"].unlink()
    _file_changed(catalog, files["b"])
    assert catalog.entity("component:default/b1") is not None
    errors = _errors_of(catalog, "location:default/root-list")
    assert [e["name"] for e in errors] == ["NotFoundError"]
    _make_everything_due(catalog)
    assert catalog.entity("component:default/b1") is not None
    assert [e["name"] for e in _errors_of(catalog, "location:default/root-list")] == ["NotFoundError"]


# --------------------------------------------------------------------------- errors and conflicts


def test_errors_of_an_unchanged_file_keep_being_reported(catalog: CatalogHarness, spy: ReadSpy) -> None:
    files = _tree(catalog)
    broken = _write(catalog, "broken.yaml", _components("ok-one") + "---\nkind: [unclosed\n")
    no_name = _write(
        catalog, "noname.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {}\n"
    )
    _write(catalog, "all.yaml", _root("./a.yaml", "./b.yaml", "./c.yaml", "./broken.yaml", "./noname.yaml"))
    _file_changed(catalog, files["root"])
    assert catalog.entity("component:default/ok-one") is not None

    def reported() -> list[tuple[str, str]]:
        errors = _errors_of(catalog, "location:default/root-list")
        return sorted((e["name"], e["location"]) for e in errors)

    expected = sorted([("InputError", f"file:{broken}"), ("InputError", f"file:{no_name}")])
    assert reported() == expected
    spy.reset()
    catalog.write("a.yaml", _components("a1", "a2", description="Again"))
    _age(files["a"], 1800)
    _file_changed(catalog, files["a"])
    assert spy.names() == {"a.yaml"}
    assert reported() == expected  # replayed from the cache, not read again
    spy.reset()
    _make_everything_due(catalog)
    assert spy.paths == []
    assert reported() == expected
    assert catalog.entity("component:default/ok-one") is not None


def test_conflict_error_of_an_unchanged_file_stays_on_the_parent(
    catalog: CatalogHarness, spy: ReadSpy
) -> None:
    _write(catalog, "a.yaml", _components("a1", "dup"))
    _write(catalog, "b.yaml", _components("dup", "b1").replace("A service", "from b", 1))
    changing = _write(catalog, "c.yaml", _components("c1"))
    root = _write(catalog, "all.yaml", _root("./a.yaml", "./b.yaml", "./c.yaml"))
    catalog.register(root)
    catalog.settle()

    def conflicts() -> list[str]:
        return [
            e["name"]
            for e in _errors_of(catalog, "location:default/root-list")
            if e["name"] == "ConflictError"
        ]

    assert conflicts() == ["ConflictError"]
    dup = catalog.entity("component:default/dup")
    assert dup["metadata"]["description"] == "A service"
    spy.reset()
    catalog.write("c.yaml", _components("c1", "c2"))
    _age(changing, 1800)
    _file_changed(catalog, changing)
    assert spy.names() == {"c.yaml"}
    assert catalog.entity("component:default/c2") is not None
    assert conflicts() == ["ConflictError"]  # b.yaml was not read again, its conflict still stands
    assert catalog.entity("component:default/dup")["metadata"]["uid"] == dup["metadata"]["uid"]
    assert catalog.entity("component:default/dup")["metadata"]["description"] == "A service"


# --------------------------------------------------------------------------- bypassing the cache


def test_explicit_refresh_of_the_location_rereads_everything(catalog: CatalogHarness, spy: ReadSpy) -> None:
    _tree(catalog)
    spy.reset()
    response = catalog.client.post("/api/catalog/refresh", json={"entityRef": "location:default/root-list"})
    assert response.status_code == 200
    catalog.settle()
    assert spy.names() >= {"a.yaml", "b.yaml", "c.yaml", "all.yaml"}
    # and the cache works again afterwards
    spy.reset()
    _make_everything_due(catalog)
    assert spy.paths == []


def test_explicit_refresh_of_an_entity_rereads_its_file(
    catalog: CatalogHarness, spy: ReadSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _tree(catalog)
    # a filesystem whose stat misses a change: only a refresh can bring the edit in
    monkeypatch.setattr(catalog.service.reader, "file_etag", lambda target: f"constant:{target}")
    _make_everything_due(catalog)
    catalog.write("b.yaml", _components("b1", "b2", description="Unseen edit"))
    _file_changed(catalog, files["b"])
    assert catalog.entity("component:default/b1")["metadata"]["description"] == "A service"
    spy.reset()
    catalog.client.post("/api/catalog/refresh", json={"entityRef": "component:default/b2"})
    catalog.settle()
    assert spy.names() == {"b.yaml", "all.yaml"}  # each file on its ancestry, not a.yaml or c.yaml
    assert catalog.entity("component:default/b1")["metadata"]["description"] == "Unseen edit"
    spy.reset()
    _make_everything_due(catalog)
    assert spy.paths == []  # the refresh asked for one read, not for reading forever


def test_a_refresh_during_processing_is_not_lost(
    catalog: CatalogHarness, spy: ReadSpy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outcome being written must not put back the cache a concurrent refresh dropped."""
    files = _tree(catalog)
    catalog.service.engine.stop()  # only this thread processes: the order below is the order
    reader = catalog.service.reader
    real_etag = reader.file_etag
    monkeypatch.setattr(  # b.yaml's edits are invisible to its stat, a.yaml's are not
        reader, "file_etag", lambda target: "constant" if target.endswith("b.yaml") else real_etag(target)
    )
    _make_everything_due(catalog)
    catalog.write("b.yaml", _components("b1", "b2", description="Refreshed meanwhile"))
    catalog.write("a.yaml", _components("a1", "a2", description="Edited meanwhile"))
    _age(files["a"], 1800)  # this round stores a new etag for a.yaml: a new cache is written
    engine = catalog.service.engine
    original = engine.on_processed
    refreshed: list[str] = []

    def refresh_while_processing(row: Any, outcome: Any) -> None:
        if row.entity_ref == "location:default/root-list" and not refreshed:
            refreshed.append(row.entity_ref)
            catalog.client.post("/api/catalog/refresh", json={"entityRef": row.entity_ref})
        if original is not None:
            original(row, outcome)

    monkeypatch.setattr(engine, "on_processed", refresh_while_processing)
    _file_changed(catalog, files["a"])
    assert refreshed
    assert catalog.entity("component:default/a1")["metadata"]["description"] == "Edited meanwhile"
    assert catalog.entity("component:default/b1")["metadata"]["description"] == "Refreshed meanwhile"


def test_a_new_target_is_read_and_the_others_are_not(catalog: CatalogHarness, spy: ReadSpy) -> None:
    """Only the list of targets changed: every other file's cached entry is still valid."""
    files = _tree(catalog)
    _write(catalog, "d.yaml", _components("d1"))
    spy.reset()
    _write(catalog, "all.yaml", _root("./a.yaml", "./b.yaml", "./c.yaml", "./d.yaml"), age=1800)
    _file_changed(catalog, files["root"])
    assert spy.names() == {"all.yaml", "d.yaml"}
    assert catalog.entity("component:default/d1") is not None
    assert catalog.entity("component:default/a1") is not None


def test_a_changed_parent_entity_rereads_every_target(catalog: CatalogHarness, spy: ReadSpy) -> None:
    """Anything else about the Location changed (here its type): every target is read again."""
    files = _tree(catalog)
    spy.reset()
    root = _root("./a.yaml", "./b.yaml", "./c.yaml").replace(
        "{type: file,", "{type: file, presence: required,"
    )
    _write(catalog, "all.yaml", root, age=1800)
    _file_changed(catalog, files["root"])
    assert spy.names() == {"all.yaml", "a.yaml", "b.yaml", "c.yaml"}
    assert catalog.entity("component:default/a1") is not None


def test_watcher_event_for_an_edit_shows_the_change(catalog: CatalogHarness) -> None:
    """End to end through the real file watcher (whatever it does first, the edit must show)."""
    files = _tree(catalog)
    catalog.write("a.yaml", _components("a1", "a2", description="Watched edit"))
    assert _wait(lambda: catalog.entity("component:default/a1")["metadata"]["description"] == "Watched edit")
    assert files["a"].exists()


# --------------------------------------------------------------------------- the reader's etag


@pytest.fixture
def reader_root(tmp_path: Path) -> Iterator[tuple[UrlReader, Path]]:
    root = tmp_path / "root"
    root.mkdir()
    with UrlReader({"roots": [str(root)]}) as reader:
        yield reader, root


def test_file_etag_changes_with_content_and_not_without(reader_root: tuple[UrlReader, Path]) -> None:
    reader, root = reader_root
    path = root / "x.yaml"
    path.write_text("one")
    _age(path)
    first = reader.file_etag(str(path))
    assert first is not None and first == reader.file_etag(f"file://{path}")
    path.write_text("two")  # same size, mtime put back: the ctime still moves
    _age(path)
    assert reader.file_etag(str(path)) not in (None, first)
    assert reader.file_etag("https://example.com/x.yaml") is None


def test_file_etag_is_none_for_a_just_modified_file(reader_root: tuple[UrlReader, Path]) -> None:
    reader, root = reader_root
    path = root / "fresh.yaml"
    path.write_text("fresh")
    assert reader.file_etag(str(path)) is None


def test_file_etag_keeps_the_reading_checks(reader_root: tuple[UrlReader, Path], tmp_path: Path) -> None:
    reader, root = reader_root
    outside = tmp_path / "secret.yaml"
    outside.write_text("s")
    _age(outside)
    (root / "link.yaml").symlink_to(outside)
    (root / "sub").mkdir()
    with pytest.raises(NotAllowedError):
        reader.file_etag(str(outside))
    with pytest.raises(NotAllowedError):
        reader.file_etag(str(root / "link.yaml"))
    with pytest.raises(NotAllowedError):
        reader.file_etag(str(root / ".." / "secret.yaml"))
    with pytest.raises(NotFoundError):
        reader.file_etag(str(root / "missing.yaml"))
    with pytest.raises(InputError):
        reader.file_etag(str(root / "sub"))
