"""What this process is: its role decides whether it serves HTTP, background work, or both."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Literal

ProcessRole = Literal["all", "worker"]


@dataclass(frozen=True)
class InstanceMetadata:
    role: ProcessRole = "all"
    instance_id: str = field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    )

    @property
    def runs_background_work(self) -> bool:
        return True  # both roles run background work; only `all` serves HTTP

    @property
    def serves_http(self) -> bool:
        return self.role == "all"
