"""The children a Location emits, kept serialised and spilled to disk past a few megabytes.

A root Location can list thousands of files and so bring in a million entities in one
processing outcome. Held as Python dicts that is 5-6 GiB; held as serialised JSON it is still
a gigabyte. `ChildSpool` keeps each child as its JSON text, in memory while small and in an
anonymous temporary file (deleted when closed, or by the kernel when the process exits) once
it passes `MEMORY_LIMIT`, so reading a Location costs the memory of one target file at a time
and the store writes the children back in chunks.
"""

from __future__ import annotations

import hashlib
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

MEMORY_LIMIT = 8 * 1024 * 1024
_HEADER = struct.Struct("<III")
_READ_BLOCK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ChildEntity:
    """One emitted entity that may become a child: its ref, location key and JSON text."""

    entity_ref: str
    location_key: str | None
    text: str

    @property
    def entity(self) -> dict[str, Any]:
        loaded: dict[str, Any] = orjson.loads(self.text)
        return loaded


class ChildSpool:
    """An append-only, re-iterable sequence of `ChildEntity`, with a digest per location key.

    The digest of a location key covers its children's refs and texts in emitted order; it is
    what a Location's result hash and its cached reads compare, without reading the spool back.
    """

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=MEMORY_LIMIT)  # noqa: SIM115 - closed by close()
        self._count = 0
        self._end = 0
        self._hashes: dict[str, Any] = {}

    def append(self, entity_ref: str, location_key: str, entity: dict[str, Any]) -> None:
        text = orjson.dumps(entity)
        ref_bytes = entity_ref.encode()
        key_bytes = location_key.encode()
        record = b"".join(
            (_HEADER.pack(len(ref_bytes), len(key_bytes), len(text)), ref_bytes, key_bytes, text)
        )
        self._file.seek(self._end)
        self._file.write(record)
        self._end += len(record)
        self._count += 1
        digest = self._hashes.get(location_key)
        if digest is None:
            digest = self._hashes[location_key] = hashlib.sha1()
        digest.update(record)

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[ChildEntity]:
        """Every child in emitted order, read back a block at a time."""
        end = self._end
        position = 0
        buffer = b""
        while position < end or buffer:
            if position < end:
                self._file.seek(position)
                block = self._file.read(min(_READ_BLOCK, end - position))
                position += len(block)
                buffer = buffer + block if buffer else block
            offset = 0
            while len(buffer) - offset >= _HEADER.size:
                ref_length, key_length, text_length = _HEADER.unpack_from(buffer, offset)
                record_end = offset + _HEADER.size + ref_length + key_length + text_length
                if record_end > len(buffer):
                    break
                start = offset + _HEADER.size
                yield ChildEntity(
                    buffer[start : start + ref_length].decode(),
                    buffer[start + ref_length : start + ref_length + key_length].decode(),
                    buffer[start + ref_length + key_length : record_end].decode(),
                )
                offset = record_end
            buffer = buffer[offset:]
            if position >= end and buffer:
                raise ValueError("Truncated child spool")

    def chunks(self, size: int) -> Iterator[list[ChildEntity]]:
        part: list[ChildEntity] = []
        for child in self:
            part.append(child)
            if len(part) >= size:
                yield part
                part = []
        if part:
            yield part

    def digests(self) -> dict[str, str]:
        """One digest per location key over the children read from it."""
        return {key: digest.hexdigest() for key, digest in self._hashes.items()}

    @property
    def spilled(self) -> bool:
        """True once the children no longer fit in memory and live in a temporary file."""
        return bool(getattr(self._file, "_rolled", False))

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        self._file.close()
