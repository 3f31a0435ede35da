"""Running a backend as a process: `serve` (HTTP + background work) and `worker` (background only)."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import uvicorn

from greenroom.core.config import LoadedConfig
from greenroom.core.http.app import create_app
from greenroom.core.memory import limit_malloc_arenas
from greenroom.core.runtime import Backend, StartupError

EXIT_STARTUP_FAILED = 4


class _Server(uvicorn.Server):
    """uvicorn, minus re-raising the stop signal once it has drained requests.

    uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown so the process dies by the
    signal; that would kill us before the backend's shutdown hooks (background loops, database
    connections) run. A clean stop on request exits 0 instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def serve(loaded: LoadedConfig, *, host: str | None = None, port: int | None = None) -> int:
    """Listen at once (readiness answers 503 while plugins start), then start the backend.

    Returns the process exit code: 0 after a clean shutdown, 4 when startup failed.
    """
    limit_malloc_arenas()
    backend = Backend(loaded, role="all")
    app = create_app(backend)
    listen_host = host or backend.config.get_optional_string("backend.listen.host") or "127.0.0.1"
    configured_port = backend.config.get_optional_number("backend.listen.port")
    listen_port = int(port if port is not None else configured_port if configured_port is not None else 7007)
    app.state.same_site.add_listen_port(listen_port)  # `--port N` opened at localhost:N can post forms
    server = _Server(
        uvicorn.Config(
            app,
            host=listen_host,
            port=listen_port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            server_header=False,
        )
    )
    failure: list[StartupError] = []
    server_done = threading.Event()

    def start_backend() -> None:
        while not server.started and not server.should_exit and not server_done.is_set():
            time.sleep(0.01)
        if server.should_exit or server_done.is_set():
            return  # uvicorn stopped (or never started, e.g. the port is taken)
        try:
            backend.start()
        except StartupError as error:
            failure.append(error)
            server.should_exit = True

    starter = threading.Thread(target=start_backend, name="greenroom-startup", daemon=True)
    starter.start()
    backend.logger.info("Listening on http://%s:%d", listen_host, listen_port)
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind; it has logged why
        failure.append(StartupError(f"Could not listen on {listen_host}:{listen_port}"))
    finally:
        server_done.set()
        starter.join(timeout=60)
        backend.stop()
    return EXIT_STARTUP_FAILED if failure or not server.started else 0


def run_worker(loaded: LoadedConfig) -> int:
    """Start the backend without HTTP and run its background work until SIGINT/SIGTERM."""
    limit_malloc_arenas()
    backend = Backend(loaded, role="worker")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        backend.start()
    except StartupError:
        return EXIT_STARTUP_FAILED
    backend.logger.info("Worker %s running background work", backend.instance.instance_id)
    stop.wait()
    backend.logger.info("Worker shutting down")
    backend.stop()
    return 0
