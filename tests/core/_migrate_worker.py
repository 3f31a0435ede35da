"""Run as a separate process: wait for a shared start time, then migrate one plugin's database.

Usage: python _migrate_worker.py <database-config-json> <data-dir> <migrations-dir> <start-at-epoch>
Prints the applied revision ids as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from greenroom.core.db import DatabaseManager


def main() -> None:
    config_json, data_dir, migrations_dir, start_at = sys.argv[1:5]
    manager = DatabaseManager(json.loads(config_json), data_dir=Path(data_dir))
    time.sleep(max(0.0, float(start_at) - time.time()))
    try:
        applied = manager.for_plugin("widgets").migrate(Path(migrations_dir))
    finally:
        manager.close()
    print(json.dumps(applied))


if __name__ == "__main__":
    main()
