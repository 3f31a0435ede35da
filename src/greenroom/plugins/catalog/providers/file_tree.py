"""Local folders as a live catalog source.

`FileTreeProvider` discovers descriptor files under a configured folder and keeps one Location
entity per file in its bucket. `FileWatcher` watches the folders of every file location (and
the providers' folders) with the OS's change notifications: a saved file makes the entities
that read it due at once, so the change shows in seconds instead of a processing interval.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import watchfiles

from greenroom.plugins.catalog.locations import location_entity
from greenroom.plugins.catalog.processing.types import (
    DeferredEntity,
    EntityProviderConnection,
    FullMutation,
)

logger = logging.getLogger("greenroom.catalog.file-tree")


class FileTreeProvider:
    """One Location entity per descriptor file found under `root` matching `pattern`."""

    def __init__(self, root: Path, pattern: str = "**/catalog-info.yaml", *, has_rules: bool = False) -> None:
        self.root = root.resolve()
        self.pattern = pattern
        self.has_rules = has_rules
        self.connection: EntityProviderConnection | None = None

    def get_provider_name(self) -> str:
        return f"file-tree:{self.root}"

    def connect(self, connection: EntityProviderConnection) -> None:
        self.connection = connection
        self.rescan()

    def contains(self, path: str) -> bool:
        try:
            Path(path).resolve().relative_to(self.root)
        except (ValueError, OSError):
            return False
        return True

    def discover(self) -> list[str]:
        if not self.root.is_dir():
            logger.warning("File tree provider folder %s does not exist", self.root)
            return []
        return sorted(str(p) for p in self.root.glob(self.pattern) if p.is_file())

    def rescan(self) -> None:
        if self.connection is None:
            return
        source = self.get_provider_name() if self.has_rules else None
        entities = [
            DeferredEntity(
                location_entity(
                    "file", path, managed_by=f"file:{path}", origin=f"file:{path}", configured_source=source
                ),
                f"file:{path}",
            )
            for path in self.discover()
        ]
        self.connection.apply_mutation(FullMutation(entities))


class FileWatcher:
    """Turns file changes under watched folders into refreshes (and provider rescans)."""

    def __init__(
        self,
        on_changed_files: Callable[[list[str]], None],
        providers: Sequence[FileTreeProvider] = (),
        debounce_ms: int = 150,
    ) -> None:
        self.on_changed_files = on_changed_files
        self.providers = list(providers)
        self.debounce_ms = debounce_ms
        self._folders: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def set_folders(self, folders: Iterable[str]) -> None:
        wanted = {str(Path(f).resolve()) for f in folders if os.path.isdir(f)}
        wanted |= {str(p.root) for p in self.providers if p.root.is_dir()}
        # a folder inside another watched folder adds nothing
        minimal = {f for f in wanted if not any(f != o and f.startswith(o.rstrip("/") + "/") for o in wanted)}
        with self._lock:
            if minimal == self._folders and self._thread is not None:
                return
            self._folders = minimal
        self._restart()

    def _restart(self) -> None:
        self.stop()
        if not self._folders:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(sorted(self._folders), self._stop),
            daemon=True,
            name="greenroom-file-watcher",
        )
        self._thread.start()

    def _run(self, folders: list[str], stop: threading.Event) -> None:
        try:
            for changes in watchfiles.watch(
                *folders,
                stop_event=stop,
                debounce=self.debounce_ms,
                step=50,
                recursive=True,
                raise_interrupt=False,
            ):
                paths = sorted({path for _, path in changes})
                try:
                    self.on_changed_files(paths)
                    structural = {path for change, path in changes if change != watchfiles.Change.modified}
                    for provider in self.providers:
                        # A new folder's own files can appear before the OS watches the folder, so
                        # only the folder is reported: any structural change under the root rescans.
                        if any(provider.contains(p) for p in structural):
                            provider.rescan()
                except Exception:
                    logger.exception("Handling file changes failed")
        except Exception:
            logger.exception("File watcher stopped")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
