"""Entity ids that sort by creation time (UUID version 7, RFC 9562).

An entity's id is its `metadata.uid` and the key of most catalog indexes (`final_entities`,
`refresh_state`, the search index's (entity_id, key)). Random v4 ids scatter each new entity
across every one of those B-trees, so a bulk ingest touches a random leaf page per index per
entity and slows down as the tables outgrow the page cache; v7 ids put a batch of new
entities next to each other at the right-hand edge. They are still random enough to be
unguessable (74 random bits) and are ordinary UUID strings to every API client.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last = (0, 0)  # (millisecond, counter) of the previous id, for monotonic ids within a millisecond


def entity_id() -> str:
    """A new time-ordered UUID string; successive calls in one process sort in call order."""
    global _last
    with _lock:
        millisecond = time.time_ns() // 1_000_000
        last_millisecond, last_counter = _last
        if millisecond <= last_millisecond:
            # same millisecond (or a clock step back): keep order with a 12-bit counter
            millisecond, counter = last_millisecond, last_counter + 1
            if counter >= 1 << 12:
                millisecond, counter = last_millisecond + 1, 0
        else:
            counter = 0
        _last = (millisecond, counter)
    random_bits = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (millisecond & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= counter << 64
    value |= 0b10 << 62  # RFC 4122 variant
    value |= random_bits
    return str(uuid.UUID(int=value))
