"""Database operations of catalog processing, written for batches.

Every operation works on many entities per statement (executemany / IN lists) so that ingesting
100k entities costs a few thousand round trips, not millions. Work is claimed with one atomic
`UPDATE ... RETURNING` (PostgreSQL adds `FOR UPDATE SKIP LOCKED` so replicas never take the
same rows); pushing `next_update_at` forward is the lease.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from greenroom.core.db.manager import writer
from greenroom.plugins.catalog import tables as t
from greenroom.plugins.catalog.model import ANNOTATION_ORPHAN, entity_ref_of, sanitize_annotation_urls
from greenroom.plugins.catalog.processing.children import ChildEntity
from greenroom.plugins.catalog.processing.ids import entity_id as new_entity_id
from greenroom.plugins.catalog.processing.orchestrator import ProcessingOutcome, forget_cached_locations
from greenroom.plugins.catalog.processing.types import DeferredEntity, EmittedError
from greenroom.plugins.catalog.query.fields import summary_of
from greenroom.plugins.catalog.query.search_index import SearchRow, build_search_rows

logger = logging.getLogger("greenroom.catalog.processing")

CHUNK = 500
QUEUE_COUNT_LIMIT = 10_000
RESTITCH_HOLD_SECONDS = 300.0
"""How long a held restitch may wait for the processing backlog to drain (then it is due anyway).

While a bulk load is being processed, each batch of components changes the relations of groups,
systems and APIs that may already be stitched; at 1M entities that restitched hubs so often that
stitches outnumbered entities almost two to one. Held, a hub waits until the backlog drains (the
engine then releases every held restitch) or this long at most, so a catalog that is always
behind still sees its hubs' relations within five minutes."""
"""Status queue depths are counted up to this many."""
ESTIMATE_KNOWN_ABOVE = 20_000
"""Above this many entities PostgreSQL's live-row statistic stands in for counting `refresh_state`."""
PROCESSING_STATUS_TYPE = "backstage.io/catalog-processing"
ANALYZED_TABLES = ("refresh_state", "refresh_state_references", "relations", "final_entities", "search")


def retry_on_deadlock(operation: Callable[[], Any], attempts: int = 5) -> Any:
    """Run a write transaction again when PostgreSQL picked it as a deadlock victim.

    Replicas update overlapping rows (parents, children, relation sources) in orders that cannot
    be made globally consistent without serialising them, so a rare deadlock is retried.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except Exception as error:  # SQLAlchemy-wrapped or raw driver errors (bulk writes bypass SQLAlchemy)
            if attempt == attempts or not _is_retryable(error):
                raise
            logger.info("Retrying a catalog write after %s (attempt %d)", _error_name(error), attempt)
            time.sleep(0.05 * attempt)
    return None


def _error_name(error: BaseException) -> str:
    return type(getattr(error, "orig", None) or error).__name__


def _is_retryable(error: BaseException) -> bool:
    if _error_name(error) in ("DeadlockDetected", "SerializationFailure", "LockNotAvailable"):
        return True
    return "database is locked" in str(error)  # SQLite: busy_timeout ran out under heavy load


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def json_hash(value: Any) -> str:
    return hashlib.sha1(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass
class ClaimedRow:
    entity_id: str
    entity_ref: str
    unprocessed_entity: str
    result_hash: str | None
    location_key: str | None
    unprocessed_hash: str | None = None
    cache: str | None = None  # the processor cache stored with the last outcome
    claim_token: str | None = None  # the outcome is written only while the row still holds it


@dataclass
class EntityChange:
    """What a stitch did to an entity's final form (published as an event)."""

    action: str  # created | updated | deleted
    entity_ref: str
    entity_id: str
    entity: dict[str, Any] | None = None


@dataclass
class StitchStats:
    stitched: int = 0
    unchanged: int = 0
    changes: list[EntityChange] = field(default_factory=list)


class CatalogStore:
    """All catalog writes and the queries processing needs, on one SQLAlchemy engine."""

    def __init__(
        self, engine: sa.Engine, *, on_conflict: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.engine = writer(engine)  # every transaction begun here writes
        self.read_engine = engine
        self.dialect = engine.dialect.name
        self.on_conflict = on_conflict or (lambda payload: None)
        self.on_changes: Callable[[list[EntityChange]], None] = lambda changes: None
        self._written_since_analyze = 0
        self._written_since_growth_analyze = 0
        self._analyzed_at_size = 0

    # ------------------------------------------------------------------ helpers
    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def _executemany(
        self,
        conn: sa.Connection,
        sql: str,
        rows: Sequence[tuple[Any, ...]],
        *,
        postgres: str | None = None,
    ) -> None:
        """Run `sql` (written with `?` placeholders) for every row, straight through the driver.

        SQLAlchemy's per-row parameter processing costs more than the database work for the
        hundreds of thousands of rows an ingest writes, so bulk statements bypass it. On
        PostgreSQL, `postgres` is the same change as one statement over `unnest` of one array
        per column (`%b::text[]`, in the rows' column order): one statement instead of one per
        row, which is most of the server's work for small rows. The arrays travel in binary
        (`%b`): psycopg escapes every element of a text-format array with a regular expression,
        which cost 20 times more than the binary form for entity JSON.
        """
        if not rows:
            return
        if self.dialect == "postgresql" and postgres is not None:
            columns = [list(column) for column in zip(*rows, strict=True)]
            with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute(postgres, columns)
            return
        if self.dialect == "postgresql":
            sql = sql.replace("?", "%s")
            with conn.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
                cursor.executemany(sql, rows)
        else:
            conn.connection.driver_connection.executemany(sql, rows)  # type: ignore[union-attr]

    def _bulk_insert(
        self, conn: sa.Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Append rows to `table`: COPY on PostgreSQL, executemany on SQLite."""
        if not rows:
            return
        if self.dialect == "postgresql":
            # binary COPY: no per-value escaping in Python (every bulk-inserted column is text)
            raw = conn.connection.driver_connection
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
            with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
                copy.set_types(["text"] * len(columns))
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            conn.connection.driver_connection.executemany(  # type: ignore[union-attr]
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
            )

    def mark_for_stitching(
        self,
        conn: sa.Connection,
        refs: Iterable[str],
        due_at: float,
        *,
        held: Iterable[str] = (),
        stitch_timeout: float = 60.0,
    ) -> None:
        """Queue refs for stitching at `due_at`; a fresh ticket supersedes a stitch already in flight.

        A ref queued again takes the new due time: the queue is served least recently changed
        first, so an entity that keeps changing waits behind those that have settled. A ref
        queued again while it is being stitched (its due time is then the stitch's lease)
        becomes due at `due_at`.

        `held` refs are restitches that may wait while a bulk load is being processed (see
        `RESTITCH_HOLD_SECONDS`). A held mark never delays a ref that is waiting to be stitched,
        nor one already held; a ref being stitched (due at the end of its lease) is held rather
        than left to wait for its lease to run out. A ref in both sets is not held.

        One statement over all refs in order: concurrent transactions (loop threads, workers)
        then lock queue rows in the same order and cannot deadlock on them.
        """
        now_refs = set(refs)
        held_refs = set(held) - now_refs
        if not now_refs and not held_refs:
            return
        ticket = uuid.uuid4().hex  # one per call is enough: a ticket only has to differ from the last one
        # Leases end at most `stitch_timeout` after their claim, held rows at least `hold` after
        # their mark; halfway between tells them apart even when this transaction's `due_at`
        # is older than a claim made while it ran. The bounds are floats made here, not input,
        # so they are safe to write into the statement.
        hold = max(RESTITCH_HOLD_SECONDS, 4 * stitch_timeout)
        lease_from, lease_until = float(due_at), float(due_at + hold / 2)
        earlier = "LEAST" if self.dialect == "postgresql" else "min"
        current = "stitch_queue.next_stitch_at"
        new_due = (
            f"CASE WHEN excluded.next_stitch_at <= {lease_until!r} THEN excluded.next_stitch_at "  # not held
            f"WHEN {current} > {lease_from!r} AND {current} <= {lease_until!r} THEN excluded.next_stitch_at "
            f"ELSE {earlier}({current}, excluded.next_stitch_at) END"
        )
        rows = sorted(
            [(ref, ticket, due_at) for ref in now_refs] + [(ref, ticket, due_at + hold) for ref in held_refs]
        )
        self._executemany(
            conn,
            "INSERT INTO stitch_queue (entity_ref, stitch_ticket, next_stitch_at) VALUES (?, ?, ?) "
            f"ON CONFLICT (entity_ref) DO UPDATE SET stitch_ticket = excluded.stitch_ticket, next_stitch_at = {new_due}",
            rows,
            postgres="INSERT INTO stitch_queue (entity_ref, stitch_ticket, next_stitch_at) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::float8[]) "
            f"ON CONFLICT (entity_ref) DO UPDATE SET stitch_ticket = excluded.stitch_ticket, next_stitch_at = {new_due}",
        )

    def release_held_stitches(self, now: float, stitch_timeout: float) -> int:
        """Make held restitches due now (the processing backlog has drained). Returns how many.

        Held rows are those due later than any lease can run (`now + stitch_timeout`); a held
        row due sooner than that becomes due by itself. A read finds whether there are any
        first, so an idle loop does not take the write lock for nothing every round.
        """
        sq = t.stitch_queue
        held = sq.c.next_stitch_at > now + stitch_timeout
        with self.read_engine.connect() as conn:
            if conn.execute(sa.select(sq.c.entity_ref).where(held).limit(1)).first() is None:
                return 0
        with self.engine.begin() as conn:
            return int(conn.execute(sq.update().where(held).values(next_stitch_at=now)).rowcount)

    # ------------------------------------------------------------------ ingestion
    def upsert_entities(
        self,
        conn: sa.Connection,
        items: Sequence[tuple[dict[str, Any], str | None]],
        now: float,
    ) -> tuple[dict[str, str], list[tuple[str, str | None, str | None]]]:
        """Insert or update unprocessed entities; returns ({ref: entity_id} accepted, conflicts).

        A ref already owned by another location key is a conflict: the first owner keeps it.
        """
        serialised = [ChildEntity(entity_ref_of(entity), key, dumps(entity)) for entity, key in items]
        return self.upsert_serialised(conn, serialised, now, first_keys={})

    def upsert_serialised(
        self,
        conn: sa.Connection,
        items: Sequence[ChildEntity],
        now: float,
        *,
        first_keys: dict[str, str | None],
        unprocessed: set[str] | None = None,
    ) -> tuple[dict[str, str], list[tuple[str, str | None, str | None]]]:
        """`upsert_entities` for entities already serialised, written `CHUNK` rows at a time.

        `first_keys` ({ref: location key} of refs already seen in this write) carries the
        "first one wins" rule across calls, so one large write can be made of several. The
        accepted refs that have never been processed are added to `unprocessed` when given.
        """
        by_ref: dict[str, ChildEntity] = {}
        conflicts: list[tuple[str, str | None, str | None]] = []
        accepted: dict[str, str] = {}
        for item in items:
            ref = item.entity_ref
            if ref in first_keys:
                if first_keys[ref] != item.location_key:
                    conflicts.append((ref, first_keys[ref], item.location_key))  # first one wins
                continue
            first_keys[ref] = item.location_key
            by_ref[ref] = item
            if len(by_ref) >= CHUNK:
                self._upsert_chunk(conn, by_ref, now, accepted, conflicts, unprocessed)
                by_ref = {}
        if by_ref:
            self._upsert_chunk(conn, by_ref, now, accepted, conflicts, unprocessed)
        if conflicts:
            self._record_conflicts(conn, conflicts, now)
        return accepted, conflicts

    def _upsert_chunk(
        self,
        conn: sa.Connection,
        by_ref: dict[str, ChildEntity],
        now: float,
        accepted: dict[str, str],
        conflicts: list[tuple[str, str | None, str | None]],
        unprocessed: set[str] | None,
    ) -> None:
        existing: dict[str, Any] = {
            row.entity_ref: row
            for row in conn.execute(
                sa.select(
                    t.refresh_state.c.entity_id,
                    t.refresh_state.c.entity_ref,
                    t.refresh_state.c.unprocessed_hash,
                    t.refresh_state.c.location_key,
                    t.refresh_state.c.result_hash,
                ).where(t.refresh_state.c.entity_ref.in_(list(by_ref)))
            )
        }
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        for ref, item in by_ref.items():
            location_key = item.location_key
            digest = hashlib.sha1(item.text.encode()).hexdigest()
            current = existing.get(ref)
            if current is None:
                entity_id = new_entity_id()
                inserts.append((entity_id, ref, item.text, digest, "[]", now, now, location_key))
                accepted[ref] = entity_id
                if unprocessed is not None:
                    unprocessed.add(ref)
            elif current.location_key and location_key and current.location_key != location_key:
                conflicts.append((ref, current.location_key, location_key))
            else:
                accepted[ref] = current.entity_id
                if unprocessed is not None and current.result_hash is None:
                    unprocessed.add(ref)
                if current.unprocessed_hash != digest or current.location_key != location_key:
                    updates.append((item.text, digest, location_key, now, now, current.entity_id))
        self._executemany(
            conn,
            "INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, errors, "
            "next_update_at, last_discovery_at, location_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (entity_ref) DO NOTHING",
            inserts,
            postgres="INSERT INTO refresh_state (entity_id, entity_ref, unprocessed_entity, unprocessed_hash, "
            "errors, next_update_at, last_discovery_at, location_key) SELECT * FROM unnest(%b::text[], "
            "%b::text[], %b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[], %b::text[]) "
            "ON CONFLICT (entity_ref) DO NOTHING",
        )
        self._executemany(
            conn,
            "UPDATE refresh_state SET unprocessed_entity = ?, unprocessed_hash = ?, location_key = ?, "
            "next_update_at = ?, last_discovery_at = ? WHERE entity_id = ?",
            updates,
            postgres="UPDATE refresh_state AS s SET unprocessed_entity = v.entity, unprocessed_hash = v.hash, "
            "location_key = v.location_key, next_update_at = v.due, last_discovery_at = v.seen "
            "FROM unnest(%b::text[], %b::text[], %b::text[], %b::float8[], %b::float8[], %b::text[]) "
            "AS v(entity, hash, location_key, due, seen, id) WHERE s.entity_id = v.id",
        )

    def _record_conflicts(
        self, conn: sa.Connection, conflicts: Sequence[tuple[str, str | None, str | None]], now: float
    ) -> None:
        statement = self._insert(t.conflicts)
        statement = statement.on_conflict_do_update(
            index_elements=[t.conflicts.c.entity_ref],
            set_={
                "existing_location_key": statement.excluded.existing_location_key,
                "new_location_key": statement.excluded.new_location_key,
                "last_conflict_at": statement.excluded.last_conflict_at,
            },
        )
        conn.execute(
            statement,
            [
                {
                    "entity_ref": ref,
                    "existing_location_key": old,
                    "new_location_key": new,
                    "last_conflict_at": now,
                }
                for ref, old, new in conflicts
            ],
        )
        for ref, old, new in conflicts:
            logger.warning(
                "Detected conflicting entityRef %s already referenced by %s and now also %s", ref, old, new
            )
            self.on_conflict(
                {"entityRef": ref, "existingLocationKey": old, "newLocationKey": new, "lastConflictAt": now}
            )
        self.mark_for_stitching(conn, [ref for ref, _, _ in conflicts], now)

    def replace_references(
        self,
        conn: sa.Connection,
        *,
        targets_by_source: dict[str, set[str]],
        source_column: str,
        keep_location_keys: Mapping[str, set[str]] | None = None,
        now: float,
        known_states: tuple[set[str], set[str]] | None = None,
    ) -> set[str]:
        """Make each source reference exactly its new targets; returns refs whose orphan state may change.

        `known_states` is (refs just written, those of them never processed), so that only the
        other touched refs are looked up to learn whether they have been processed.

        References to children whose location key is in `keep_location_keys[source]` stay (that
        location was not read again, or failed to read). For such a source the database filters
        its references, so only the children of re-read locations reach Python, not all of them.
        """
        column = t.refresh_state_references.c[source_column]
        keeping = {
            s: keys for s, keys in (keep_location_keys or {}).items() if keys and s in targets_by_source
        }
        existing: dict[str, set[str]] = defaultdict(set)
        kept: dict[str, set[str]] = defaultdict(set)
        for part in chunks([s for s in targets_by_source if s not in keeping]):
            for row in conn.execute(
                sa.select(column, t.refresh_state_references.c.target_entity_ref).where(column.in_(part))
            ):
                existing[row[0]].add(row[1])
        for source in self._sources_with_references(conn, column, list(keeping)):
            keys = keeping[source]
            for target, location_key in self._references_outside(
                conn, source_column, source, keys, targets_by_source[source]
            ):
                existing[source].add(target)
                if location_key is not None and location_key in keys:
                    kept[source].add(target)
        to_delete: list[tuple[str, str]] = []
        to_insert: list[tuple[str, str]] = []
        touched: set[str] = set()
        for source, new_targets in targets_by_source.items():
            old_targets = existing.get(source, set())
            for target in old_targets - new_targets - kept.get(source, set()):
                to_delete.append((source, target))
                touched.add(target)
            for target in new_targets - old_targets:
                to_insert.append((source, target))
                touched.add(target)
        self._executemany(
            conn,
            f"DELETE FROM refresh_state_references WHERE {source_column} = ? AND target_entity_ref = ?",
            to_delete,
            postgres="DELETE FROM refresh_state_references AS r USING unnest(%b::text[], %b::text[]) "
            f"AS v(source, target) WHERE r.{source_column} = v.source AND r.target_entity_ref = v.target",
        )
        self._bulk_insert(conn, "refresh_state_references", (source_column, "target_entity_ref"), to_insert)
        written, unprocessed = known_states or (set(), set())
        unprocessed = (unprocessed & touched) | self._never_processed(conn, touched - written)
        self.mark_for_stitching(conn, touched - unprocessed, now)
        return touched

    @staticmethod
    def _never_processed(conn: sa.Connection, refs: Iterable[str]) -> set[str]:
        """Refs whose entity has not been processed yet: stitching them now would find nothing.

        A new child gains its first reference together with its row; it is queued for
        stitching by its own processing, which sees the references as they are then. At 1M
        entities, queueing each new child here made the stitcher claim a million empty rows.
        """
        rs = t.refresh_state.c
        found: set[str] = set()
        for part in chunks(sorted(refs)):
            found.update(
                conn.execute(
                    sa.select(rs.entity_ref).where(rs.entity_ref.in_(part), rs.result_hash.is_(None))
                ).scalars()
            )
        return found

    @staticmethod
    def _sources_with_references(
        conn: sa.Connection, column: sa.Column[Any], sources: list[str]
    ) -> list[str]:
        """Which of `sources` (entity refs) reference anything at all (EXISTS stops at the first row)."""
        found: list[str] = []
        rs = t.refresh_state
        for part in chunks(sorted(sources)):
            has_references = (
                sa.exists().where(column == rs.c.entity_ref).select_from(t.refresh_state_references)
            )
            found.extend(
                r[0]
                for r in conn.execute(
                    sa.select(rs.c.entity_ref).where(rs.c.entity_ref.in_(part), has_references)
                )
            )
        return found

    def _references_outside(
        self, conn: sa.Connection, source_column: str, source: str, keys: set[str], targets: set[str]
    ) -> list[tuple[str, str | None]]:
        """(target, its location key) of `source`'s references that are new targets or not in `keys`.

        Both lists travel as one JSON parameter each, whatever their length.
        """
        if self.dialect == "postgresql":
            kept = "SELECT jsonb_array_elements_text(CAST(:keys AS jsonb))"
            wanted = "SELECT jsonb_array_elements_text(CAST(:targets AS jsonb))"
        else:
            kept = "SELECT value FROM json_each(:keys)"
            wanted = "SELECT value FROM json_each(:targets)"
        statement = sa.text(
            "SELECT r.target_entity_ref, s.location_key FROM refresh_state_references r "
            "LEFT JOIN refresh_state s ON s.entity_ref = r.target_entity_ref "
            f"WHERE r.{source_column} = :source AND (s.location_key IS NULL "
            f"OR s.location_key NOT IN ({kept}) OR r.target_entity_ref IN ({wanted}))"
        )
        rows = conn.execute(
            statement, {"source": source, "keys": dumps(sorted(keys)), "targets": dumps(sorted(targets))}
        )
        return [(row[0], row[1]) for row in rows]

    def apply_provider_mutation(
        self,
        provider: str,
        *,
        full: Sequence[DeferredEntity] | None = None,
        added: Sequence[DeferredEntity] = (),
        removed: Sequence[str] = (),
    ) -> None:
        """A provider's bucket: full replaces it (missing entities are eagerly deleted), delta edits it.

        Retried as a whole when PostgreSQL picks it as a deadlock victim: removing a location
        deletes a tree that the processing loop (here or in a worker) may be writing at once.
        """
        changes: list[EntityChange] = retry_on_deadlock(
            lambda: self._apply_provider_mutation(provider, full=full, added=added, removed=removed)
        )
        if changes:
            self.on_changes(changes)

    def _apply_provider_mutation(
        self,
        provider: str,
        *,
        full: Sequence[DeferredEntity] | None,
        added: Sequence[DeferredEntity],
        removed: Sequence[str],
    ) -> list[EntityChange]:
        now = time.time()
        changes: list[EntityChange] = []
        with self.engine.begin() as conn:
            items = [(d.entity, d.location_key) for d in (full if full is not None else added)]
            accepted, _ = self.upsert_entities(conn, items, now)
            current: set[str] = set()
            if full is None:
                rows = conn.execute(
                    sa.select(t.refresh_state_references.c.target_entity_ref).where(
                        t.refresh_state_references.c.source_key == provider
                    )
                )
                current = {r[0] for r in rows}
                wanted = (current | set(accepted)) - set(removed)
            else:
                wanted = set(accepted)
                rows = conn.execute(
                    sa.select(t.refresh_state_references.c.target_entity_ref).where(
                        t.refresh_state_references.c.source_key == provider
                    )
                )
                current = {r[0] for r in rows}
            dropped = current - wanted
            self.replace_references(
                conn, targets_by_source={provider: wanted}, source_column="source_key", now=now
            )
            if dropped:
                changes = self.delete_with_pruning(conn, sorted(dropped), now)
        return changes

    # ------------------------------------------------------------------ processing
    def claim_due(self, limit: int, now: float, lease_seconds: float) -> list[ClaimedRow]:
        rs = t.refresh_state
        due = (
            sa.select(rs.c.entity_id)
            .where(rs.c.next_update_at <= now)
            .order_by(rs.c.next_update_at)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            rs.update()
            .where(rs.c.entity_id.in_(due.scalar_subquery()))
            .values(next_update_at=now + lease_seconds, claim_token=uuid.uuid4().hex)
            .returning(
                rs.c.entity_id,
                rs.c.entity_ref,
                rs.c.unprocessed_entity,
                rs.c.result_hash,
                rs.c.location_key,
                rs.c.unprocessed_hash,
                rs.c.cache,
                rs.c.claim_token,
            )
        )
        with self.engine.begin() as conn:
            return [ClaimedRow(*row) for row in conn.execute(statement)]

    def release_claims(self, entity_ids: Sequence[str], now: float) -> None:
        """Make claimed rows due again (their processing failed before anything was written)."""
        with self.engine.begin() as conn:
            for part in chunks(list(entity_ids)):
                conn.execute(
                    t.refresh_state.update()
                    .where(t.refresh_state.c.entity_id.in_(part))
                    .values(next_update_at=now)
                )

    def write_outcomes(
        self,
        outcomes: Sequence[tuple[ClaimedRow, ProcessingOutcome]],
        now: float,
        *,
        hold_restitches: bool = False,
        stitch_timeout: float = 60.0,
    ) -> int:
        """Store processing results; unchanged results write nothing. Returns rows changed.

        The processed entities are queued for stitching at once. Other entities whose relations
        changed (the group that owns a processed component, its system, its APIs) are restitches
        of entities that may already be visible; with `hold_restitches` (more processing is
        waiting) they are held, so that a hub is rewritten once its members are processed
        instead of after every batch that touches it.
        """
        return int(
            retry_on_deadlock(
                lambda: self._write_outcomes(
                    outcomes, now, hold_restitches=hold_restitches, stitch_timeout=stitch_timeout
                )
            )
        )

    def _write_outcomes(
        self,
        outcomes: Sequence[tuple[ClaimedRow, ProcessingOutcome]],
        now: float,
        *,
        hold_restitches: bool = False,
        stitch_timeout: float = 60.0,
    ) -> int:
        changed: list[tuple[ClaimedRow, ProcessingOutcome, str]] = []
        caches: list[tuple[ClaimedRow, ProcessingOutcome]] = []  # a new processor cache (e.g. etags)
        for row, outcome in outcomes:
            digest = _result_hash(outcome)
            if digest != row.result_hash:
                changed.append((row, outcome, digest))
            if outcome.entity is not None and outcome.cache != row.cache:
                caches.append((row, outcome))
        if not changed and not caches:
            return 0
        with self.engine.begin() as conn:
            current = self._superseding_claims(conn, [row for row, _ in outcomes])
            if current:
                # claimed again since (a refresh or a saved file made it due): that newer round
                # read newer input, and its outcome is the one to keep
                changed = [(r, o, h) for r, o, h in changed if r.entity_id not in current]
                caches = [(r, o) for r, o in caches if r.entity_id not in current]
            self._store_caches(conn, caches)
            stitch: set[str] = set()
            failed = [(r, o, h) for r, o, h in changed if o.entity is None]
            succeeded = [(r, o, h) for r, o, h in changed if o.entity is not None]
            if failed:
                conn.execute(
                    t.refresh_state.update()
                    .where(t.refresh_state.c.entity_id == sa.bindparam("b_id"))
                    .values(errors=sa.bindparam("errors"), result_hash=sa.bindparam("result_hash")),
                    [
                        {"b_id": r.entity_id, "errors": _errors_json(o.errors), "result_hash": h}
                        for r, o, h in failed
                    ],
                )
                stitch.update(r.entity_ref for r, _, _ in failed)
            if succeeded:
                stitch |= self._write_successes(conn, succeeded, now)
            processed = {r.entity_ref for r, _, _ in changed}
            others = stitch - processed
            self.mark_for_stitching(
                conn,
                stitch & processed if hold_restitches else stitch,
                now,
                held=others if hold_restitches else (),
                stitch_timeout=stitch_timeout,
            )
        return len(changed)

    def _superseding_claims(self, conn: sa.Connection, rows: Sequence[ClaimedRow]) -> set[str]:
        """Ids of `rows` claimed again since they were claimed (their token was replaced).

        On PostgreSQL the rows are locked, so a new claim waits until this write commits.
        """
        tokens = {row.entity_id: row.claim_token for row in rows}
        superseded: set[str] = set()
        for part in chunks(list(tokens)):
            query = sa.select(t.refresh_state.c.entity_id, t.refresh_state.c.claim_token).where(
                t.refresh_state.c.entity_id.in_(part)
            )
            if self.dialect == "postgresql":
                query = query.with_for_update()
            superseded.update(
                entity_id for entity_id, token in conn.execute(query) if token != tokens[entity_id]
            )
        return superseded

    def _write_successes(
        self, conn: sa.Connection, items: Sequence[tuple[ClaimedRow, ProcessingOutcome, str]], now: float
    ) -> set[str]:
        stitch: set[str] = set()
        # children of a location that was not read again (unchanged) or failed to read stay as they are
        keep_location_keys: dict[str, set[str]] = {
            r.entity_ref: o.unchanged_locations | {e.location.ref for e in o.errors if e.location is not None}
            for r, o, _ in items
        }
        conflict_errors: dict[str, list[dict[str, Any]]] = self._conflicts_of_unchanged_locations(conn, items)
        # children first, parent by parent and a chunk at a time: a Location may have a million
        targets_by_source: dict[str, set[str]] = {}
        first_keys: dict[str, str | None] = {}
        unprocessed: set[str] = set()
        for row, outcome, _ in items:
            targets: set[str] = set()
            for children in outcome.children.chunks(CHUNK * 10):
                accepted, conflicts = self.upsert_serialised(
                    conn, children, now, first_keys=first_keys, unprocessed=unprocessed
                )
                targets.update(accepted)
                # every conflict of this part is one of this parent's children losing: report it here
                conflict_errors[row.entity_ref].extend(
                    {
                        "name": "ConflictError",
                        "message": f"Detected conflicting entityRef {ref} already referenced by "
                        f"another location; this location ({new_key}) is ignored for it",
                        "location": new_key,
                    }
                    for ref, _, new_key in conflicts
                )
            targets_by_source[row.entity_ref] = targets
        self.replace_references(
            conn,
            targets_by_source=targets_by_source,
            source_column="source_entity_ref",
            keep_location_keys=keep_location_keys,
            now=now,
            known_states=(set().union(*targets_by_source.values()), unprocessed),
        )
        # the entities themselves
        self._executemany(
            conn,
            "UPDATE refresh_state SET processed_entity = ?, result_hash = ?, errors = ? WHERE entity_id = ?",
            postgres="UPDATE refresh_state AS s SET processed_entity = v.entity, result_hash = v.hash, "
            "errors = v.errors FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[]) "
            "AS v(entity, hash, errors, id) WHERE s.entity_id = v.id",
            rows=[
                (
                    dumps(o.entity),
                    h,
                    dumps([e.as_status() for e in o.errors] + conflict_errors.get(r.entity_ref, [])),
                    r.entity_id,
                )
                for r, o, h in items
            ],
        )
        stitch.update(r.entity_ref for r, _, _ in items)
        # relations: replace each entity's rows, restitching every source whose set changed.
        # An entity without a stored result was never written: it has no relations or keys yet.
        written_before = [r.entity_id for r, _, _ in items if r.result_hash is not None]
        old: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
        for part in chunks(written_before):
            for relation_row in conn.execute(
                sa.select(
                    t.relations.c.originating_entity_id,
                    t.relations.c.source_entity_ref,
                    t.relations.c.type,
                    t.relations.c.target_entity_ref,
                ).where(t.relations.c.originating_entity_id.in_(part))
            ):
                old[relation_row[0]].add((relation_row[1], relation_row[2], relation_row[3]))
        replace_ids: list[str] = []
        new_rows: list[tuple[str, str, str, str]] = []
        for row, outcome, _ in items:
            new = {(r.source_ref, r.type, r.target_ref) for r in outcome.relations}
            previous = old.get(row.entity_id, set())
            if new == previous:
                continue
            replace_ids.append(row.entity_id)
            stitch.update(source for source, _, _ in new ^ previous)
            new_rows.extend((row.entity_id, s, ty, tg) for s, ty, tg in sorted(new))
        for part in chunks([entity_id for entity_id in replace_ids if entity_id in old]):
            conn.execute(t.relations.delete().where(t.relations.c.originating_entity_id.in_(part)))
        self._bulk_insert(
            conn,
            "relations",
            ("originating_entity_id", "source_entity_ref", "type", "target_entity_ref"),
            new_rows,
        )
        # refresh keys
        for part in chunks(written_before):
            conn.execute(t.refresh_keys.delete().where(t.refresh_keys.c.entity_id.in_(part)))
        self._bulk_insert(
            conn,
            "refresh_keys",
            ("entity_id", "key"),
            [(r.entity_id, key) for r, o, _ in items for key in sorted(o.refresh_keys)],
        )
        return stitch

    def _store_caches(
        self, conn: sa.Connection, items: Sequence[tuple[ClaimedRow, ProcessingOutcome]]
    ) -> None:
        """Store new processor caches, unless the cache changed since the claim.

        A refresh while the entity was being processed dropped (or marked stale) the cache this
        processing started from; keeping the refresh's version makes the next round read again.
        """
        same = "cache IS NOT DISTINCT FROM ?" if self.dialect == "postgresql" else "cache IS ?"
        self._executemany(
            conn,
            f"UPDATE refresh_state SET cache = ? WHERE entity_id = ? AND {same}",
            [(o.cache, r.entity_id, r.cache) for r, o in items],
            postgres="UPDATE refresh_state AS s SET cache = v.cache "
            "FROM unnest(%b::text[], %b::text[], %b::text[]) AS v(cache, id, claimed) "
            "WHERE s.entity_id = v.id AND s.cache IS NOT DISTINCT FROM v.claimed",
        )

    @staticmethod
    def _conflicts_of_unchanged_locations(
        conn: sa.Connection, items: Sequence[tuple[ClaimedRow, ProcessingOutcome, str]]
    ) -> dict[str, list[dict[str, Any]]]:
        """The conflict errors a parent had for locations not read this time: they still stand."""
        carried: dict[str, list[dict[str, Any]]] = defaultdict(list)
        unchanged = {
            r.entity_id: (r.entity_ref, o.unchanged_locations) for r, o, _ in items if o.unchanged_locations
        }
        for part in chunks(list(unchanged)):
            for entity_id, errors in conn.execute(
                sa.select(t.refresh_state.c.entity_id, t.refresh_state.c.errors).where(
                    t.refresh_state.c.entity_id.in_(part)
                )
            ):
                ref, keys = unchanged[entity_id]
                carried[ref].extend(
                    e
                    for e in orjson.loads(errors or "[]")
                    if isinstance(e, dict) and e.get("name") == "ConflictError" and e.get("location") in keys
                )
        return carried

    # ------------------------------------------------------------------ stitching
    def claim_stitch(self, limit: int, now: float, timeout: float) -> list[tuple[str, str]]:
        sq = t.stitch_queue
        due = (
            sa.select(sq.c.entity_ref)
            .where(sq.c.next_stitch_at <= now)
            .order_by(sq.c.next_stitch_at)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            sq.update()
            .where(sq.c.entity_ref.in_(due.scalar_subquery()))
            .values(next_stitch_at=now + timeout)
            .returning(sq.c.entity_ref, sq.c.stitch_ticket)
        )
        with self.engine.begin() as conn:
            return [(row[0], row[1]) for row in conn.execute(statement)]

    def stitch(self, claimed: Sequence[tuple[str, str]], now: float) -> StitchStats:
        """Recompute the final entities of `claimed` refs; a newer ticket means someone re-queued it."""
        return retry_on_deadlock(lambda: self._stitch(sorted(claimed), now))  # type: ignore[no-any-return]

    def _stitch(self, claimed: Sequence[tuple[str, str]], now: float) -> StitchStats:
        """Read and compute without locks, then write what is still ours in a short transaction.

        Every change to a stitch's inputs (processed entity, relations, references, errors,
        conflicts) queues the ref again with a new ticket in the same transaction. So a ref
        whose ticket is still ours once its queue row is locked for writing was computed from
        current inputs; one with a new ticket is left to whoever holds that ticket, and an
        older stitch never overwrites a newer one. Keeping the reads and the computing out of
        the write transaction lets processing write meanwhile (SQLite has one writer at a time;
        PostgreSQL made processing wait on the locked queue rows).
        """
        stats = StitchStats()
        if not claimed:
            return stats
        refs = [ref for ref, _ in claimed]
        ours = dict(claimed)
        with self.read_engine.connect() as conn:
            rows = {}
            for part in chunks(refs):
                for row in conn.execute(
                    sa.select(
                        t.refresh_state.c.entity_id,
                        t.refresh_state.c.entity_ref,
                        t.refresh_state.c.processed_entity,
                        t.refresh_state.c.errors,
                        t.refresh_state.c.orphaned_at,
                    ).where(t.refresh_state.c.entity_ref.in_(part))
                ):
                    rows[row.entity_ref] = row
            incoming: dict[str, int] = defaultdict(int)
            relations: dict[str, set[tuple[str, str]]] = defaultdict(set)
            conflicts: dict[str, Any] = {}
            finals: dict[str, str] = {}
            present = list(rows)
            ids = [rows[r].entity_id for r in present]
            for part in chunks(present):
                for target, count in conn.execute(
                    sa.select(t.refresh_state_references.c.target_entity_ref, sa.func.count())
                    .where(t.refresh_state_references.c.target_entity_ref.in_(part))
                    .group_by(t.refresh_state_references.c.target_entity_ref)
                ):
                    incoming[target] = count
                for source, type_, target in conn.execute(
                    sa.select(
                        t.relations.c.source_entity_ref, t.relations.c.type, t.relations.c.target_entity_ref
                    ).where(t.relations.c.source_entity_ref.in_(part))
                ):
                    relations[source].add((type_, target))
                for row in conn.execute(sa.select(t.conflicts).where(t.conflicts.c.entity_ref.in_(part))):
                    conflicts[row.entity_ref] = row
            for part in chunks(ids):
                for entity_id, digest in conn.execute(
                    sa.select(t.final_entities.c.entity_id, t.final_entities.c.hash).where(
                        t.final_entities.c.entity_id.in_(part)
                    )
                ):
                    finals[entity_id] = digest
        upserts: list[tuple[str, str, str, str, float, str]] = []  # id, ref, hash, text, updated at, summary
        search_rows: dict[str, list[SearchRow]] = {}
        orphan_updates: dict[str, float | None] = {}
        changes: dict[str, EntityChange] = {}
        unchanged = 0
        for ref in present:
            row = rows[ref]
            is_orphan = incoming.get(ref, 0) == 0
            if is_orphan != (row.orphaned_at is not None):
                orphan_updates[row.entity_id] = now if is_orphan else None
            if row.processed_entity is None:
                continue
            entity = orjson.loads(row.processed_entity)
            final = _final_entity(
                entity,
                row.entity_id,
                relations.get(ref, set()),
                orjson.loads(row.errors or "[]"),
                conflicts.get(ref),
                is_orphan,
            )
            digest = json_hash(final)
            if finals.get(row.entity_id) == digest:
                unchanged += 1
                continue
            final["metadata"]["etag"] = digest
            upserts.append((row.entity_id, ref, digest, dumps(final), now, summary_of(final)))
            search_rows[row.entity_id] = build_search_rows(row.entity_id, final)
            changes[row.entity_id] = EntityChange(
                "updated" if row.entity_id in finals else "created", ref, row.entity_id, final
            )
        written = self._write_stitched(claimed, ours, rows, upserts, search_rows, orphan_updates, finals, now)
        stats.unchanged = unchanged
        stats.stitched = len(written)
        stats.changes = [changes[entity_id] for entity_id in written]
        return stats

    def _write_stitched(
        self,
        claimed: Sequence[tuple[str, str]],
        ours: dict[str, str],
        rows: dict[str, Any],
        upserts: list[tuple[str, str, str, str, float, str]],
        search_rows: dict[str, list[SearchRow]],
        orphan_updates: dict[str, float | None],
        finals: dict[str, str],
        now: float,
    ) -> list[str]:
        """Write the stitched refs whose ticket is still ours; returns the ids of entities written."""
        refs = [ref for ref, _ in claimed]
        with self.engine.begin() as conn:
            current: dict[str, str] = {}
            for part in chunks(refs):
                query = sa.select(t.stitch_queue.c.entity_ref, t.stitch_queue.c.stitch_ticket).where(
                    t.stitch_queue.c.entity_ref.in_(part)
                )
                if self.dialect == "postgresql":
                    query = query.with_for_update()
                current.update(dict(conn.execute(query).all()))
            still_ours = {ref for ref in refs if current.get(ref) == ours[ref]}
            # entities deleted since they were read are not written (a final entity needs its row);
            # on PostgreSQL the key-share lock keeps them until this transaction ends
            ids = [rows[ref].entity_id for ref in still_ours if ref in rows]
            alive: set[str] = set()
            for part in chunks(sorted(ids)):
                query = sa.select(t.refresh_state.c.entity_id).where(t.refresh_state.c.entity_id.in_(part))
                if self.dialect == "postgresql":
                    query = query.with_for_update(key_share=True)
                alive.update(conn.execute(query).scalars())
            upserts = [u for u in upserts if u[0] in alive]
            written = [u[0] for u in upserts]
            if upserts:
                # an entity stitched for the first time has no search rows to delete; one stitched
                # before only changes the rows that differ
                fresh = [row for u in upserts for row in search_rows[u[0]]]
                changed_ids = {u[0] for u in upserts if u[0] in finals}
                fresh = self._search_row_changes(conn, changed_ids, fresh)
                self._executemany(
                    conn,
                    "INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity, last_updated_at, "
                    "summary) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (entity_id) DO UPDATE SET "
                    "hash = excluded.hash, final_entity = excluded.final_entity, "
                    "last_updated_at = excluded.last_updated_at, summary = excluded.summary",
                    upserts,
                    postgres="INSERT INTO final_entities (entity_id, entity_ref, hash, final_entity, "
                    "last_updated_at, summary) SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], "
                    "%b::text[], %b::float8[], %b::text[]) ON CONFLICT (entity_id) DO UPDATE SET "
                    "hash = excluded.hash, final_entity = excluded.final_entity, "
                    "last_updated_at = excluded.last_updated_at, summary = excluded.summary",
                )
                self._bulk_insert(conn, "search", ("entity_id", "key", "value", "original_value"), fresh)
            self._executemany(
                conn,
                "UPDATE refresh_state SET orphaned_at = ? WHERE entity_id = ?",
                [(at, entity_id) for entity_id, at in orphan_updates.items() if entity_id in alive],
                postgres="UPDATE refresh_state AS s SET orphaned_at = v.at "
                "FROM unnest(%b::float8[], %b::text[]) AS v(at, id) WHERE s.entity_id = v.id",
            )
            self._executemany(
                conn,
                "DELETE FROM stitch_queue WHERE entity_ref = ? AND stitch_ticket = ?",
                [(ref, ours[ref]) for ref in sorted(still_ours)],
                postgres="DELETE FROM stitch_queue AS q USING unnest(%b::text[], %b::text[]) AS v(ref, ticket) "
                "WHERE q.entity_ref = v.ref AND q.stitch_ticket = v.ticket",
            )
            if upserts:
                # last: the row lock is held only while committing. `finals` is exact for refs
                # whose ticket is ours: no one else stitched them since they were read.
                bump_generation(conn, sum(1 for entity_id in written if entity_id not in finals))
        return written

    def _search_row_changes(
        self, conn: sa.Connection, entity_ids: set[str], rows: list[SearchRow]
    ) -> list[SearchRow]:
        """Delete the stored search rows of `entity_ids` that `rows` no longer has; return the rows to insert.

        A restitch usually changes a few rows (a relation gained, a description edited), while
        a hub entity (a group owning hundreds of components) has hundreds of rows; rewriting
        them all on every new relation made ingest quadratic in the size of hubs.
        """
        if not entity_ids:
            return rows
        stored: set[SearchRow] = set()
        for part in chunks(sorted(entity_ids)):
            stored.update(
                tuple(row)  # type: ignore[misc]
                for row in conn.execute(
                    sa.select(
                        t.search.c.entity_id, t.search.c.key, t.search.c.value, t.search.c.original_value
                    ).where(t.search.c.entity_id.in_(part))
                )
            )
        wanted = set(rows)
        gone = stored - wanted
        same = "IS NOT DISTINCT FROM" if self.dialect == "postgresql" else "IS"
        self._executemany(
            conn,
            f"DELETE FROM search WHERE entity_id = ? AND key = ? AND value {same} ? AND original_value {same} ?",
            sorted(gone, key=_search_row_order),
            postgres="DELETE FROM search AS s USING unnest(%b::text[], %b::text[], %b::text[], %b::text[]) "
            "AS v(id, key, value, original) WHERE s.entity_id = v.id AND s.key = v.key "
            "AND s.value IS NOT DISTINCT FROM v.value AND s.original_value IS NOT DISTINCT FROM v.original",
        )
        return [row for row in rows if row not in stored]

    # ------------------------------------------------------------------ deletion
    def delete_with_pruning(
        self, conn: sa.Connection, roots: Sequence[str], now: float
    ) -> list[EntityChange]:
        """Delete `roots` and every descendant that nothing outside the deleted tree still references."""
        doomed: set[str] = set(roots)
        frontier = list(roots)
        while frontier:
            children: set[str] = set()
            for part in chunks(frontier):
                children.update(
                    r[0]
                    for r in conn.execute(
                        sa.select(t.refresh_state_references.c.target_entity_ref).where(
                            t.refresh_state_references.c.source_entity_ref.in_(part)
                        )
                    )
                )
            frontier = [c for c in children if c not in doomed]
            doomed.update(frontier)
        candidates = doomed - set(roots)
        while candidates:
            # anything referenced from outside the doomed set (or by a provider) survives
            survivors: set[str] = set()
            for part in chunks(sorted(candidates)):
                for source_key, source_ref, target in conn.execute(
                    sa.select(
                        t.refresh_state_references.c.source_key,
                        t.refresh_state_references.c.source_entity_ref,
                        t.refresh_state_references.c.target_entity_ref,
                    ).where(t.refresh_state_references.c.target_entity_ref.in_(part))
                ):
                    if source_key is not None or (source_ref is not None and source_ref not in doomed):
                        survivors.add(target)
            if not survivors:
                break
            doomed -= survivors
            candidates -= survivors
            # descendants only reachable through a survivor survive too; recompute from scratch
            reachable: set[str] = set()
            frontier = list(survivors)
            while frontier:
                nxt: set[str] = set()
                for part in chunks(frontier):
                    nxt.update(
                        r[0]
                        for r in conn.execute(
                            sa.select(t.refresh_state_references.c.target_entity_ref).where(
                                t.refresh_state_references.c.source_entity_ref.in_(part)
                            )
                        )
                    )
                frontier = [n for n in nxt if n in candidates and n not in reachable]
                reachable.update(frontier)
            doomed -= reachable
            candidates -= reachable
        return self.delete_entities(conn, sorted(doomed), now)

    def delete_entities(self, conn: sa.Connection, refs: Sequence[str], now: float) -> list[EntityChange]:
        """Delete entities outright; entities they related to are restitched, children may orphan."""
        if not refs:
            return []
        ids: dict[str, str] = {}
        for part in chunks(list(refs)):
            query = sa.select(t.refresh_state.c.entity_id, t.refresh_state.c.entity_ref).where(
                t.refresh_state.c.entity_ref.in_(part)
            )
            if self.dialect == "postgresql":
                # a stitch of one of these entities now would have to wait (its final entity's
                # foreign key), so the final entities deleted below are all there are
                query = query.with_for_update()
            for entity_id, ref in conn.execute(query):
                ids[ref] = entity_id
        restitch: set[str] = set()
        had_final: set[str] = set()
        id_list = list(ids.values())
        for part in chunks(id_list):
            restitch.update(
                r[0]
                for r in conn.execute(
                    sa.select(t.relations.c.source_entity_ref)
                    .where(t.relations.c.originating_entity_id.in_(part))
                    .distinct()
                )
            )
            had_final.update(
                r[0]
                for r in conn.execute(
                    sa.select(t.final_entities.c.entity_id).where(t.final_entities.c.entity_id.in_(part))
                )
            )
        ref_list = list(ids)
        for part in chunks(ref_list):
            restitch.update(
                r[0]
                for r in conn.execute(
                    sa.select(t.refresh_state_references.c.target_entity_ref).where(
                        t.refresh_state_references.c.source_entity_ref.in_(part)
                    )
                )
            )
            conn.execute(
                t.refresh_state_references.delete().where(
                    sa.or_(
                        t.refresh_state_references.c.source_entity_ref.in_(part),
                        t.refresh_state_references.c.target_entity_ref.in_(part),
                    )
                )
            )
            conn.execute(t.conflicts.delete().where(t.conflicts.c.entity_ref.in_(part)))
        deleted_finals = 0
        for part in chunks(id_list):
            # explicit deletes keep SQLite fast and do not depend on cascade settings
            conn.execute(t.search.delete().where(t.search.c.entity_id.in_(part)))
            deleted_finals += conn.execute(
                t.final_entities.delete().where(t.final_entities.c.entity_id.in_(part))
            ).rowcount
            conn.execute(t.relations.delete().where(t.relations.c.originating_entity_id.in_(part)))
            conn.execute(t.refresh_keys.delete().where(t.refresh_keys.c.entity_id.in_(part)))
            conn.execute(t.refresh_state.delete().where(t.refresh_state.c.entity_id.in_(part)))
        self.mark_for_stitching(conn, restitch - set(ids), now)
        if deleted_finals:
            bump_generation(conn, -deleted_finals)
        return [
            EntityChange("deleted", ref, entity_id)
            for ref, entity_id in ids.items()
            if entity_id in had_final
        ]

    def delete_orphans(self, older_than: float, now: float) -> list[EntityChange]:
        orphaned = t.refresh_state.c.orphaned_at
        with self.read_engine.connect() as conn:
            # the sweep runs every second: look (partial index, usually empty) before locking
            if conn.execute(sa.select(orphaned).where(orphaned <= older_than).limit(1)).first() is None:
                return []
        with self.engine.begin() as conn:
            refs = [
                r[0]
                for r in conn.execute(
                    sa.select(t.refresh_state.c.entity_ref)
                    .where(
                        t.refresh_state.c.orphaned_at.is_not(None),
                        t.refresh_state.c.orphaned_at <= older_than,
                    )
                    .limit(1000)
                )
            ]
            if not refs:
                return []
            # only entities that are still unreferenced (a stitch may lag behind a new reference)
            still: set[str] = set()
            for part in chunks(refs):
                still.update(
                    r[0]
                    for r in conn.execute(
                        sa.select(t.refresh_state_references.c.target_entity_ref).where(
                            t.refresh_state_references.c.target_entity_ref.in_(part)
                        )
                    )
                )
            return self.delete_entities(conn, [r for r in refs if r not in still], now)

    # ------------------------------------------------------------------ refresh and ancestry
    def refresh(self, entity_ref: str, now: float) -> bool:
        """Make the entity and every ancestor due now; False if the entity is unknown.

        The entity's processor cache is dropped (all its locations are read again) and each
        ancestor reads again the location the chain came through, so a refresh always re-reads.
        """
        with self.engine.begin() as conn:
            exists = conn.execute(
                sa.select(t.refresh_state.c.entity_id).where(t.refresh_state.c.entity_ref == entity_ref)
            ).first()
            if exists is None:
                return False
            refs = {entity_ref}
            frontier = [entity_ref]
            edges: list[tuple[str, str]] = []  # (parent, child)
            for _ in range(64):
                found = self._parent_edges(conn, frontier)
                edges.extend(found)
                parents = {parent for parent, _ in found} - refs
                if not parents:
                    break
                refs |= parents
                frontier = list(parents)
            self._forget_cached_reads(conn, edges)
            conn.execute(
                t.refresh_state.update().where(t.refresh_state.c.entity_ref == entity_ref).values(cache=None)
            )
            conn.execute(
                t.refresh_state.update()
                .where(t.refresh_state.c.entity_ref.in_(sorted(refs)))
                .values(next_update_at=now)
            )
            return True

    def reprocess_parents_of_deleted(self, conn: sa.Connection, entity_ref: str, now: float) -> None:
        """Make the parents of an entity about to be deleted by hand write their children again.

        As in Backstage (`removeEntityByUid`), a parent whose output did not change would
        otherwise never write the deleted child back, so the catalog would not heal from an
        accidental delete. Their result hash is cleared and the location the child came from is
        read again (not served from the processor cache), at once. Call it before the delete:
        the child's row says which location that was.
        """
        edges = self._parent_edges(conn, [entity_ref])
        if not edges:
            return
        self._forget_cached_reads(conn, edges)
        conn.execute(
            t.refresh_state.update()
            .where(t.refresh_state.c.entity_ref.in_(sorted({parent for parent, _ in edges})))
            .values(result_hash=CHILD_WAS_DELETED, next_update_at=now)
        )

    @staticmethod
    def _parent_edges(conn: sa.Connection, refs: Sequence[str]) -> list[tuple[str, str]]:
        """(parent, child) for every entity parent of `refs` (provider references excluded)."""
        refs_table = t.refresh_state_references.c
        return [
            (parent, child)
            for parent, child in conn.execute(
                sa.select(refs_table.source_entity_ref, refs_table.target_entity_ref).where(
                    refs_table.target_entity_ref.in_(refs), refs_table.source_entity_ref.is_not(None)
                )
            )
        ]

    @staticmethod
    def _forget_cached_reads(conn: sa.Connection, edges: Sequence[tuple[str, str]]) -> None:
        """Mark, in each parent's cache, the location its child was read from as to be read again."""
        if not edges:
            return
        rs = t.refresh_state
        refs = sorted({ref for edge in edges for ref in edge})
        rows = {
            row.entity_ref: row
            for row in conn.execute(
                sa.select(rs.c.entity_ref, rs.c.location_key, rs.c.cache).where(rs.c.entity_ref.in_(refs))
            )
        }
        keys: dict[str, set[str]] = defaultdict(set)
        for parent, child in edges:
            location_key = rows[child].location_key if child in rows else None
            if location_key:
                keys[parent].add(location_key)
        for parent, location_keys in keys.items():
            row = rows.get(parent)
            if row is None or not row.cache:
                continue
            updated = forget_cached_locations(row.cache, location_keys)
            if updated != row.cache:
                conn.execute(rs.update().where(rs.c.entity_ref == parent).values(cache=updated))

    def refresh_keys(self, keys: Sequence[str], now: float) -> int:
        if not keys:
            return 0
        with self.engine.begin() as conn:
            ids = sa.select(t.refresh_keys.c.entity_id).where(t.refresh_keys.c.key.in_(list(keys)))
            result = conn.execute(
                t.refresh_state.update()
                .where(t.refresh_state.c.entity_id.in_(ids))
                .values(next_update_at=now)
            )
            return int(result.rowcount or 0)

    def ancestry(self, entity_ref: str) -> list[tuple[str, list[str]]]:
        """(ref, parent refs) from the entity up to its roots."""
        with self.read_engine.connect() as conn:
            result: list[tuple[str, list[str]]] = []
            seen: set[str] = set()
            frontier = [entity_ref]
            while frontier:
                parents: dict[str, list[str]] = defaultdict(list)
                for source, target in self._parent_edges(conn, frontier):
                    parents[target].append(source)
                nxt: list[str] = []
                for ref in frontier:
                    if ref in seen:
                        continue
                    seen.add(ref)
                    result.append((ref, sorted(parents.get(ref, []))))
                    nxt.extend(p for p in parents.get(ref, []) if p not in seen)
                frontier = nxt
            return result

    def analyze_while_growing(self, written: int) -> bool:
        """ANALYZE PostgreSQL's catalog tables each time the catalog has doubled during a load.

        Without statistics the planner guesses a third of a table matches any range condition:
        during a first ingest it chose full scans of `refresh_state` for the orphan sweep's and
        the status's one-row probes, every second, while the table grew to its final size
        (autovacuum, where it runs, is minutes behind a bulk load, and may be off). ANALYZE
        samples a fixed number of rows, so doubling steps cost a few seconds over a 1M ingest.
        """
        if self.dialect != "postgresql":
            return False
        self._written_since_growth_analyze += written
        if self._written_since_growth_analyze < max(10_000, self._analyzed_at_size):
            return False
        self._analyzed_at_size += self._written_since_growth_analyze
        self._written_since_growth_analyze = 0
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ANALYZED_TABLES:
                conn.exec_driver_sql(f"ANALYZE {table}")
        return True

    def analyze_if_grown(self, written: int, threshold: int = 5_000) -> bool:
        """Vacuum and analyze PostgreSQL's catalog tables after a bulk load.

        Autovacuum gets there eventually, but right after ingesting thousands of entities the
        planner still believes the tables are empty, and the visibility map is unset, so every
        "index-only" count and facet visits the heap (100k entities: 130 ms instead of 10 ms).
        VACUUM only scans pages changed since the last one, so repeating it stays cheap. Not
        SKIP_LOCKED: after a bulk load autovacuum is usually already on `search`, throttled to
        take minutes; waiting makes PostgreSQL cancel it (it yields to lock requests) and do
        the work now, at full speed.
        """
        self._written_since_analyze += written
        if self.dialect != "postgresql" or self._written_since_analyze < threshold:
            return False
        self._written_since_analyze = 0
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ANALYZED_TABLES:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
        return True

    def stitch_backlog(self, limit: int, now: float) -> int:
        """Due stitches, counted up to `limit` (the engine only asks whether the backlog is large)."""
        sq = t.stitch_queue
        with self.read_engine.connect() as conn:
            return _count_up_to(conn, sa.select(sq.c.entity_ref).where(sq.c.next_stitch_at <= now), limit)

    def queue_depths(self, now: float, limit: int = QUEUE_COUNT_LIMIT) -> dict[str, int]:
        """Pending processing and stitching, each counted up to `limit`.

        Counting is bounded so that polling the status costs the same at any size: during a
        1M-entity ingest an exact count read 900k index entries (half a second on PostgreSQL)
        on every poll. Zero, the number that means "settled", is always exact.
        """
        with self.read_engine.connect() as conn:
            # Never-processed rows count as pending even while claimed, so "0 pending" means
            # settled. Two index ranges (due; never processed and not due) instead of one OR,
            # which would scan the whole table on every status call.
            rs = t.refresh_state.c
            due = _count_up_to(conn, sa.select(rs.entity_id).where(rs.next_update_at <= now), limit)
            if due < limit:
                due += _count_up_to(
                    conn,
                    sa.select(rs.entity_id).where(rs.result_hash.is_(None), rs.next_update_at > now),
                    limit - due,
                )
            stitch = _count_up_to(conn, sa.select(t.stitch_queue.c.entity_ref), limit)
        return {"processing": int(due), "stitching": int(stitch)}

    def entity_counts(self) -> tuple[int, int, bool]:
        """(visible entities, entities known to processing, whether the second is an estimate).

        Visible entities come from the catalog generation row, kept exact by the transactions
        that change them. Known entities are counted, except on a large PostgreSQL catalog,
        where the planner's row estimate stands in for a full scan of the widest table.
        """
        with self.read_engine.connect() as conn:
            visible = conn.execute(
                sa.select(t.catalog_generation.c.entities).where(t.catalog_generation.c.id == 1)
            ).scalar_one_or_none()
            if visible is None:
                visible = conn.execute(sa.select(sa.func.count()).select_from(t.final_entities)).scalar_one()
            if self.dialect == "postgresql":
                # live rows as the statistics system counts them, kept as transactions commit
                estimate = conn.execute(
                    sa.text(
                        "SELECT n_live_tup FROM pg_stat_user_tables "
                        "WHERE relid = CAST('refresh_state' AS regclass)"
                    )
                ).scalar_one_or_none()
                if estimate is not None and max(estimate, visible) > ESTIMATE_KNOWN_ABOVE:
                    return int(visible), max(int(estimate), int(visible)), True
            known = conn.execute(sa.select(sa.func.count()).select_from(t.refresh_state)).scalar_one()
        return int(visible), int(known), False


def _count_up_to(conn: sa.Connection, rows: sa.Select[Any], limit: int) -> int:
    """How many rows `rows` gives, reading at most `limit` of them."""
    if limit <= 0:
        return 0
    return int(
        conn.execute(sa.select(sa.func.count()).select_from(rows.limit(limit).subquery())).scalar_one()
    )


CHILD_WAS_DELETED = "child-was-deleted"
"""The result hash of a parent whose child was deleted by hand: never equal to a real one."""


def bump_generation(conn: sa.Connection, entities_delta: int = 0) -> None:
    """Record, in the changing transaction, that final entities changed (see `catalog_generation`).

    `entities_delta` is how many final entities the transaction created (positive) or deleted
    (negative), so the row's count stays exact without counting the table.
    """
    generation = t.catalog_generation.c
    conn.execute(
        t.catalog_generation.update()
        .where(generation.id == 1)
        .values(value=generation.value + 1, entities=generation.entities + entities_delta)
    )


def _search_row_order(row: SearchRow) -> tuple[str, str, str, str]:
    return (row[0], row[1], row[2] or "", row[3] or "")


def _errors_json(errors: Sequence[EmittedError]) -> str:
    return dumps([e.as_status() for e in errors])


def _result_hash(outcome: ProcessingOutcome) -> str:
    """Changes when what the outcome would write changes.

    Children count through one digest per location key (carried over from the cache for a
    location that was not read again), so an unchanged parent hashes the same whether its
    locations were read or skipped; errors are a set, as replayed ones come in another order.
    """
    digests = outcome.location_digests or outcome.children.digests()
    return json_hash(
        {
            "entity": outcome.entity,
            "errors": sorted(dumps(e.as_status()) for e in outcome.errors),
            "children": sorted(digests.items()),
            "relations": sorted((r.source_ref, r.type, r.target_ref) for r in outcome.relations),
            "keys": sorted(outcome.refresh_keys),
        }
    )


def _final_entity(
    entity: dict[str, Any],
    entity_id: str,
    relations: set[tuple[str, str]],
    errors: list[dict[str, Any]],
    conflict: Any,
    is_orphan: bool,
) -> dict[str, Any]:
    final = dict(entity)
    metadata = dict(final.get("metadata") or {})
    metadata["uid"] = entity_id
    metadata.pop("etag", None)
    if is_orphan:
        annotations = dict(metadata.get("annotations") or {})
        annotations[ANNOTATION_ORPHAN] = "true"
        metadata["annotations"] = annotations
    final["metadata"] = metadata
    final = dict(sanitize_annotation_urls(final))
    final["relations"] = [{"type": ty, "targetRef": target} for ty, target in sorted(relations)]
    items = [
        {
            "type": PROCESSING_STATUS_TYPE,
            "level": "error",
            "message": f"{e.get('name', 'Error')}: {e.get('message', '')}",
            "error": e,
        }
        for e in errors
    ]
    if conflict is not None:
        items.append(
            {
                "type": PROCESSING_STATUS_TYPE,
                "level": "warning",
                "message": f"ConflictError: {conflict.new_location_key} also emits this entity, but it is owned by "
                f"{conflict.existing_location_key}; the first owner keeps it",
                "error": {"name": "ConflictError", "message": "Conflicting entity ref"},
            }
        )
    if items:
        final["status"] = {"items": items}
    else:
        final.pop("status", None)
    return final
