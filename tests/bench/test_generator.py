"""The bench's catalog generator (deterministic, consistent with its manifest) and a runner smoke test.

No test here asserts on a duration: the runner's numbers are only checked for presence and shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import generator, report, runner


def _read(out: Path) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Every document of every generated YAML file, and which files hold which refs."""
    entities: list[dict[str, Any]] = []
    by_file: dict[str, list[str]] = {}
    for path in sorted(out.rglob("*.yaml")):
        rel = str(path.relative_to(out))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            entities.append(doc)
            md = doc["metadata"]
            by_file.setdefault(rel, []).append(
                generator.entity_ref(doc["kind"], md["name"], md.get("namespace", "default"))
            )
    return entities, by_file


def _relations(entities: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    rels: dict[str, set[tuple[str, str]]] = {}
    for e in entities:
        ns = e["metadata"].get("namespace", "default")
        rels[generator.entity_ref(e["kind"], e["metadata"]["name"], ns)] = set()
    for e in entities:
        ns = e["metadata"].get("namespace", "default")
        source = generator.entity_ref(e["kind"], e["metadata"]["name"], ns)
        for field, default_kind, relation, inverse in generator.REL_SPEC.get(e["kind"], []):
            value = e["spec"].get(field)
            for text in [] if value is None else value if isinstance(value, list) else [value]:
                target = generator.parse_ref(text, default_kind, ns)
                rels[source].add((relation, target))
                if target in rels:
                    rels[target].add((inverse, source))
    return rels


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("gen") / "catalog"
    manifest = generator.generate(2000, out, seed=7, per_file=100)
    return out, manifest


def test_same_seed_same_bytes_and_other_seed_differs(
    tmp_path: Path, catalog: tuple[Path, dict[str, Any]]
) -> None:
    out, _ = catalog
    again = tmp_path / "again"
    generator.generate(2000, again, seed=7, per_file=100)
    files = sorted(p.relative_to(out) for p in out.rglob("*.yaml"))
    assert files == sorted(p.relative_to(again) for p in again.rglob("*.yaml"))
    for rel in files:
        assert (out / rel).read_bytes() == (again / rel).read_bytes(), rel
    other = tmp_path / "other"
    generator.generate(2000, other, seed=8, per_file=100)
    assert (other / "org/users/part-00000.yaml").read_bytes() != (
        out / "org/users/part-00000.yaml"
    ).read_bytes()


def test_counts_files_and_root_match_the_manifest(catalog: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = catalog
    entities, by_file = _read(out)
    counts: dict[str, int] = {}
    for e in entities:
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    assert counts.pop("Location") == 1
    assert counts == manifest["counts"]
    assert sum(counts.values()) == manifest["entities"] == 2000
    assert len(entities) == manifest["total"]
    root = yaml.safe_load((out / "all.yaml").read_text(encoding="utf-8"))
    listed = sorted(t.removeprefix("./") for t in root["spec"]["targets"])
    assert listed == sorted(f["path"] for f in manifest["files"])
    assert listed == sorted(p for p in by_file if p != "all.yaml")
    for f in manifest["files"]:
        assert len(by_file[f["path"]]) == f["refs"] <= 100
        assert by_file[f["path"]][0] == f["first"]
    assert "infra" in manifest["namespaces"]
    refs = {r for rs in by_file.values() for r in rs}
    assert len(refs) == len(entities), "refs are unique"
    for kind, sample in manifest["refSamples"].items():
        assert sample and all(r.startswith(kind.lower() + ":") and r in refs for r in sample)


def test_every_relation_target_exists_and_relations_match_the_manifest(
    catalog: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = catalog
    entities, _ = _read(out)
    entities = [e for e in entities if e["kind"] != "Location"]
    rels = _relations(entities)
    missing = {(source, target) for source, rs in rels.items() for _, target in rs if target not in rels}
    assert not missing
    assert sum(len(rs) for rs in rels.values()) == manifest["relationCount"]
    kinds_of_relations = {t for rs in rels.values() for t, _ in rs}
    assert kinds_of_relations == {
        "ownedBy", "ownerOf", "partOf", "hasPart", "providesApi", "apiProvidedBy", "consumesApi",
        "apiConsumedBy", "dependsOn", "dependencyOf", "memberOf", "hasMember", "childOf", "parentOf",
    }  # fmt: skip
    assert len(manifest["sampleRelations"]) == 100
    for ref, expected in manifest["sampleRelations"].items():
        assert {tuple(pair) for pair in expected} == rels[ref], ref


def test_yaml_emitter_round_trips_awkward_scalars() -> None:
    doc = {
        "a": "yes",
        "b": "1",
        "c": "dir:.",
        "d": "./x.yaml",
        "e": "line one\nline two\n",
        "f": [],
        "g": {"h": [{"i": "null", "j": ["1.0", "x: y"]}]},
        "k": "Plain words here",
        "l": "0x10",
    }
    assert yaml.safe_load(generator.dump_documents([doc]).removeprefix("---\n")) == doc


def test_too_small_is_refused() -> None:
    with pytest.raises(ValueError):
        generator.plan_counts(10)


@pytest.mark.slow
def test_runner_smoke_on_sqlite_writes_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "results"
    code = runner.main(
        [
            "--entities",
            "300",
            "--db",
            "sqlite",
            "--requests",
            "5",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "c"),
        ]
    )
    assert code == 0
    [json_path] = list(out.glob("*-sqlite-300.json"))
    assert json_path.with_suffix(".md").exists()
    result = json.loads(json_path.read_text(encoding="utf-8"))
    assert result["entities"] == 300 and result["db"] == "sqlite"
    for key in ("cores", "ramGiB", "cpuModel", "python", "sqlite", "gitCommit"):
        assert key in result["machine"]
    ingest = result["ingest"]
    for key in ("seconds", "entitiesPerSecond", "cpuSeconds"):
        assert isinstance(ingest[key], int | float)
    assert ingest["relationsExact"] is True
    assert result["memory"]["peakRssMiB"]["serve"] > 0
    assert result["memory"]["idleRssMiB"]["serve"] > 0
    assert result["database"]["sizeMiB"] > 0
    for key, _ in report.LATENCY_KEYS:
        assert key in result["latency"]
        if not key.startswith("ui"):
            assert result["latency"][key]["n"] == 5
            assert result["latency"][key]["p95Ms"] >= result["latency"][key]["p50Ms"] > 0
    assert result["stream"]["entities"] >= 301
    incremental = result["incremental"]
    assert incremental["editVisibleSeconds"] is not None
    assert incremental["orphanDeletedSeconds"] is not None
    steady = incremental["steady"]
    for key in ("cpuSeconds", "rowsWritten", "entitiesRewritten", "processed", "changed"):
        assert key in steady
    assert steady["processed"] >= steady["entitiesMadeDue"] > 0
    assert {row["status"] for row in result["table"]} <= {"met", "**not met**", "n/a"}
    assert len(result["table"]) >= 20
