"""SchedulerService on SQLite and PostgreSQL: runs, errors, triggers, cron, once per slot across processes."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from greenroom.core.db import DatabaseManager, PluginDatabase
from greenroom.core.errors import ConflictError, NotFoundError
from greenroom.core.services.scheduler import (
    ScheduledTaskInfo,
    SchedulerService,
    describe_frequency,
    first_run_at,
    next_run_after,
    parse_frequency,
)
from tests.support.processes import run_workers

WORKER = Path(__file__).with_name("_scheduler_worker.py")


@pytest.fixture
def database(database_config: dict[str, Any], tmp_path: Path) -> Iterator[PluginDatabase]:
    manager = DatabaseManager(database_config, data_dir=tmp_path / "data")
    yield manager.for_plugin("jobs")
    manager.close()


@pytest.fixture
def scheduler(database: PluginDatabase) -> Iterator[SchedulerService]:
    service = SchedulerService(database, plugin_id="jobs", poll_interval=0.05)
    yield service
    service.stop(timeout=5)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def info(scheduler: SchedulerService, task_id: str) -> ScheduledTaskInfo:
    return next(task for task in scheduler.get_scheduled_tasks() if task.id == task_id)


class Counter:
    """A task function that counts its runs and can be told to fail."""

    def __init__(self, error: Exception | None = None) -> None:
        self.runs = 0
        self.error = error

    def __call__(self, _abort: threading.Event) -> None:
        self.runs += 1
        if self.error is not None:
            raise self.error


# --- frequency rules (no database) --------------------------------------------------------------


def test_parse_frequency_accepts_timedelta_cron_and_manual() -> None:
    assert parse_frequency(timedelta(minutes=5)) == timedelta(minutes=5)
    assert parse_frequency(" */5 * * * * ") == "*/5 * * * *"
    assert parse_frequency("manual") == "manual"
    for bad in ("*/5 * * *", "61 * * * *", "every day", timedelta(0)):
        with pytest.raises(ValueError):
            parse_frequency(bad)


def test_cron_slots_are_in_utc_and_strictly_later() -> None:
    at_12_03 = datetime(2024, 1, 1, 12, 3, 30, tzinfo=UTC).timestamp()
    at_12_05 = datetime(2024, 1, 1, 12, 5, tzinfo=UTC).timestamp()
    assert next_run_after("*/5 * * * *", None, at_12_03) == at_12_05
    assert next_run_after("*/5 * * * *", at_12_05, at_12_05) == at_12_05 + 300
    assert first_run_at("*/5 * * * *", at_12_05, timedelta(0)) == at_12_05
    assert first_run_at("*/5 * * * *", at_12_03, timedelta(minutes=10)) == at_12_05 + 600


def test_interval_slots_do_not_drift_and_skip_missed_ones() -> None:
    every_10s = timedelta(seconds=10)
    assert next_run_after(every_10s, 100.0, 100.3) == 110.0  # not 110.3: no drift
    assert next_run_after(every_10s, 100.0, 135.5) == 140.0  # 110..130 were missed: skipped
    assert next_run_after(every_10s, 100.0, 110.0) == 120.0
    assert next_run_after("manual", 100.0, 101.0) is None
    assert first_run_at(every_10s, 50.0, timedelta(seconds=5)) == 55.0
    assert first_run_at("manual", 50.0, timedelta(0)) is None
    assert describe_frequency(every_10s) == "every 0:00:10"
    assert describe_frequency("0 * * * *") == "cron 0 * * * *"


# --- the service (SQLite and PostgreSQL) --------------------------------------------------------


def _read_between_runs(scheduler: SchedulerService, task_id: str) -> ScheduledTaskInfo:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        task = info(scheduler, task_id)
        if task.last_run_ended_at is not None and not task.running:
            return task
        time.sleep(0.01)
    raise AssertionError(f"task {task_id} was never seen between runs")


@pytest.mark.parametrize("scope", ["global", "local"])
def test_task_runs_on_its_interval(scheduler: SchedulerService, scope: str) -> None:
    counter = Counter()
    scheduler.schedule_task(
        "count", counter, frequency=timedelta(seconds=0.2), timeout=timedelta(seconds=5), scope=scope
    )
    scheduler.start()
    wait_for(lambda: counter.runs >= 3)
    # While a run is in flight its row still holds the slot it was claimed for, so the
    # next-run invariant is read between runs.
    task = _read_between_runs(scheduler, "count")
    assert task.scope == scope and task.frequency == "every 0:00:00.200000"
    assert task.last_run_error is None
    assert task.last_run_started_at is not None and task.next_run_at is not None
    assert task.next_run_at > task.last_run_started_at


@pytest.mark.parametrize("scope", ["global", "local"])
def test_errors_are_recorded_and_the_task_keeps_its_schedule(scheduler: SchedulerService, scope: str) -> None:
    failing = Counter(error=ValueError("upstream is down"))
    scheduler.schedule_task(
        "fails", failing, frequency=timedelta(seconds=0.2), timeout=timedelta(seconds=5), scope=scope
    )
    scheduler.start()
    wait_for(lambda: failing.runs >= 2)
    wait_for(lambda: info(scheduler, "fails").last_run_error is not None)
    assert info(scheduler, "fails").last_run_error == "ValueError: upstream is down"
    failing.error = None
    wait_for(lambda: info(scheduler, "fails").last_run_error is None)


@pytest.mark.parametrize("scope", ["global", "local"])
def test_manual_tasks_run_only_when_triggered(scheduler: SchedulerService, scope: str) -> None:
    counter = Counter()
    scheduler.schedule_task("manual", counter, frequency="manual", timeout=timedelta(seconds=5), scope=scope)
    scheduler.start()
    time.sleep(0.5)
    assert counter.runs == 0
    assert info(scheduler, "manual").next_run_at is None
    scheduler.trigger_task("manual")
    wait_for(lambda: counter.runs == 1)
    wait_for(lambda: info(scheduler, "manual").last_run_ended_at is not None)
    time.sleep(0.3)
    assert counter.runs == 1
    assert info(scheduler, "manual").next_run_at is None


@pytest.mark.parametrize("scope", ["global", "local"])
def test_trigger_makes_a_far_task_due_now(scheduler: SchedulerService, scope: str) -> None:
    counter = Counter()
    scheduler.schedule_task(
        "hourly",
        counter,
        frequency="0 * * * *",
        timeout=timedelta(seconds=5),
        initial_delay=timedelta(hours=2),
        scope=scope,
    )
    scheduler.start()
    time.sleep(0.3)
    assert counter.runs == 0
    scheduler.trigger_task("hourly")
    wait_for(lambda: counter.runs == 1)
    wait_for(lambda: info(scheduler, "hourly").last_run_ended_at is not None)
    next_run_at = info(scheduler, "hourly").next_run_at
    assert next_run_at is not None and next_run_at.minute == 0 and next_run_at.second == 0


def test_trigger_rejects_unknown_and_running_tasks(scheduler: SchedulerService) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow(_abort: threading.Event) -> None:
        started.set()
        release.wait(5)

    scheduler.schedule_task("slow", slow, frequency=timedelta(hours=1), timeout=timedelta(seconds=30))
    with pytest.raises(ConflictError):
        scheduler.schedule_task("slow", slow, frequency=timedelta(hours=1), timeout=timedelta(seconds=30))
    with pytest.raises(NotFoundError):
        scheduler.trigger_task("nope")
    scheduler.start()
    assert started.wait(5)
    assert info(scheduler, "slow").running
    with pytest.raises(ConflictError):
        scheduler.trigger_task("slow")
    release.set()
    wait_for(lambda: not info(scheduler, "slow").running)


def test_stop_and_timeout_set_the_abort_event(scheduler: SchedulerService) -> None:
    aborted: dict[str, float] = {}

    def waits_for_abort(name: str) -> Callable[[threading.Event], None]:
        def run(abort: threading.Event) -> None:
            started = time.monotonic()
            if abort.wait(10):
                aborted[name] = time.monotonic() - started

        return run

    scheduler.schedule_task(
        "short-timeout",
        waits_for_abort("timeout"),
        frequency=timedelta(hours=1),
        timeout=timedelta(seconds=0.3),
    )
    scheduler.schedule_task(
        "long-timeout", waits_for_abort("stop"), frequency=timedelta(hours=1), timeout=timedelta(minutes=5)
    )
    scheduler.start()
    wait_for(lambda: "timeout" in aborted)
    assert aborted["timeout"] < 2
    began = time.monotonic()
    scheduler.stop(timeout=5)
    assert time.monotonic() - began < 3
    assert "stop" in aborted


def test_global_task_row_is_shared_by_schedulers(database: PluginDatabase) -> None:
    """Two schedulers (as two replicas would) on one database run each slot exactly once."""
    runs: list[float] = []
    guard = threading.Lock()

    def record(_abort: threading.Event) -> None:
        with guard:
            runs.append(time.time())
        time.sleep(0.02)

    replicas = [SchedulerService(database, plugin_id="jobs", poll_interval=0.02) for _ in range(2)]
    for replica in replicas:
        replica.schedule_task(
            "shared", record, frequency=timedelta(seconds=0.25), timeout=timedelta(seconds=5)
        )
    started = time.time()
    for replica in replicas:
        replica.start()
    time.sleep(2.0)
    for replica in replicas:
        replica.stop()
    elapsed = time.time() - started
    assert abs(len(runs) - elapsed / 0.25) <= 2
    assert all(later - earlier > 0.1 for earlier, later in itertools.pairwise(runs))
    with database.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM greenroom_tasks")).scalar() == 1


def test_changed_settings_restart_the_schedule(database: PluginDatabase) -> None:
    first = SchedulerService(database, plugin_id="jobs")
    first.schedule_task(
        "job",
        Counter(),
        frequency=timedelta(hours=1),
        timeout=timedelta(minutes=1),
        initial_delay=timedelta(hours=1),
    )
    second = SchedulerService(database, plugin_id="jobs")
    second.schedule_task("job", Counter(), frequency=timedelta(hours=1), timeout=timedelta(minutes=1))
    unchanged = info(second, "job").next_run_at
    assert unchanged is not None and unchanged > datetime.now(UTC) + timedelta(minutes=50)
    third = SchedulerService(database, plugin_id="jobs")
    third.schedule_task("job", Counter(), frequency=timedelta(minutes=5), timeout=timedelta(minutes=1))
    restarted = info(third, "job").next_run_at
    assert restarted is not None and restarted < datetime.now(UTC) + timedelta(seconds=5)


@pytest.mark.slow
def test_separate_processes_run_a_global_task_once_per_slot(
    database_config: dict[str, Any], tmp_path: Path
) -> None:
    manager = DatabaseManager(database_config, data_dir=tmp_path / "data")
    database = manager.for_plugin("ticker")
    with database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE ticks (pid INTEGER NOT NULL, at DOUBLE PRECISION NOT NULL)"))
    seconds = 10
    start_at = time.time() + 2.0
    run_workers(WORKER, json.dumps(database_config), str(tmp_path / "data"), str(start_at), str(seconds))
    with database.engine.connect() as connection:
        ticks = connection.execute(sa.text("SELECT pid, at FROM ticks ORDER BY at")).all()
    manager.close()
    times = [tick.at for tick in ticks]
    assert abs(len(times) - seconds) <= 1, times
    slots = [round(at - times[0]) for at in times]
    assert len(set(slots)) == len(slots), f"two runs in one slot: {times}"
    assert all(at >= start_at - 0.5 for at in times)
