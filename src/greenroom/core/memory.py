"""Keeping a long-running process's resident memory close to what it actually uses.

glibc's malloc gives each thread that contends for the heap an arena of its own (up to eight per
core) and keeps freed memory in them for reuse. A server whose loop threads build and drop
batches of thousands of entities, next to HTTP worker threads, ends up holding tens of MiB it no
longer uses: measured at 100k entities on SQLite, limiting arenas to two brought the peak RSS from
344 to 279 MiB with no loss of throughput. Both calls are no-ops off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from functools import cache
from typing import Any

logger = logging.getLogger(__name__)

MALLOC_ARENAS = 2
"""Arenas per process; two still let the two catalog loop threads allocate without contending."""

_M_ARENA_MAX = -8  # from glibc's malloc.h


@cache
def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - musl and others lack these; probe before relying on them
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas, unless `MALLOC_ARENA_MAX` already says otherwise.

    Call it early, before the process starts its threads: arenas already created stay.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Hand memory malloc holds but no longer uses back to the system (after a burst of work)."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
