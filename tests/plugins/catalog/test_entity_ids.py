"""Time-ordered entity ids: valid v7 UUIDs, unique, sorted in creation order."""

from __future__ import annotations

import threading
import uuid

from greenroom.plugins.catalog.processing.ids import entity_id


def test_ids_are_version_7_uuids_in_creation_order() -> None:
    ids = [entity_id() for _ in range(20_000)]  # many share a millisecond
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == ids[0]


def test_ids_from_many_threads_are_unique() -> None:
    found: list[list[str]] = [[] for _ in range(4)]

    def make(bucket: list[str]) -> None:
        bucket.extend(entity_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for bucket in found for i in bucket]
    assert len(set(every)) == len(every)
    assert all(bucket == sorted(bucket) for bucket in found)
