"""Scale-out: `greenroom serve` plus two `greenroom worker` share processing on PostgreSQL,
and no entity is ever processed by two processes (or two loop threads of one) at the same time."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.support.processes import free_port, install_plugin_module, start, stop, wait_ready, write_config

REPO = Path(__file__).resolve().parents[3]
GENERATOR = REPO.parent / "shared" / "compat" / "gen_catalog.py"

RECORDER = '''
"""A catalog module whose processor logs when each entity's processing starts and ends."""
import os
import threading
import time

from greenroom.core.plugin_api import create_module
from greenroom.plugins.catalog.extension_points import catalog_processing_extension_point
from greenroom.plugins.catalog.processing.types import CatalogProcessor
from greenroom.plugins.catalog.model import entity_ref_of

LOG = os.environ["GREENROOM_TEST_PROCESSING_LOG"]


class Recorder(CatalogProcessor):
    name = "Recorder"
    priority = -10_000  # first in, last out

    def _log(self, what, entity):
        with open(f"{LOG}.{os.getpid()}", "a") as handle:
            worker = f"{os.getpid()}/{threading.get_ident()}"
            handle.write(f"{worker} {what} {time.time():.6f} {entity_ref_of(entity)}\\n")

    def pre_process_entity(self, entity, location, emit, origin, cache):
        self._log("start", entity)
        return entity

    def post_process_entity(self, entity, location, emit, cache):
        time.sleep(0.002)  # widen the window so overlaps would be caught
        self._log("end", entity)
        return entity


def register(env):
    env.register_init(deps={"processing": catalog_processing_extension_point}, init=lambda processing: processing.add_processor(Recorder()))


module = create_module("catalog", "recorder", register)
'''


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_and_two_workers_never_process_one_entity_at_once(
    tmp_path: Path, pg_url: str, pg_schema_prefix: str, monkeypatch
) -> None:
    if not GENERATOR.exists():
        pytest.skip(f"{GENERATOR} not found (shared/compat must sit beside the repository)")
    catalog_dir = tmp_path / "catalog"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--entities", "1500", "--out", str(catalog_dir), "--seed", "7"],
        check=True,
        capture_output=True,
    )
    site = install_plugin_module(
        tmp_path / "site",
        "greenroom-recorder",
        "greenroom_recorder",
        RECORDER,
        {"recorder": "greenroom_recorder:module"},
    )
    log_prefix = tmp_path / "processing.log"
    monkeypatch.setenv("GREENROOM_TEST_PROCESSING_LOG", str(log_prefix))
    port = free_port()
    config = write_config(
        tmp_path / "app-config.yaml",
        f"""
        backend:
          baseUrl: http://127.0.0.1:{port}
          listen: {{port: {port}}}
          dataDir: {tmp_path / "data"}
          database: {{client: pg, connection: "{pg_url}", prefix: {pg_schema_prefix}}}
          reading: {{roots: ["{catalog_dir}"]}}
        catalog:
          processingBatchSize: 50
          processingInterval: {{minutes: 30}}
          rules: [{{allow: [Component, API, Resource, System, Domain, Group, User, Location, Template]}}]
        """,
    )
    base = f"http://127.0.0.1:{port}"
    serve = start("serve", config, site=site, cwd=tmp_path, log=tmp_path / "serve.log")
    workers = []
    try:
        wait_ready(base)
        workers = [
            start("worker", config, site=site, cwd=tmp_path, log=tmp_path / f"worker-{i}.log")
            for i in range(2)
        ]
        time.sleep(2)  # let the workers finish starting before work appears
        response = httpx.post(
            base + "/api/catalog/locations", json={"type": "file", "target": str(catalog_dir / "all.yaml")}
        )
        assert response.status_code == 201, response.text
        deadline = time.time() + 240
        while time.time() < deadline:
            status = httpx.get(base + "/api/catalog/status").json()
            if (
                status["entities"] >= 1500
                and status["queues"]["processing"] == 0
                and status["queues"]["stitching"] == 0
            ):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"ingest did not finish: {status}")
    finally:
        stop(serve, *workers)
    # a worker is one loop thread of one process ("pid/thread")
    intervals: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
    per_pid: dict[str, int] = defaultdict(int)
    per_worker: dict[str, int] = defaultdict(int)
    for log in tmp_path.glob("processing.log.*"):
        open_starts: dict[tuple[str, str], float] = {}
        for line in log.read_text().splitlines():
            worker, what, at, ref = line.split(" ", 3)
            if what == "start":
                open_starts[(worker, ref)] = float(at)
            elif (worker, ref) in open_starts:
                intervals[ref].append((worker, open_starts.pop((worker, ref)), float(at)))
                per_pid[worker.split("/")[0]] += 1
                per_worker[worker] += 1
    assert len(per_pid) >= 2, f"the work was not shared: {dict(per_pid)}"
    assert len(per_worker) > len(per_pid), f"one loop thread per process did all: {dict(per_worker)}"
    overlaps = []
    for ref, runs in intervals.items():
        runs.sort(key=lambda r: r[1])
        for (worker_a, _, end_a), (worker_b, start_b, _) in itertools.pairwise(runs):
            if worker_a != worker_b and start_b < end_a:
                overlaps.append(ref)
    assert not overlaps, f"processed by two workers at once: {overlaps[:5]}"
