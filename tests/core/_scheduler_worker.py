"""Run as a separate process: schedule the global task "tick" (every second) and run for a while.

Usage: python _scheduler_worker.py <database-config-json> <data-dir> <start-at-epoch> <seconds>
Each run inserts (pid, time) into the `ticks` table, which the test creates beforehand.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from greenroom.core.db import DatabaseManager
from greenroom.core.services.scheduler import SchedulerService


def main() -> None:
    config_json, data_dir, start_at, seconds = sys.argv[1:5]
    manager = DatabaseManager(json.loads(config_json), data_dir=Path(data_dir))
    database = manager.for_plugin("ticker")

    def tick(_abort: threading.Event) -> None:
        with database.engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO ticks (pid, at) VALUES (:pid, :at)"),
                {"pid": os.getpid(), "at": time.time()},
            )
        time.sleep(0.05)

    time.sleep(max(0.0, float(start_at) - time.time()))
    scheduler = SchedulerService(database, plugin_id="ticker", poll_interval=0.1)
    scheduler.schedule_task("tick", tick, frequency=timedelta(seconds=1), timeout=timedelta(seconds=30))
    scheduler.start()
    time.sleep(max(0.0, float(start_at) + float(seconds) - time.time()))
    scheduler.stop()
    manager.close()


if __name__ == "__main__":
    main()
