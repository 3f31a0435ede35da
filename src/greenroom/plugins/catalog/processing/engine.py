"""The processing loops: claim due entities, process them, write results, stitch, clean orphans.

Two loop threads per process run the same round (process a batch, stitch a batch, sweep
orphans). Each waits on the database much of the time (PostgreSQL works in its own processes;
SQLite releases the GIL while it writes), so the two overlap: one computes while the other
waits. Several processes (replicas, `greenroom worker`) share the work the same way: claims are
atomic, so no entity is processed or stitched by two loops at once. A loop sleeps when idle and
is woken immediately when new work is queued. ADR 0010 has the measurements behind this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from greenroom.core.memory import release_free_memory
from greenroom.plugins.catalog.config import CatalogConfig
from greenroom.plugins.catalog.processing.orchestrator import Orchestrator, ProcessingOutcome
from greenroom.plugins.catalog.processing.store import CatalogStore, ClaimedRow, EntityChange
from greenroom.plugins.catalog.processing.types import EmittedError

logger = logging.getLogger("greenroom.catalog.processing")

LOOP_THREADS = 2
"""Loop threads per process: while one waits for the database, the other computes."""
STITCH_BACKLOG_LIMIT = 50_000
"""Stitching waits for a processing backlog until this many stitches are queued."""


@dataclass
class EngineStats:
    processed: int = 0
    changed: int = 0
    stitched: int = 0
    deleted_orphans: int = 0
    rounds: int = 0
    last_error: str | None = None
    busy_seconds: float = 0.0
    maintaining: bool = False
    """True while post-load database maintenance (PostgreSQL VACUUM ANALYZE) runs."""
    last_maintenance_seconds: float | None = None


class ProcessingEngine:
    def __init__(
        self,
        store: CatalogStore,
        orchestrator: Orchestrator,
        config: CatalogConfig,
        *,
        on_changes: Callable[[list[EntityChange]], None] = lambda changes: None,
        on_processed: Callable[[ClaimedRow, ProcessingOutcome], None] | None = None,
    ) -> None:
        self.store = store
        self.orchestrator = orchestrator
        self.config = config
        self.on_changes = on_changes
        self.on_processed = on_processed
        self.stats = EngineStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_orphan_sweep = 0.0
        self._rounds_lock = threading.Lock()
        self._maintenance_lock = threading.Lock()
        self._stitched_since_analyze = 0
        self._active_rounds = 0
        self._held_restitches = False  # this process queued held restitches since its last release
        self.batch_size = config.processing_batch_size
        self.poll_seconds = config.stitch_poll_seconds()
        self.stitch_timeout = config.stitch_timeout_seconds()

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._loop, name=f"greenroom-catalog-processing-{number}", daemon=True)
            for number in range(1, LOOP_THREADS + 1)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    # ------------------------------------------------------------------ work
    def _loop(self) -> None:
        worked_since_idle = False
        while not self._stop.is_set():
            try:
                did_work = self.run_once()
            except Exception as error:  # keep the loop alive; the error is visible in stats and logs
                self.stats.last_error = f"{type(error).__name__}: {error}"
                logger.exception("Catalog processing round failed")
                did_work = False
                self._stop.wait(1.0)
            if did_work:
                worked_since_idle = True
            else:
                if worked_since_idle:  # a burst of batches is over: give its garbage back
                    release_free_memory()
                    worked_since_idle = False
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run_once(self, *, force_sweep: bool = False) -> bool:
        """One round: process a batch, stitch a batch, sweep orphans. True if anything happened."""
        began = time.perf_counter()
        with self._rounds_lock:
            self._active_rounds += 1
            self.stats.rounds += 1
        try:
            processed = self.process_batch()
            processing_backlog = processed >= self.batch_size
            if not processing_backlog and self._held_restitches:
                # restitches held while the backlog was processed are due now (rows another
                # process held and could not release become due by themselves)
                self._held_restitches = False
                self.store.release_held_stitches(time.time(), self.stitch_timeout)
            # While a full backlog of processing remains, stitching now would be redone when the
            # rest of the relations arrive; stitch once the backlog drains (or it grows large).
            backlog = (
                processing_backlog
                and self.store.stitch_backlog(STITCH_BACKLOG_LIMIT, time.time()) < STITCH_BACKLOG_LIMIT
            )
            stitched = 0 if backlog else self.stitch_batch()
            swept = self.sweep_orphans(force=force_sweep)
        finally:
            with self._rounds_lock:
                self._active_rounds -= 1
        did = bool(processed or stitched or swept)
        if did:
            self._count(busy_seconds=time.perf_counter() - began)
        return did

    def process_batch(self) -> int:
        now = time.time()
        rows = self.store.claim_due(self.batch_size, now, self.config.next_interval())
        if not rows:
            return 0
        outcomes: list[tuple[ClaimedRow, ProcessingOutcome]] = []
        for row in rows:
            try:
                entity = orjson.loads(row.unprocessed_entity)
                outcome = self.orchestrator.process(entity, cache=row.cache, input_hash=row.unprocessed_hash)
            except Exception as error:
                logger.exception("Processing %s crashed", row.entity_ref)
                outcome = ProcessingOutcome(
                    ok=False,
                    entity=None,
                    errors=[
                        EmittedError(None, "Error", f"Processing crashed: {type(error).__name__}: {error}")
                    ],
                )
            if self.on_processed is not None:
                self.on_processed(row, outcome)
            outcomes.append((row, outcome))
        self._count(processed=len(rows))
        try:
            changed = self.store.write_outcomes(
                outcomes,
                time.time(),
                hold_restitches=len(rows) >= self.batch_size,
                stitch_timeout=self.stitch_timeout,
            )
        except Exception:
            # give the batch back at once rather than holding it for a whole processing interval
            self.store.release_claims([row.entity_id for row in rows], time.time())
            raise
        if changed and len(rows) >= self.batch_size:
            self._held_restitches = True
        self._count(changed=changed)
        return len(rows)

    def stitch_batch(self) -> int:
        now = time.time()
        claimed = self.store.claim_stitch(self.batch_size * 2, now, self.stitch_timeout)
        if not claimed:
            return 0
        stats = self.store.stitch(claimed, time.time())
        self._count(stitched=stats.stitched)
        if self._maintenance_lock.acquire(blocking=False):
            try:
                self.store.analyze_while_growing(stats.stitched)
            finally:
                self._maintenance_lock.release()
        if len(claimed) < self.batch_size * 2:  # the backlog is drained: a good moment for statistics
            self._maintain(self._stitched_since_analyze + stats.stitched)
            self._stitched_since_analyze = 0
        else:
            self._stitched_since_analyze += stats.stitched
        if stats.changes:
            self.on_changes(stats.changes)
        return len(claimed)

    def _count(self, **amounts: float) -> None:
        """Add to the stats counters (loop threads update them concurrently)."""
        with self._rounds_lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)

    def _maintain(self, written: int) -> None:
        if not self._maintenance_lock.acquire(blocking=False):
            return  # another loop thread is at it
        began = time.perf_counter()
        self.stats.maintaining = True
        try:
            if self.store.analyze_if_grown(written):
                self.stats.last_maintenance_seconds = round(time.perf_counter() - began, 2)
        finally:
            self.stats.maintaining = False
            self._maintenance_lock.release()

    def sweep_orphans(self, *, force: bool = False) -> int:
        if self.config.orphan_strategy != "delete":
            return 0
        now = time.time()
        if not force and now - self._last_orphan_sweep < 1.0:
            return 0
        self._last_orphan_sweep = now
        changes = self.store.delete_orphans(now - self.config.grace_seconds(), now)
        if changes:
            self._count(deleted_orphans=len(changes))
            self.on_changes(changes)
        return len(changes)

    def settle(self, timeout: float = 60.0) -> None:
        """Work (alongside the loop thread, if any) until nothing is due, queued or in flight."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            did = self.run_once(force_sweep=True)
            if did:
                continue
            depths = self.store.queue_depths(time.time())
            with self._rounds_lock:
                idle = self._active_rounds == 0
            if idle and depths["processing"] == 0 and depths["stitching"] == 0:
                # the loop thread may have stitched an orphan after our last sweep: sweep once more
                if self.sweep_orphans(force=True) == 0:
                    return
                continue
            time.sleep(0.02)
        raise TimeoutError(f"Catalog processing did not settle within {timeout}s")
