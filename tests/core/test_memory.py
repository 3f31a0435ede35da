"""glibc malloc tuning for long-running processes (run in fresh interpreters: it is process-wide)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from greenroom.core.memory import _glibc

pytestmark = pytest.mark.skipif(_glibc() is None, reason="malloc tuning applies to glibc only")


def run_python(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return result.stdout.strip()


def test_arenas_are_limited_unless_the_environment_already_decides() -> None:
    code = "from greenroom.core.memory import limit_malloc_arenas; print(limit_malloc_arenas())"
    assert run_python(code) == "True"
    assert run_python(code, MALLOC_ARENA_MAX="4") == "False"


def test_memory_freed_by_a_worker_thread_goes_back_to_the_system() -> None:
    """What a catalog loop thread does: build a large batch, drop it, then hand the memory back."""
    code = """
        import threading
        from greenroom.core.memory import release_free_memory

        def rss_mib():
            with open("/proc/self/status") as status:
                line = next(line for line in status if line.startswith("VmRSS:"))
            return int(line.split()[1]) / 1024

        def burst():
            batch = [bytearray(b"x" * 20_000) for _ in range(10_000)]  # ~200 MB of mid-sized blocks
            keep = batch[-1]  # one live block at the end keeps free memory below it from auto-trim
            del batch
            holder.append(keep)

        holder = []
        thread = threading.Thread(target=burst)
        thread.start()
        thread.join()
        before = rss_mib()
        released = release_free_memory()
        print(released, round(before - rss_mib()))
    """
    released, dropped_mib = run_python(code).split()
    assert released == "True"
    assert int(dropped_mib) > 100
