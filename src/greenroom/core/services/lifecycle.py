"""Startup and shutdown hooks, so plugins start background work only once everything is wired."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Hook:
    fn: Callable[[], object]
    label: str


class RootLifecycle:
    """Runs startup hooks in registration order and shutdown hooks in reverse."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._startup: list[_Hook] = []
        self._before_shutdown: list[_Hook] = []
        self._shutdown: list[_Hook] = []
        self._lock = threading.Lock()
        self.started = False
        self.stopped = False

    def add_startup_hook(self, fn: Callable[[], object], *, label: str = "") -> None:
        if self.started:
            fn()  # late registration (e.g. a service created after startup) runs immediately
            return
        self._startup.append(_Hook(fn, label or getattr(fn, "__qualname__", "hook")))

    def add_before_shutdown_hook(self, fn: Callable[[], object], *, label: str = "") -> None:
        self._before_shutdown.append(_Hook(fn, label or getattr(fn, "__qualname__", "hook")))

    def add_shutdown_hook(self, fn: Callable[[], object], *, label: str = "") -> None:
        self._shutdown.append(_Hook(fn, label or getattr(fn, "__qualname__", "hook")))

    def startup(self) -> None:
        """Run startup hooks; a failing hook aborts startup (the caller names it)."""
        with self._lock:
            for hook in self._startup:
                hook.fn()
            self.started = True

    def shutdown(self) -> None:
        """Run every shutdown hook even if some fail: connections must close regardless."""
        with self._lock:
            if self.stopped:
                return
            self.stopped = True
            for hook in [*self._before_shutdown, *reversed(self._shutdown)]:
                try:
                    hook.fn()
                except Exception:
                    self._logger.exception("Shutdown hook %s failed", hook.label)


class LifecycleService:
    """A plugin's view of the root lifecycle; hook labels carry the plugin id."""

    def __init__(self, root: RootLifecycle, plugin_id: str) -> None:
        self._root = root
        self.plugin_id = plugin_id

    def add_startup_hook(self, fn: Callable[[], object], *, label: str = "") -> None:
        self._root.add_startup_hook(fn, label=f"{self.plugin_id}:{label or 'startup'}")

    def add_before_shutdown_hook(self, fn: Callable[[], object], *, label: str = "") -> None:
        self._root.add_before_shutdown_hook(fn, label=f"{self.plugin_id}:{label or 'before-shutdown'}")

    def add_shutdown_hook(self, fn: Callable[[], object], *, label: str = "") -> None:
        self._root.add_shutdown_hook(fn, label=f"{self.plugin_id}:{label or 'shutdown'}")
