"""Helpers for tests that run real `greenroom` processes with extra plugins on an entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import free_port


def install_plugin_module(
    site: Path, dist_name: str, module_name: str, source: str, entry_points: dict[str, str]
) -> Path:
    """Write a module plus a `.dist-info` with `greenroom.plugins` entry points into `site`.

    Exactly what pip leaves behind for an installed package, without a build: importlib.metadata
    discovers it through sys.path like any installed plugin.
    """
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module_name}.py").write_text(textwrap.dedent(source))
    # wheel rules: the folder name escapes '-' so `greenroom-x` is not read as distribution `greenroom`
    info = site / f"{dist_name.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 0.0.1\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[greenroom.plugins]\n{lines}\n")
    (info / "RECORD").write_text("")
    return site


def run_workers(script: Path, *args: str, count: int = 2, timeout: float = 60) -> list[str]:
    """Start `count` copies of a Python script at once; assert each exits 0; return their stdouts."""
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    outputs = [worker.communicate(timeout=timeout) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr
    return [stdout for stdout, _ in outputs]


def write_config(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


def start(command: str, config: Path, *, site: Path | None, cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-m", "greenroom.cli.main", command, "--config", str(config)],
        cwd=cwd,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def wait_ready(base_url: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(base_url + "/.backstage/health/v1/readiness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} not ready after {timeout}s")


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


__all__ = ["free_port", "install_plugin_module", "run_workers", "start", "stop", "wait_ready", "write_config"]
