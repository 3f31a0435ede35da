"""Totals and facets reused while the catalog has not changed.

A total or a facet costs time proportional to its matches: counting `kind=component` at 1M
entities reads half a million index entries on every page request, although the catalog changes
rarely compared with how often it is read. Every transaction that changes a final entity also
increments `catalog_generation` (see `processing.store.bump_generation`), so a result computed at
generation g is exact for as long as the generation stays g.

The generation is read before the result is computed. Writers bump it in the same transaction
as their change, so a result is never older than the generation it is stored under (at worst it
already includes a change whose generation is newer, which the next read replaces).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import sqlalchemy as sa

from greenroom.plugins.catalog.tables import catalog_generation

T = TypeVar("T")

DEFAULT_SIZE = 2048


def current_generation(connection: sa.Connection) -> int | None:
    """The catalog's generation, or None if its row is missing (then nothing is cached)."""
    value = connection.execute(
        sa.select(catalog_generation.c.value).where(catalog_generation.c.id == 1)
    ).scalar_one_or_none()
    return None if value is None else int(value)


class GenerationCache:
    """Results by key for the newest generation seen; an older generation never hits or stores.

    Results are shared between callers: cache immutable values (numbers, tuples).
    """

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._generation: int | None = None
        self._results: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, connection: sa.Connection, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`'s result for `key` at the current generation, computed at most once per generation."""
        generation = current_generation(connection)
        if generation is None:
            return compute()
        with self._lock:
            if generation == self._generation and key in self._results:
                self._results.move_to_end(key)
                self.hits += 1
                return self._results[key]  # type: ignore[no-any-return]
        result = compute()
        with self._lock:
            self.misses += 1
            if self._generation is None or generation > self._generation:
                self._generation = generation
                self._results.clear()
            if generation == self._generation:
                self._results[key] = result
                while len(self._results) > self.size:
                    self._results.popitem(last=False)
        return result


class GenerationResponses:
    """Whole response bodies at the newest generation seen, within a byte budget.

    For lists that clients ask for again and again while the catalog is unchanged (every
    group for an owner picker: 40,000 groups and 2.8 MB as names and kinds in a million-entity
    catalog, 0.4 s to build each time). Only bodies up to `item_bytes` are kept, and at most
    `total_bytes` in all, least recently used first out, so a large catalog's unpaged listing
    is never held in memory.
    """

    def __init__(self, *, item_bytes: int = 4 * 1024 * 1024, total_bytes: int = 16 * 1024 * 1024) -> None:
        self.item_bytes = item_bytes
        self.total_bytes = total_bytes
        self._generation: int | None = None
        self._bodies: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, generation: int | None, key: Hashable) -> bytes | None:
        if generation is None:
            return None
        with self._lock:
            if generation != self._generation:
                return None
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, generation: int | None, key: Hashable, body: bytes) -> None:
        if generation is None or len(body) > self.item_bytes:
            return
        with self._lock:
            if self._generation is None or generation > self._generation:
                self._generation = generation
                self._bodies.clear()
                self._size = 0
            if generation != self._generation or key in self._bodies:
                return
            self._bodies[key] = body
            self._size += len(body)
            while self._size > self.total_bytes:
                _, dropped = self._bodies.popitem(last=False)
                self._size -= len(dropped)
