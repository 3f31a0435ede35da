"""Readiness and liveness as Backstage reports them (`/.backstage/health/v1/...`)."""

from __future__ import annotations

import threading
from typing import Literal

HealthState = Literal["starting", "ready", "stopping", "failed"]


class HealthService:
    def __init__(self) -> None:
        self._state: HealthState = "starting"
        self._lock = threading.Lock()
        self.failure: str | None = None

    @property
    def state(self) -> HealthState:
        return self._state

    def set_ready(self) -> None:
        with self._lock:
            self._state = "ready"

    def set_stopping(self) -> None:
        with self._lock:
            self._state = "stopping"

    def set_failed(self, reason: str) -> None:
        with self._lock:
            self._state = "failed"
            self.failure = reason

    def readiness(self) -> tuple[int, dict[str, str]]:
        if self._state == "ready":
            return 200, {"status": "ok"}
        message = {
            "starting": "Backend has not started yet",
            "stopping": "Backend is shutting down",
            "failed": "Backend failed to start",
        }[self._state]
        return 503, {"status": "error", "message": message}

    def liveness(self) -> tuple[int, dict[str, str]]:
        return 200, {"status": "ok"}
