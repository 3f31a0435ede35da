"""`greenroom serve` with cProfile on the catalog processing threads (the ingest hot path).

    python -m bench.profiled_serve --config FILE --profile-out FILE.prof

Used by `python -m bench --profile`. The profile is dumped each time the processing loop goes
idle, so it is complete once the ingest has settled, even if the server is killed later.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import threading
from pathlib import Path
from typing import Any


def install(profile_out: Path) -> None:
    from greenroom.plugins.catalog.processing.engine import ProcessingEngine

    original_run_once = ProcessingEngine.run_once
    profiles: dict[int, cProfile.Profile] = {}
    busy: dict[int, bool] = {}
    lock = threading.Lock()

    def run_once(self: Any, *, force_sweep: bool = False) -> bool:
        ident = threading.get_ident()
        with lock:
            profile = profiles.setdefault(ident, cProfile.Profile())
        profile.enable()
        try:
            did = original_run_once(self, force_sweep=force_sweep)
        finally:
            profile.disable()
        if did:
            busy[ident] = True
        elif busy.pop(ident, False):
            with lock:  # every loop thread's profile in one file
                merged = pstats.Stats(*profiles.values())
                merged.dump_stats(str(profile_out))
        return did

    ProcessingEngine.run_once = run_once  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--profile-out", type=Path, required=True)
    args = parser.parse_args(argv)
    install(args.profile_out)

    from greenroom.core.config import load_config
    from greenroom.core.server import serve

    return serve(load_config([args.config], cwd=Path.cwd()))


if __name__ == "__main__":
    raise SystemExit(main())
