"""Per-stage CPU microbenchmark of catalog ingest, without a server or a database.

    .venv/bin/python -m bench.microbench_processing --entities 10000 --out /tmp/mb10k

Generates a catalog with `bench.generator` (or reuses `--out` when its manifest says it holds the
same size), then times each per-entity stage of processing over every entity, best of
`--repeat` runs: YAML loading of every file, the placeholder processor, `prepare_entity`
(validation), `relations_for` (what BuiltinKindsProcessor does) and `build_search_rows` on a
stitched-like entity (entity + its outgoing relations + metadata.uid/etag).

The stages are isolated so that a change in one of them shows up in its own row rather than
drowned in the noise of a whole ingest. `--digest` also prints a SHA-256 of every stage's
output, so an optimisation can be checked to change no output at all; `--cprofile` adds each
stage's time under cProfile, the measure `python -m bench --profile` gives of a real ingest.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.generator import generate
from greenroom.plugins.catalog.model import (
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    KindRegistry,
    load_descriptor_documents,
    prepare_entity,
    relations_for,
)
from greenroom.plugins.catalog.processing.processors import (
    AnnotateLocationProcessor,
    PlaceholderProcessor,
)
from greenroom.plugins.catalog.processing.types import Emit, LocationSpec
from greenroom.plugins.catalog.query.search_index import build_search_rows


def _catalog(out: Path, entities: int) -> Path:
    manifest = out / "manifest.json"
    if manifest.exists():
        try:
            if json.loads(manifest.read_text(encoding="utf-8")).get("entities") == entities:
                return out
        except ValueError:
            pass
    generate(entities, out)
    return out


def _best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall time (perf_counter) and best CPU time (process_time) of `repeat` runs.

    On a busy machine the CPU time is the steadier of the two: it leaves out the time this
    process waited for a core.
    """
    best_wall = best_cpu = float("inf")
    result: Any = None
    for _ in range(repeat):
        gc.collect()
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        result = run()
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
        best_wall = min(best_wall, time.perf_counter() - started_wall)
    return best_wall, best_cpu, result


def _profiled_cpu(run: Callable[[], Any]) -> float:
    """CPU time of one run under cProfile: how the stage weighs in a profile of the real ingest,
    where every Python-level call pays the profiler's overhead."""
    profile = cProfile.Profile()
    gc.collect()
    started = time.process_time()
    profile.runcall(run)
    return time.process_time() - started


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=False, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _NoReader:
    """The placeholder processor only touches its reader when a placeholder is present."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/mb10k"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--digest", action="store_true", help="print a hash of every stage's output")
    parser.add_argument("--only", nargs="*", default=None, help="stages to run (default: all)")
    parser.add_argument(
        "--cprofile", action="store_true", help="also time one run of each stage under cProfile"
    )
    args = parser.parse_args(argv)

    root = _catalog(args.out, args.entities)
    files = sorted(root.rglob("*.yaml"))
    blobs = [(str(path), path.read_bytes()) for path in files]
    kinds = KindRegistry.default()

    # Inputs prepared once, untimed: what each stage sees in a real ingest.
    raw: list[tuple[LocationSpec, dict[str, Any]]] = []
    for source, data in blobs:
        for document in load_descriptor_documents(data, source=source):
            assert document.error is None, document.error
            if document.value is not None:
                raw.append((LocationSpec("file", source), document.value))
    origin = LocationSpec("file", str(root / "all.yaml"))
    unprocessed: list[tuple[LocationSpec, dict[str, Any]]] = []
    for location, entity in raw:
        metadata = entity["metadata"]
        annotations = {
            **(metadata.get("annotations") or {}),
            ANNOTATION_MANAGED_BY_LOCATION: location.ref,
            ANNOTATION_MANAGED_BY_ORIGIN_LOCATION: origin.ref,
        }
        unprocessed.append((location, {**entity, "metadata": {**metadata, "annotations": annotations}}))
    placeholders = PlaceholderProcessor(_NoReader())  # type: ignore[arg-type]
    annotate = AnnotateLocationProcessor()
    cache: Any = None
    annotated = [
        annotate.pre_process_entity(
            placeholders.pre_process_entity(entity, location, Emit(), origin, cache),
            location,
            Emit(),
            origin,
            cache,
        )
        for location, entity in unprocessed
    ]
    prepared = [prepare_entity(entity, kinds=kinds) for entity in annotated]
    outgoing: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for entity in prepared:
        for relation in relations_for(entity, kinds)[0]:
            outgoing[relation.source_ref].add((relation.type, relation.target_ref))
    stitched: list[tuple[str, dict[str, Any]]] = []
    for index, entity in enumerate(prepared):
        final = dict(entity)
        entity_id = f"00000000-0000-4000-8000-{index:012d}"
        final["metadata"] = {**entity["metadata"], "uid": entity_id, "etag": f"{index:040x}"}
        ref = f"{entity['kind']}:{entity['metadata']['namespace']}/{entity['metadata']['name']}".lower()
        final["relations"] = [{"type": ty, "targetRef": target} for ty, target in sorted(outgoing[ref])]
        stitched.append((entity_id, final))

    def load() -> list[Any]:
        return [load_descriptor_documents(data, source=source) for source, data in blobs]

    def substitute() -> list[Any]:
        return [
            placeholders.pre_process_entity(entity, location, Emit(), origin, cache)
            for location, entity in unprocessed
        ]

    def prepare() -> list[Any]:
        return [prepare_entity(entity, kinds=kinds) for entity in annotated]

    def relate() -> list[Any]:
        return [relations_for(entity, kinds) for entity in prepared]

    def search() -> list[Any]:
        return [build_search_rows(entity_id, final) for entity_id, final in stitched]

    stages: list[tuple[str, Callable[[], Any], Callable[[Any], Any]]] = [
        (
            "yaml load (load_descriptor_documents)",
            load,
            lambda out: [
                [(d.index, d.line, d.value, d.error and str(d.error), d.key_lines) for d in docs]
                for docs in out
            ],
        ),
        ("placeholders (PlaceholderProcessor)", substitute, lambda out: out),
        ("validate (prepare_entity)", prepare, lambda out: out),
        ("relations (relations_for)", relate, lambda out: [(list(map(tuple, r)), e) for r, e in out]),
        ("search rows (build_search_rows)", search, lambda out: out),
    ]
    count = len(raw)
    sys.stdout.write(f"{count} entities in {len(blobs)} files, best of {args.repeat}\n\n")
    columns = ["stage", "wall s", "wall µs/entity", "CPU s", "CPU µs/entity"]
    if args.cprofile:
        columns.append("CPU s under cProfile")
    if args.digest:
        columns.append("digest")
    sys.stdout.write("| " + " | ".join(columns) + " |\n|" + "|".join("---" for _ in columns) + "|\n")
    totals = [0.0, 0.0, 0.0]
    for name, run, shape in stages:
        if args.only and not any(word in name for word in args.only):
            continue
        wall, cpu, result = _best_of(args.repeat, run)
        profiled = _profiled_cpu(run) if args.cprofile else 0.0
        totals = [totals[0] + wall, totals[1] + cpu, totals[2] + profiled]
        cells = [name, f"{wall:.3f}", f"{wall / count * 1e6:.1f}", f"{cpu:.3f}", f"{cpu / count * 1e6:.1f}"]
        if args.cprofile:
            cells.append(f"{profiled:.3f}")
        if args.digest:
            cells.append(_digest(shape(result)))
        sys.stdout.write("| " + " | ".join(cells) + " |\n")
    cells = ["total", f"{totals[0]:.3f}", f"{totals[0] / count * 1e6:.1f}", f"{totals[1]:.3f}"]
    cells.append(f"{totals[1] / count * 1e6:.1f}")
    if args.cprofile:
        cells.append(f"{totals[2]:.3f}")
    if args.digest:
        cells.append("")
    sys.stdout.write("| " + " | ".join(cells) + " |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
