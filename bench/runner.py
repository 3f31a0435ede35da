"""The benchmark runner behind `python -m bench` (see bench/README.md)."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import yaml

from bench import procs, report
from bench.generator import cached_catalog, dump_documents

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = BENCH_DIR / ".cache"
PG_URL = os.environ.get("GREENROOM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
STATUS_PATH = "/api/catalog/status"
WARMUP = 5
MIB = 1024 * 1024


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def greenroom_command() -> list[str]:
    script = Path(sys.executable).parent / "greenroom"
    return [str(script)] if script.exists() else [sys.executable, "-m", "greenroom.cli.main"]


# --------------------------------------------------------------------------- databases
class Database:
    """Where one run's catalog lives: a fresh SQLite folder or a fresh PostgreSQL schema prefix."""

    def __init__(self, kind: str, run_dir: Path, tag: str) -> None:
        self.kind = kind
        self.data_dir = run_dir / "data"
        self.prefix = f"bench_{tag}_"
        self.schema = f"{self.prefix}catalog"

    def config(self) -> dict[str, Any]:
        if self.kind == "postgres":
            return {"client": "pg", "connection": PG_URL, "prefix": self.prefix}
        return {"client": "sqlite"}

    # ---- raw access for measurements (never for the benchmarked work itself) ----
    @contextlib.contextmanager
    def pg(self) -> Iterator[Any]:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            yield conn

    def sqlite_file(self) -> Path | None:
        found = sorted(self.data_dir.glob("*catalog*.sqlite"))
        return found[0] if found else None

    @contextlib.contextmanager
    def sqlite(self) -> Iterator[sqlite3.Connection]:
        path = self.sqlite_file()
        if path is None:
            raise RuntimeError(f"no catalog SQLite file under {self.data_dir}")
        conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=60000")
        try:
            yield conn
        finally:
            conn.close()

    def size_bytes(self) -> int:
        if self.kind == "postgres":
            with self.pg() as conn:
                row = conn.execute(
                    "SELECT coalesce(sum(pg_total_relation_size("
                    "format('%%I.%%I', schemaname, tablename))), 0) FROM pg_tables WHERE schemaname = %s",
                    (self.schema,),
                ).fetchone()
                return int(row[0])
        return sum(p.stat().st_size for p in self.data_dir.rglob("*") if p.is_file())

    def version(self) -> str | None:
        if self.kind != "postgres":
            return None
        with self.pg() as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])

    def defer_processing(self, hours: float) -> None:
        """Make no kept entity due for `hours` (attach mode only; never during a measured ingest)."""
        later = time.time() + hours * 3600
        if self.kind == "postgres":
            with self.pg() as conn:
                conn.execute(f'SET search_path TO "{self.schema}"')
                conn.execute("UPDATE refresh_state SET next_update_at = %s", (later,))
        else:
            with self.sqlite() as conn:
                conn.execute("UPDATE refresh_state SET next_update_at = ?", (later,))

    def write_counters(self) -> dict[str, int]:
        """PostgreSQL: n_tup_ins + n_tup_upd + n_tup_del per table of the schema."""
        with self.pg() as conn:
            rows = conn.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
                "WHERE schemaname = %s",
                (self.schema,),
            ).fetchall()
        return {str(name): int(count) for name, count in rows}

    def snapshot(self) -> dict[str, Any]:
        """What a rewrite would change: final entity hashes/times, relation and search row counts."""
        query_final = "SELECT entity_id, hash, last_updated_at FROM final_entities"
        query_state = "SELECT entity_id, result_hash FROM refresh_state"
        counts = {}
        if self.kind == "postgres":
            with self.pg() as conn:
                conn.execute(f'SET search_path TO "{self.schema}"')
                final = {r[0]: (r[1], r[2]) for r in conn.execute(query_final)}
                state = {r[0]: r[1] for r in conn.execute(query_state)}
                for table in ("relations", "search", "final_entities", "refresh_state"):
                    counts[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        else:
            with self.sqlite() as conn:
                final = {r[0]: (r[1], r[2]) for r in conn.execute(query_final)}
                state = {r[0]: r[1] for r in conn.execute(query_state)}
                for table in ("relations", "search", "final_entities", "refresh_state"):
                    counts[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return {"final": final, "state": state, "counts": counts}

    def make_everything_due(self) -> int:
        """Set every entity due now: the same work as one full processing interval elapsing."""
        sql = "UPDATE refresh_state SET next_update_at = 0"
        if self.kind == "postgres":
            with self.pg() as conn:
                conn.execute(f'SET search_path TO "{self.schema}"')
                return int(conn.execute(sql).rowcount)
        with self.sqlite() as conn:
            return int(conn.execute(sql).rowcount)

    def analyze(self) -> float:
        """ANALYZE the catalog's tables (only with --analyze: the product should not need it)."""
        began = time.perf_counter()
        if self.kind == "postgres":
            with self.pg() as conn:
                conn.execute(f'SET search_path TO "{self.schema}"')
                conn.execute("ANALYZE")
        else:
            with self.sqlite() as conn:
                conn.execute("ANALYZE")
        return round(time.perf_counter() - began, 2)

    def drop(self) -> None:
        if self.kind == "postgres":
            with contextlib.suppress(Exception), self.pg() as conn:
                # every plugin gets a schema `<prefix><plugin>`: drop them all
                rows = conn.execute(
                    "SELECT nspname FROM pg_namespace WHERE left(nspname, %s) = %s",
                    (len(self.prefix), self.prefix),
                ).fetchall()
                for (schema,) in rows:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --------------------------------------------------------------------------- processes
@dataclass
class Cluster:
    """One `greenroom serve` (plus optional `greenroom worker`s) on a fresh database."""

    run_dir: Path
    catalog_dir: Path
    db: Database
    workers: int = 0
    interval: dict[str, int] = field(default_factory=lambda: {"minutes": 30})
    profile: Path | None = None
    port: int = 0
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def write_config(self) -> Path:
        self.port = free_port()
        config = {
            "app": {"baseUrl": f"http://127.0.0.1:{self.port}"},
            "backend": {
                "baseUrl": f"http://127.0.0.1:{self.port}",
                "listen": {"host": "127.0.0.1", "port": self.port},
                "dataDir": str(self.db.data_dir),
                "database": self.db.config(),
                "reading": {"roots": [str(self.catalog_dir)]},
            },
            "catalog": {
                "rules": [
                    {
                        "allow": [
                            "Component",
                            "API",
                            "Resource",
                            "System",
                            "Domain",
                            "Group",
                            "User",
                            "Location",
                            "Template",
                        ]
                    }
                ],
                "processingInterval": self.interval,
                "orphanStrategy": "delete",
            },
        }
        path = self.run_dir / "app-config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        if self.profile is not None:
            serve = [
                sys.executable,
                "-m",
                "bench.profiled_serve",
                "--config",
                str(config),
                "--profile-out",
                str(self.profile),
            ]
        else:
            serve = [*greenroom_command(), "serve", "--config", str(config)]
        env = {
            **os.environ,
            "PYTHONPATH": str(BENCH_DIR.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        self.procs.append(("serve", self._spawn(serve, "serve", env)))
        self.wait_ready()
        for i in range(self.workers):
            cmd = [*greenroom_command(), "worker", "--config", str(config)]
            self.procs.append((f"worker-{i + 1}", self._spawn(cmd, f"worker-{i + 1}", env)))

    def _spawn(self, cmd: list[str], name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = open(self.run_dir / f"{name}.log", "wb")  # noqa: SIM115 - handed to the child
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.run_dir, env=env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_pid(self) -> int:
        return self.procs[0][1].pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            proc = self.procs[0][1]
            if proc.poll() is not None:
                raise RuntimeError(
                    f"greenroom serve exited with {proc.returncode}; see {self.run_dir}/serve.log"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/.backstage/health/v1/readiness", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("greenroom serve did not become ready")

    def cpu(self) -> dict[str, float]:
        return {name: procs.cpu_seconds(p.pid) for name, p in self.procs}

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(2)  # SIGINT: graceful shutdown
        for _, proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


# --------------------------------------------------------------------------- measurements
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


QUERY_BUDGET_SECONDS = 60.0


def timed(client: httpx.Client, requests: int, make: Callable[[int], httpx.Request]) -> dict[str, Any]:
    """p50/p95/max in ms; a query slower than QUERY_BUDGET_SECONDS in total stops early (≥ 5 samples)."""
    samples: list[float] = []
    first_ms: float | None = None
    began_all = time.perf_counter()
    truncated = False
    for i in range(WARMUP + requests):
        spent = time.perf_counter() - began_all
        over = spent > QUERY_BUDGET_SECONDS
        if (over and len(samples) >= 5) or (samples and spent > 3 * QUERY_BUDGET_SECONDS):
            truncated = True
            break
        request = make(i)
        began = time.perf_counter()
        response = client.send(request)
        response.read()
        elapsed = time.perf_counter() - began
        if first_ms is None:
            first_ms = elapsed * 1000  # the cold request: nothing cached yet in the server
        if response.status_code != 200:
            raise RuntimeError(
                f"{request.method} {request.url} -> {response.status_code}: {response.text[:300]}"
            )
        if i >= WARMUP or over:  # over budget: the remaining warm-ups count as samples
            samples.append(elapsed * 1000)
    return {
        "p50Ms": round(statistics.median(samples), 2),
        "p95Ms": round(percentile(samples, 0.95), 2),
        "maxMs": round(max(samples), 2),
        "firstMs": round(first_ms or 0.0, 2),
        "n": len(samples),
        "truncated": truncated,
    }


def relation_set(entity: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["type"], r["targetRef"]) for r in entity.get("relations", [])}


def check_complete(client: httpx.Client, manifest: dict[str, Any]) -> tuple[bool, bool, str]:
    """(complete, relations exact, reason): kinds counted as in the manifest, sample relations stitched."""
    for kind, expected in manifest["counts"].items():
        r = client.get("/api/catalog/entities/by-query", params={"filter": f"kind={kind}", "limit": 1})
        total = r.json().get("totalItems")
        if total != expected:
            return False, False, f"{kind}: {total}/{expected}"
    sample = manifest["sampleRelations"]
    refs = list(sample)
    items = client.post("/api/catalog/entities/by-refs", json={"entityRefs": refs}).json()["items"]
    exact = True
    for ref, item in zip(refs, items, strict=True):
        if item is None:
            return False, False, f"{ref} missing"
        want = {(t, target) for t, target in sample[ref]}
        have = relation_set(item)
        if not want <= have:
            return False, False, f"{ref} lacks {sorted(want - have)[:3]}"
        exact = exact and want == have
    return True, exact, "ok"


def wait_ingested(
    cluster: Cluster, client: httpx.Client, manifest: dict[str, Any], timeout: float
) -> tuple[float, bool]:
    """Poll until the catalog holds every entity and every sampled relation; return (when, exact)."""
    deadline = time.time() + timeout
    total = manifest["total"]
    last_log = 0.0
    # every poll counts entities on the server; at scale a finer poll would measurably slow the
    # ingest it is timing, and a second is fine resolution for a minute-long ingest
    poll = 0.25 if total <= 20_000 else 1.0
    while time.time() < deadline:
        now = time.perf_counter()
        status = client.get(STATUS_PATH).json()
        queues = status["queues"]
        if status["entities"] >= total and queues["processing"] == 0 and queues["stitching"] == 0:
            complete, exact, reason = check_complete(client, manifest)
            if complete:
                return now, exact
            log(f"queues empty but incomplete: {reason}")
        if time.time() - last_log > 10:
            log(f"  {status['entities']}/{total} entities, queues {queues}, engine {status['engine']}")
            last_log = time.time()
        for name, proc in cluster.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {cluster.run_dir}/{name}.log")
        time.sleep(poll)
    raise TimeoutError(f"catalog not complete after {timeout:.0f}s")


def wait_for_maintenance(cluster: Cluster, timeout: float = 900) -> float | None:
    """Wait out post-load maintenance (PostgreSQL VACUUM ANALYZE), so latency is the steady state.

    Returns how long the last maintenance took, as the server reports it (None if none ran).
    """
    deadline = time.time() + timeout
    with httpx.Client(base_url=cluster.base_url, timeout=60) as client:
        time.sleep(1.0)  # the last stitch batch triggers it just after the queues empty
        while time.time() < deadline:
            maintenance = client.get(STATUS_PATH).json()["engine"].get("maintenance") or {}
            if not maintenance.get("running"):
                seconds = maintenance.get("lastSeconds")
                if seconds is not None:
                    log(f"  post-load maintenance took {seconds} s")
                return float(seconds) if seconds is not None else None
            time.sleep(1.0)
    raise TimeoutError("post-load maintenance still running")


def canonical_hash(client: httpx.Client) -> tuple[str, int]:
    """sha256 over every entity's own digest (uid/etag removed, relations sorted), order-independent.

    by-query honours only the first sort field and breaks ties by entity id (random per run), so
    the page order is not comparable between runs; sorting the per-entity digests is.
    """
    digests: list[str] = []
    params: dict[str, Any] = {"orderField": "metadata.name,asc", "limit": 1000}
    cursor = None
    while True:
        r = client.get(
            "/api/catalog/entities/by-query", params={"cursor": cursor, "limit": 1000} if cursor else params
        )
        body = r.json()
        for item in body["items"]:
            item["metadata"].pop("uid", None)
            item["metadata"].pop("etag", None)
            item["relations"] = sorted(
                item.get("relations", []), key=lambda rel: (rel["type"], rel["targetRef"])
            )
            digests.append(hashlib.sha256(json.dumps(item, sort_keys=True).encode()).hexdigest())
        cursor = body.get("pageInfo", {}).get("nextCursor")
        if not cursor:
            digest = hashlib.sha256("".join(sorted(digests)).encode())
            return digest.hexdigest(), len(digests)


def measure_latency(
    client: httpx.Client,
    manifest: dict[str, Any],
    requests: int,
    sampler: procs.Sampler | None = None,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """Each query's latency, and the server's peak RSS while it ran (`rssPeakMiB`)."""
    names = [ref.split("/", 1)[1] for ref in manifest["refSamples"]["Component"]]
    all_refs = [r for refs in manifest["refSamples"].values() for r in refs]
    q = "/api/catalog/entities/by-query"
    results: dict[str, Any] = {}

    def get(path: str, params: dict[str, Any] | None = None) -> Callable[[int], httpx.Request]:
        return lambda i: client.build_request("GET", path, params=params)

    def measured(make: Callable[[int], httpx.Request]) -> dict[str, Any]:
        if sampler is None or server_pid is None:
            return timed(client, requests, make)
        sampler.open_window()
        result = timed(client, requests, make)
        result["rssPeakMiB"] = round(sampler.window_peak(server_pid) / MIB, 1)
        return result

    results["list"] = measured(get(q, {"filter": "kind=component", "limit": 20}))
    ordered = {"filter": "kind=component", "limit": 20, "orderField": "metadata.name,asc"}
    results["ordered"] = measured(get(q, ordered))
    cursor = client.get(q, params=ordered).json()["pageInfo"].get("nextCursor")
    # a client paging through passes its page size again: the cursor does not carry it, and
    # without it the server's default page (200 entities) would be measured instead
    results["nextPage"] = measured(get(q, {"cursor": cursor, "limit": 20})) if cursor else None
    results["fullText"] = measured(
        lambda i: client.build_request(
            "GET",
            q,
            params={
                "fullTextFilterTerm": ["payments", "search", "identity", "ledger", "routing"][i % 5],
                "fullTextFilterFields": "metadata.name,metadata.title",
                "limit": 20,
            },
        ),
    )
    results["facetSpecType"] = measured(get("/api/catalog/entity-facets", {"facet": "spec.type"}))
    results["facetTags"] = measured(get("/api/catalog/entity-facets", {"facet": "metadata.tags"}))
    results["byName"] = measured(
        lambda i: client.build_request(
            "GET", f"/api/catalog/entities/by-name/component/default/{quote(names[i % len(names)])}"
        ),
    )

    def by_refs(i: int) -> httpx.Request:
        start = (i * 100) % max(1, len(all_refs) - 100)
        return client.build_request(
            "POST", "/api/catalog/entities/by-refs", json={"entityRefs": all_refs[start : start + 100]}
        )

    results["byRefs"] = measured(by_refs)
    results["groupsFields"] = measured(
        get("/api/catalog/entities", {"filter": "kind=group", "fields": "metadata.name,kind"}),
    )
    probe = client.get("/catalog")
    if probe.status_code == 200 and probe.headers.get("content-type", "").startswith("text/html"):
        results["uiList"] = measured(get("/catalog", {"kind": "component"}))
        results["uiEntity"] = measured(
            lambda i: client.build_request(
                "GET", f"/catalog/default/component/{quote(names[i % len(names)])}"
            ),
        )
    else:
        results["uiList"] = results["uiEntity"] = None
    return results


def measure_stream(cluster: Cluster, sampler: procs.Sampler) -> dict[str, Any]:
    """Unpaged GET /entities: time, size, and how much the server's RSS grows meanwhile."""
    sampler.open_window()
    before = procs.memory(cluster.server_pid)[0]
    began = time.perf_counter()
    size = entities = 0
    tail = b""
    marker = b'"apiVersion":'
    with (
        httpx.Client(base_url=cluster.base_url, timeout=600) as client,
        client.stream("GET", "/api/catalog/entities") as response,
    ):
        for chunk in response.iter_bytes():
            size += len(chunk)
            window = tail + chunk
            entities += window.count(marker) - tail.count(marker)
            tail = window[-len(marker) :]
    seconds = time.perf_counter() - began
    peak = sampler.window_peak(cluster.server_pid)
    return {
        "seconds": round(seconds, 2),
        "mib": round(size / MIB, 1),
        "entities": entities,
        "rssBeforeMiB": round(before / MIB, 1),
        "rssPeakMiB": round(peak / MIB, 1),
        "rssGrowthMiB": round((peak - before) / MIB, 1),
    }


def poll_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> float | None:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if predicate():
            return round(time.perf_counter() - began, 3)
        time.sleep(interval)
    return None


def measure_incremental(cluster: Cluster, client: httpx.Client, manifest: dict[str, Any]) -> dict[str, Any]:
    catalog = cluster.catalog_dir
    files = manifest["files"]
    result: dict[str, Any] = {}

    # (a) edit one component's description (an in-place save, as an editor does)
    edited = next(f for f in files if f["path"].startswith("components/"))
    name = edited["first"].split("/", 1)[1]
    path = catalog / edited["path"]
    new = f"Edited by the bench at {time.time():.3f}"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^  description: .*$", f"  description: {new}", text, count=1, flags=re.MULTILINE)
    url = f"/api/catalog/entities/by-name/component/default/{quote(name)}"

    def edited_visible() -> bool:
        r = client.get(url)
        return r.status_code == 200 and r.json()["metadata"].get("description") == new

    with open(path, "r+", encoding="utf-8") as handle:
        handle.write(text)
        handle.truncate()
    result["editVisibleSeconds"] = poll_until(edited_visible, 120)
    log(f"  edit visible after {result['editVisibleSeconds']} s")

    # (b) drop one file from the root Location's targets: its entities become orphans
    removed = [f for f in files if f["path"].startswith("components/")][1:2] or [files[-1]]
    gone = removed[0]
    before = client.get(STATUS_PATH).json()["entities"]
    root = catalog / manifest["root"]
    root_text = root.read_text(encoding="utf-8")
    first_ref = gone["first"]
    kind, rest = first_ref.split(":", 1)
    ns, gone_name = rest.split("/", 1)
    root_doc = yaml.safe_load(root_text)
    root_doc["spec"]["targets"] = [t for t in root_doc["spec"]["targets"] if t != f"./{gone['path']}"]
    with open(root, "r+", encoding="utf-8") as handle:
        handle.write(dump_documents([root_doc]))
        handle.truncate()

    def orphans_deleted() -> bool:
        if client.get(f"/api/catalog/entities/by-name/{kind}/{ns}/{quote(gone_name)}").status_code != 404:
            return False
        return client.get(STATUS_PATH).json()["entities"] <= before - gone["refs"]

    result["orphanDeletedSeconds"] = poll_until(orphans_deleted, 300, 0.1)
    result["orphanedEntities"] = gone["refs"]
    log(f"  removed file's {gone['refs']} entities deleted after {result['orphanDeletedSeconds']} s")
    return result


def measure_steady(cluster: Cluster, client: httpx.Client, db: Database) -> dict[str, Any]:
    """Nothing changed: make every entity due (= one processing interval elapsing) and count writes."""
    # let the effects of the incremental phase settle first
    poll_until(lambda: sum(client.get(STATUS_PATH).json()["queues"].values()) == 0, 120, 0.5)
    time.sleep(1.5)
    # everything "before" is taken before the rows are due: the engine starts on them within its
    # poll interval, and a batch counted in engine_before would keep settled() false for good
    snap_before = db.snapshot()
    counters_before = db.write_counters() if db.kind == "postgres" else None
    engine_before = client.get(STATUS_PATH).json()["engine"]
    cpu_before = sum(cluster.cpu().values())
    due = db.make_everything_due()
    began = time.perf_counter()

    def settled() -> bool:
        status = client.get(STATUS_PATH).json()
        return (
            status["engine"]["processed"] - engine_before["processed"] >= due
            and status["queues"]["processing"] == 0
            and status["queues"]["stitching"] == 0
        )

    waited = poll_until(settled, 1800, 0.5)
    time.sleep(1.5)  # trailing stitches/orphan sweeps
    seconds = time.perf_counter() - began
    cpu = sum(cluster.cpu().values()) - cpu_before
    engine_after = client.get(STATUS_PATH).json()["engine"]
    snap_after = db.snapshot()
    rewritten = sum(1 for k, v in snap_after["final"].items() if snap_before["final"].get(k) != v)
    result_changed = sum(1 for k, v in snap_after["state"].items() if snap_before["state"].get(k) != v)
    out: dict[str, Any] = {
        "entitiesMadeDue": due,
        "settleSeconds": waited,
        "seconds": round(seconds, 2),
        "cpuSeconds": round(cpu, 2),
        "processed": engine_after["processed"] - engine_before["processed"],
        "changed": engine_after["changed"] - engine_before["changed"],
        "stitched": engine_after["stitched"] - engine_before["stitched"],
        "entitiesRewritten": rewritten,
        "resultHashesChanged": result_changed,
        "rowCountsBefore": snap_before["counts"],
        "rowCountsAfter": snap_after["counts"],
    }
    if counters_before is not None:
        after = db.write_counters()
        per_table = {t: after.get(t, 0) - counters_before.get(t, 0) for t in after}
        per_table["refresh_state"] = per_table.get("refresh_state", 0) - due  # the bench's own UPDATE
        out["rowsWrittenByTable"] = {t: v for t, v in per_table.items() if v}
        out["rowsWritten"] = sum(per_table.values())
    else:
        deltas = {t: snap_after["counts"][t] - snap_before["counts"][t] for t in snap_after["counts"]}
        out["rowCountDeltas"] = deltas
        # SQLite keeps no per-table write counters: rewritten final rows + changed result hashes
        # + net row-count changes is a lower bound of the rows written
        out["rowsWritten"] = rewritten + result_changed + sum(abs(v) for v in deltas.values())
    return out


# --------------------------------------------------------------------------- one run
def prepare_catalog(source: Path, dest: Path, manifest: dict[str, Any]) -> None:
    """A private copy of the cached catalog: hard links, except the files the incremental phase edits."""
    if dest.exists():
        shutil.rmtree(dest)
    editable = {manifest["root"], *(f["path"] for f in manifest["files"][:0])}
    editable |= {f["path"] for f in manifest["files"] if f["path"].startswith("components/")}
    for dirpath, _, filenames in os.walk(source):
        rel_dir = Path(dirpath).relative_to(source)
        (dest / rel_dir).mkdir(parents=True, exist_ok=True)
        for filename in filenames:
            rel = str(rel_dir / filename) if str(rel_dir) != "." else filename
            src, dst = Path(dirpath) / filename, dest / rel_dir / filename
            if rel in editable:
                shutil.copyfile(src, dst)
            else:
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)


def ingest(
    cluster: Cluster, manifest: dict[str, Any], sampler: procs.Sampler, timeout: float
) -> dict[str, Any]:
    for name, proc in cluster.procs:
        sampler.track(proc.pid, name)
    idle_before = {name: procs.memory(p.pid)[0] for name, p in cluster.procs}
    with httpx.Client(base_url=cluster.base_url, timeout=120) as client:
        cpu_before = cluster.cpu()
        database_before = procs.postgres_cpu_seconds() if cluster.db.kind == "postgres" else {}
        began = time.perf_counter()
        r = client.post(
            "/api/catalog/locations",
            json={"type": "file", "target": str(cluster.catalog_dir / manifest["root"])},
        )
        if r.status_code != 201:
            raise RuntimeError(f"registering the root failed: {r.status_code} {r.text[:300]}")
        done_at, exact = wait_ingested(cluster, client, manifest, timeout)
        seconds = done_at - began
        cpu_after = cluster.cpu()
        database_after = procs.postgres_cpu_seconds() if cluster.db.kind == "postgres" else {}
    return {
        "seconds": round(seconds, 2),
        "entitiesPerSecond": round(manifest["total"] / seconds, 1),
        "cpuSeconds": round(sum(cpu_after.values()) - sum(cpu_before.values()), 2),
        "cpuSecondsByProcess": {k: round(cpu_after[k] - cpu_before.get(k, 0), 2) for k in cpu_after},
        "databaseCpuSeconds": (
            round(procs.cpu_delta(database_before, database_after), 2) if database_after else None
        ),
        "relationsExact": exact,
        "idleRssBeforeMiB": {k: round(v / MIB, 1) for k, v in idle_before.items()},
    }


def run_one(
    n: int, db_kind: str, args: argparse.Namespace, stream: bool, pg_version: str | None
) -> dict[str, Any]:
    source, manifest = cached_catalog(args.cache, n, seed=args.seed)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    tag = f"{int(time.time())}_{os.getpid()}_{n}"
    work = args.cache / "runs" / f"{db_kind}-{n}"
    catalog_dir = work / "catalog"
    prepare_catalog(source, catalog_dir, manifest)
    result: dict[str, Any] = {
        "timestamp": stamp,
        "entities": n,
        "db": db_kind,
        "requests": args.requests,
        "seed": args.seed,
        "analyzed": args.analyze,
        "expected": {
            "counts": manifest["counts"],
            "total": manifest["total"],
            "relations": manifest["relationCount"],
            "files": len(manifest["files"]) + 1,
        },
        "machine": report.machine_info(pg_version),
    }
    db = Database(db_kind, work / "run", tag)
    if (work / "run").exists():
        shutil.rmtree(work / "run")
    profile = Path(args.out) / f"profile-{db_kind}-{n}.prof" if args.profile else None
    if profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(work / "run", catalog_dir, db, profile=profile)
    sampler = procs.Sampler()
    sampler.start()
    log(f"{n} entities on {db_kind}: starting greenroom serve")
    try:
        cluster.start()
        result["ingest"] = ingest(cluster, manifest, sampler, args.timeout)
        result["ingest"]["peakRssMiB"] = {k: round(v / MIB, 1) for k, v in sampler.peaks().items()}
        log(f"  ingested in {result['ingest']['seconds']} s")
        result["ingest"]["maintenanceSeconds"] = wait_for_maintenance(cluster)
        idle = procs.settle_rss([p.pid for _, p in cluster.procs])
        names = {p.pid: name for name, p in cluster.procs}
        result["database"] = {"sizeMiB": round(db.size_bytes() / MIB, 1)}
        if args.analyze:
            result["database"]["analyzeSeconds"] = db.analyze()
        with httpx.Client(base_url=cluster.base_url, timeout=900) as client:
            if args.workers:
                result["ingest"]["hash"], result["ingest"]["hashedEntities"] = canonical_hash(client)
            log("  measuring latency")
            result["latency"] = measure_latency(client, manifest, args.requests, sampler, cluster.server_pid)
            if stream:
                log("  streaming GET /entities")
                result["stream"] = measure_stream(cluster, sampler)
            if not args.skip_incremental:
                log("  incremental phase")
                result["incremental"] = measure_incremental(cluster, client, manifest)
                result["incremental"]["steady"] = measure_steady(cluster, client, db)
        result["memory"] = {
            "peakRssMiB": {k: round(v / MIB, 1) for k, v in sampler.peaks().items()},
            "hwmMiB": {names[pid]: round(procs.memory(pid)[1] / MIB, 1) for pid in names},
            "idleRssMiB": {names[pid]: round(v / MIB, 1) for pid, v in idle.items()},
            "idleRssBeforeIngestMiB": result["ingest"].pop("idleRssBeforeMiB"),
        }
    finally:
        cluster.stop()
        sampler.stop()
        if not args.keep:
            db.drop()
    if args.workers:
        result["scaleOut"] = run_scale_out(n, db_kind, args, source, manifest, result["ingest"])
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    result["table"] = report.evaluate(result)
    return result


def run_attached(
    n: int, db_kind: str, args: argparse.Namespace, stream: bool, pg_version: str | None
) -> dict[str, Any]:
    """Measure the queries again, with the current code, on the catalog a `--keep` run left behind.

    An ingest of 1M entities takes most of an hour; this re-measures latency after a query
    change without repeating it. The kept entities' next processing is pushed past the
    measurement, so the loop is idle as it was right after the original ingest (at 1M the
    30-minute processing interval is shorter than the ingest itself).
    """
    _, manifest = cached_catalog(args.cache, n, seed=args.seed)
    work = args.cache / "runs" / f"{db_kind}-{n}"
    kept_config = work / "run" / "app-config.yaml"
    if not kept_config.exists():
        raise SystemExit(f"--attach: nothing kept at {work}; run once with --keep first")
    database = (yaml.safe_load(kept_config.read_text(encoding="utf-8")) or {})["backend"]["database"]
    prefix = str(database.get("prefix") or "")
    tag = prefix.removeprefix("bench_").removesuffix("_")
    db = Database(db_kind, work / "run", tag)
    result: dict[str, Any] = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "entities": n,
        "db": db_kind,
        "requests": args.requests,
        "seed": args.seed,
        "analyzed": False,
        "attachedTo": str(work.relative_to(args.cache.parent) if args.cache.parent in work.parents else work),
        "expected": {"counts": manifest["counts"], "total": manifest["total"]},
        "machine": report.machine_info(pg_version),
    }
    db.defer_processing(hours=6)
    cluster = Cluster(work / "run", work / "catalog", db, interval={"hours": 6})
    sampler = procs.Sampler()
    sampler.start()
    log(f"{n} entities on {db_kind}: attaching greenroom serve to the kept catalog")
    try:
        cluster.start()
        for name, proc in cluster.procs:
            sampler.track(proc.pid, name)
        with httpx.Client(base_url=cluster.base_url, timeout=900) as client:
            ok, _, detail = check_complete(client, manifest)
            if not ok:
                raise RuntimeError(f"the kept catalog is not complete: {detail}")
            idle = procs.settle_rss([p.pid for _, p in cluster.procs])
            result["database"] = {"sizeMiB": round(db.size_bytes() / MIB, 1)}
            log("  measuring latency")
            result["latency"] = measure_latency(client, manifest, args.requests, sampler, cluster.server_pid)
            if stream:
                log("  streaming GET /entities")
                result["stream"] = measure_stream(cluster, sampler)
        names = {p.pid: name for name, p in cluster.procs}
        result["memory"] = {
            "peakRssMiB": {k: round(v / MIB, 1) for k, v in sampler.peaks().items()},
            "idleRssMiB": {names[pid]: round(v / MIB, 1) for pid, v in idle.items()},
        }
    finally:
        cluster.stop()
        sampler.stop()
    result["table"] = report.evaluate(result)
    return result


def run_scale_out(
    n: int,
    db_kind: str,
    args: argparse.Namespace,
    source: Path,
    manifest: dict[str, Any],
    single: dict[str, Any],
) -> dict[str, Any]:
    work = args.cache / "runs" / f"{db_kind}-{n}"
    catalog_dir = work / "catalog"
    prepare_catalog(source, catalog_dir, manifest)  # same path as the single-process run: same annotations
    if (work / "run-scale").exists():
        shutil.rmtree(work / "run-scale")
    db = Database(db_kind, work / "run-scale", f"{int(time.time())}_{os.getpid()}_{n}_w")
    cluster = Cluster(work / "run-scale", catalog_dir, db, workers=args.workers)
    sampler = procs.Sampler()
    sampler.start()
    log(f"{n} entities on {db_kind}: serve + {args.workers} workers")
    try:
        cluster.start()
        measured = ingest(cluster, manifest, sampler, args.timeout)
        with httpx.Client(base_url=cluster.base_url, timeout=120) as client:
            digest, count = canonical_hash(client)
    finally:
        cluster.stop()
        sampler.stop()
        if not args.keep:
            db.drop()
    log(f"  scale-out ingest {measured['seconds']} s (single: {single['seconds']} s)")
    return {
        "workers": args.workers,
        "seconds": measured["seconds"],
        "cpuSecondsByProcess": measured["cpuSecondsByProcess"],
        "speedup": round(single["seconds"] / measured["seconds"], 2),
        "identical": digest == single.get("hash") and count == single.get("hashedEntities"),
        "hash": digest,
        "hashedEntities": count,
        "peakRssMiB": {k: round(v / MIB, 1) for k, v in sampler.peaks().items()},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Greenroom catalog benchmark")
    parser.add_argument("--entities", type=int, nargs="+", default=[10_000], metavar="N")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument(
        "--workers", type=int, default=0, help="extra `greenroom worker` processes (scale-out)"
    )
    parser.add_argument("--requests", type=int, default=50, help="timed requests per query (after 5 warm-up)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "results")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help="generated catalogs and run folders"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep data dirs / PostgreSQL schemas")
    parser.add_argument(
        "--attach",
        action="store_true",
        help="skip the ingest: measure queries again on the catalog a --keep run left (kept afterwards)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the processing thread (→ --out/*.prof)"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds an ingest may take")
    parser.add_argument(
        "--analyze", action="store_true", help="run ANALYZE after the ingest (diagnosis: planner statistics)"
    )
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be ≥ 1")
    args.cache = args.cache.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    largest = max(args.entities)
    pg_version = None
    if "postgres" in dbs:
        pg_version = Database("postgres", Path(tempfile.gettempdir()), "probe").version()
    for n in args.entities:
        for db_kind in dbs:
            run = run_attached if args.attach else run_one
            result = run(n, db_kind, args, stream=n == largest, pg_version=pg_version)
            json_path, md_path = report.write(result, args.out)
            sys.stdout.write(report.markdown(result) + f"\n_written: {json_path} and {md_path}_\n\n")
            sys.stdout.flush()
    return 0
