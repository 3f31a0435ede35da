"""The scheduler service: periodic plugin tasks that run once per slot across all replicas.

Global tasks are coordinated through the table `greenroom_tasks` in the plugin's own database
(Backstage's `backstage_backend_tasks__tasks`). The table is created with CREATE TABLE IF NOT
EXISTS under the plugin's advisory lock "greenroom_tasks" rather than through an Alembic history,
so it never mixes with the plugin's own migrations. A replica runs a task only after winning one
atomic UPDATE that takes a ticket on a due row, so exactly one replica runs each slot; a ticket
whose `current_run_expires_at` has passed (the holder crashed or hung) can be taken over.

Times are epoch seconds (floats) from the *process* clock (`time.time()`) on both SQLite and
PostgreSQL: SQLite has no server clock, and one rule everywhere is easier to reason about.
Replicas on different hosts therefore need NTP-synchronised clocks. Cron expressions are
evaluated in UTC.

After a run the next start is the first slot after the *scheduled* time that is still in the
future, so intervals do not drift by the run time and missed slots are skipped, not replayed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from cronsim import CronSim, CronSimError
from sqlalchemy.dialects import postgresql, sqlite

from greenroom.core.db.manager import PluginDatabase
from greenroom.core.errors import ConflictError, NotFoundError

TaskScope = Literal["global", "local"]
TaskFunction = Callable[[threading.Event], None]
Frequency = timedelta | str

MANUAL = "manual"
TASKS_TABLE_LOCK = "greenroom_tasks"

_metadata = sa.MetaData()
tasks_table = sa.Table(
    "greenroom_tasks",
    _metadata,
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("settings_json", sa.Text, nullable=False),
    sa.Column("next_run_start_at", sa.Double, nullable=True),  # NULL: manual, waits for a trigger
    sa.Column("current_run_ticket", sa.String(64), nullable=True),
    sa.Column("current_run_started_at", sa.Double, nullable=True),
    sa.Column("current_run_expires_at", sa.Double, nullable=True),
    sa.Column("last_run_started_at", sa.Double, nullable=True),
    sa.Column("last_run_ended_at", sa.Double, nullable=True),
    sa.Column("last_run_error_json", sa.Text, nullable=True),
)


@dataclass(frozen=True)
class ScheduledTaskInfo:
    """What `get_scheduled_tasks` reports about one task (times are UTC datetimes)."""

    id: str
    scope: TaskScope
    frequency: str
    next_run_at: datetime | None
    last_run_started_at: datetime | None
    last_run_ended_at: datetime | None
    last_run_error: str | None
    running: bool


@dataclass
class _Task:
    """A task registered in this process, plus its in-process run state."""

    id: str
    fn: TaskFunction
    frequency: Frequency
    timeout: timedelta
    initial_delay: timedelta
    scope: TaskScope
    # Local tasks keep their schedule and history here; global ones in the table.
    next_run_at: float | None = None
    last_run_started_at: float | None = None
    last_run_ended_at: float | None = None
    last_run_error: str | None = None
    # The run in progress in this process, if any.
    future: Future[None] | None = None
    abort: threading.Event | None = None
    run_started_at: float | None = None
    timed_out: bool = False

    @property
    def running_here(self) -> bool:
        return self.future is not None and not self.future.done()


def parse_frequency(frequency: Frequency) -> Frequency:
    """Validate a frequency: a positive timedelta, a 5-field cron expression or "manual"."""
    if isinstance(frequency, timedelta):
        if frequency <= timedelta(0):
            raise ValueError(f"Task frequency must be positive, got {frequency}")
        return frequency
    expression = frequency.strip()
    if expression == MANUAL:
        return MANUAL
    if len(expression.split()) != 5:
        raise ValueError(
            f"Task frequency {frequency!r} is not a 5-field cron expression, a timedelta or 'manual'"
        )
    try:
        CronSim(expression, datetime.now(UTC))
    except CronSimError as error:
        raise ValueError(f"Invalid cron expression {frequency!r}: {error}") from error
    return expression


def first_run_at(frequency: Frequency, now: float, initial_delay: timedelta) -> float | None:
    """When a newly scheduled task first becomes due (None for manual tasks)."""
    earliest = now + initial_delay.total_seconds()
    if frequency == MANUAL:
        return None
    if isinstance(frequency, timedelta):
        return earliest
    return _next_cron_fire(frequency, earliest - 1e-6)


def next_run_after(frequency: Frequency, scheduled_at: float | None, now: float) -> float | None:
    """The first slot strictly after `now` on the grid that started at `scheduled_at`.

    Using the scheduled time (not the end of the run) keeps the grid from drifting; jumping past
    `now` skips slots missed while the run took long or nobody was up.
    """
    if frequency == MANUAL:
        return None
    if isinstance(frequency, timedelta):
        interval = frequency.total_seconds()
        anchor = scheduled_at if scheduled_at is not None else now
        if anchor > now:
            return anchor
        return anchor + interval * (int((now - anchor) // interval) + 1)
    return _next_cron_fire(frequency, now)


def describe_frequency(frequency: Frequency) -> str:
    """A short human form: "every 0:05:00", "cron */5 * * * *" or "manual"."""
    if isinstance(frequency, timedelta):
        return f"every {frequency}"
    if frequency == MANUAL:
        return MANUAL
    return f"cron {frequency}"


def _next_cron_fire(expression: str, after: float) -> float:
    """The first cron fire time strictly after `after` (UTC, second precision)."""
    start = datetime.fromtimestamp(after, UTC)
    fire = next(CronSim(expression, start))
    if fire.timestamp() <= after:  # CronSim works in whole seconds
        fire = next(CronSim(expression, fire))
    return fire.timestamp()


def _as_datetime(epoch_seconds: float | None) -> datetime | None:
    return None if epoch_seconds is None else datetime.fromtimestamp(epoch_seconds, UTC)


def _describe_error(error_json: str | None) -> str | None:
    if error_json is None:
        return None
    error = json.loads(error_json)
    return f"{error.get('name', 'Error')}: {error.get('message', '')}"


class SchedulerService:
    """Runs a plugin's periodic tasks in background threads; see the module docstring."""

    def __init__(
        self,
        database: PluginDatabase,
        *,
        plugin_id: str,
        logger: logging.Logger | None = None,
        poll_interval: float = 0.25,
        max_workers: int = 4,
    ) -> None:
        self._database = database
        self._plugin_id = plugin_id
        self._logger = logger or logging.getLogger(f"greenroom.scheduler.{plugin_id}")
        self._poll_interval = poll_interval
        self._max_workers = max_workers
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._table_ready = False

    # --- public API -----------------------------------------------------------------------------

    def schedule_task(
        self,
        id: str,
        fn: TaskFunction,
        *,
        frequency: timedelta | str,
        timeout: timedelta,
        initial_delay: timedelta = timedelta(0),
        scope: TaskScope = "global",
    ) -> None:
        """Register `fn` to run every `frequency`; global tasks run once per slot across replicas.

        `fn` gets an Event that is set when it should give up: on `stop()` or past `timeout`.
        """
        if timeout <= timedelta(0):
            raise ValueError(f"Task '{id}' timeout must be positive, got {timeout}")
        task = _Task(
            id=id,
            fn=fn,
            frequency=parse_frequency(frequency),
            timeout=timeout,
            initial_delay=initial_delay,
            scope=scope,
        )
        with self._lock:
            if id in self._tasks:
                raise ConflictError(f"Task '{id}' is already scheduled in plugin '{self._plugin_id}'")
            if scope == "global":
                self._register_global(task)
            else:
                task.next_run_at = first_run_at(task.frequency, time.time(), initial_delay)
            self._tasks[id] = task
        self._wake.set()

    def trigger_task(self, id: str) -> None:
        """Make the task due now; raises ConflictError if it is running, NotFoundError if unknown."""
        with self._lock:
            task = self._tasks.get(id)
            if task is None:
                raise NotFoundError(f"Task '{id}' is not scheduled in plugin '{self._plugin_id}'")
            if task.scope == "local":
                if task.running_here:
                    raise ConflictError(f"Task '{id}' is currently running")
                task.next_run_at = time.time()
            else:
                self._trigger_global(id)
        self._wake.set()

    def get_scheduled_tasks(self) -> list[ScheduledTaskInfo]:
        """The tasks registered with this scheduler; global ones as recorded in the shared table."""
        with self._lock:
            tasks = list(self._tasks.values())
        global_ids = [task.id for task in tasks if task.scope == "global"]
        rows: dict[str, Any] = {}
        if global_ids:
            with self._database.engine.connect() as connection:
                result = connection.execute(sa.select(tasks_table).where(tasks_table.c.id.in_(global_ids)))
                rows = {row.id: row for row in result}
        now = time.time()
        infos = []
        for task in tasks:
            row = rows.get(task.id)
            if task.scope == "global" and row is not None:
                running = row.current_run_ticket is not None and (row.current_run_expires_at or 0) >= now
                infos.append(
                    ScheduledTaskInfo(
                        id=task.id,
                        scope="global",
                        frequency=describe_frequency(task.frequency),
                        next_run_at=_as_datetime(row.next_run_start_at),
                        last_run_started_at=_as_datetime(row.last_run_started_at),
                        last_run_ended_at=_as_datetime(row.last_run_ended_at),
                        last_run_error=_describe_error(row.last_run_error_json),
                        running=running,
                    )
                )
            else:
                infos.append(
                    ScheduledTaskInfo(
                        id=task.id,
                        scope=task.scope,
                        frequency=describe_frequency(task.frequency),
                        next_run_at=_as_datetime(task.next_run_at),
                        last_run_started_at=_as_datetime(task.last_run_started_at),
                        last_run_ended_at=_as_datetime(task.last_run_ended_at),
                        last_run_error=task.last_run_error,
                        running=task.running_here,
                    )
                )
        return infos

    def start(self) -> None:
        """Start the loop thread that claims due tasks and hands them to the worker pool."""
        with self._lock:
            if self._loop_thread is not None:
                return
            self._stopping.clear()
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix=f"scheduler-{self._plugin_id}"
            )
            self._loop_thread = threading.Thread(
                target=self._loop, name=f"scheduler-{self._plugin_id}-loop", daemon=True
            )
            self._loop_thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop claiming, tell running tasks to abort, and wait up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            loop_thread, executor = self._loop_thread, self._executor
            self._loop_thread = self._executor = None
            self._stopping.set()
            running = [task for task in self._tasks.values() if task.running_here]
            for task in running:
                if task.abort is not None:
                    task.abort.set()
        self._wake.set()
        if loop_thread is not None:
            loop_thread.join(max(0.0, deadline - time.monotonic()))
        for task in running:
            future = task.future
            if future is not None:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    self._logger.warning("Task '%s' did not stop within %ss", task.id, timeout)
                except Exception:  # the worker already recorded and logged it
                    pass
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    # --- the loop ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._run_due_tasks()
            except Exception:
                # The database may be briefly unreachable; keep going and try again next poll.
                self._logger.exception("Scheduler loop for plugin '%s' failed; retrying", self._plugin_id)
            self._wake.wait(self._poll_interval)
            self._wake.clear()

    def _run_due_tasks(self) -> None:
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            if self._stopping.is_set():
                return
            now = time.time()
            if task.running_here:
                self._abort_if_overdue(task, now)
                continue
            if self._busy_workers() >= self._max_workers:
                continue
            if task.scope == "local":
                if task.next_run_at is not None and task.next_run_at <= now:
                    self._launch(task, ticket=None, scheduled_at=task.next_run_at, now=now)
            else:
                ticket = uuid.uuid4().hex
                scheduled_at = self._claim(task, ticket, now)
                if scheduled_at is not None:
                    self._launch(task, ticket=ticket, scheduled_at=scheduled_at, now=now)

    def _busy_workers(self) -> int:
        with self._lock:
            return sum(1 for task in self._tasks.values() if task.running_here)

    def _abort_if_overdue(self, task: _Task, now: float) -> None:
        if task.run_started_at is None or task.timed_out or task.abort is None:
            return
        if now - task.run_started_at > task.timeout.total_seconds():
            task.timed_out = True
            task.abort.set()
            self._logger.warning(
                "Task '%s' exceeded its timeout of %s; asked it to abort", task.id, task.timeout
            )

    def _launch(self, task: _Task, *, ticket: str | None, scheduled_at: float, now: float) -> None:
        executor = self._executor
        if executor is None:  # stopped between claim and launch: hand the slot back untouched
            if ticket is not None:
                self._release(task, ticket, scheduled_at, None, None, record_end=False)
            return
        abort = threading.Event()
        with self._lock:
            task.abort, task.run_started_at, task.timed_out = abort, now, False
            task.future = executor.submit(self._run, task, abort, ticket, scheduled_at)

    def _run(self, task: _Task, abort: threading.Event, ticket: str | None, scheduled_at: float) -> None:
        started_at = time.time()
        error_json: str | None = None
        try:
            task.fn(abort)
        except Exception as error:
            self._logger.exception("Task '%s' failed", task.id)
            error_json = json.dumps({"name": type(error).__name__, "message": str(error)})
        ended_at = time.time()
        next_run_at = next_run_after(task.frequency, scheduled_at, ended_at)
        if ticket is None:
            with self._lock:
                task.last_run_started_at, task.last_run_ended_at = started_at, ended_at
                task.last_run_error = _describe_error(error_json)
                task.next_run_at = next_run_at
        else:
            self._release(task, ticket, next_run_at, ended_at, error_json)
        self._wake.set()

    # --- the shared table ----------------------------------------------------------------------

    def _ensure_table(self) -> None:
        if self._table_ready:
            return
        # Concurrent CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL, hence the lock.
        with self._database.advisory_lock(TASKS_TABLE_LOCK), self._database.engine.begin() as connection:
            _metadata.create_all(connection, checkfirst=True)
        self._table_ready = True

    def _register_global(self, task: _Task) -> None:
        self._ensure_table()
        # The initial delay is a per-process startup concern, so it is not part of the shared
        # settings: a replica starting with another delay must not reset everyone's schedule.
        settings_json = json.dumps(
            {
                "version": 1,
                "frequency": describe_frequency(task.frequency),
                "timeout": task.timeout.total_seconds(),
            }
        )
        values = {
            "id": task.id,
            "settings_json": settings_json,
            "next_run_start_at": first_run_at(task.frequency, time.time(), task.initial_delay),
        }
        insert_module = postgresql if self._database.dialect == "postgresql" else sqlite
        with self._database.engine.begin() as connection:
            # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
            inserted = connection.execute(
                insert_module.insert(tasks_table)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(tasks_table.c.id)
            ).all()
            if not inserted:
                # Another replica (or an earlier run) registered it; restart the schedule only when
                # the settings changed, otherwise keep the shared grid.
                connection.execute(
                    sa.update(tasks_table)
                    .where(tasks_table.c.id == task.id, tasks_table.c.settings_json != settings_json)
                    .values(settings_json=settings_json, next_run_start_at=values["next_run_start_at"])
                )

    def _claim(self, task: _Task, ticket: str, now: float) -> float | None:
        """Take the ticket on a due, unclaimed row; returns its scheduled time if this process won."""
        table = tasks_table
        statement = (
            sa.update(table)
            .where(
                table.c.id == task.id,
                table.c.next_run_start_at <= now,
                sa.or_(table.c.current_run_ticket.is_(None), table.c.current_run_expires_at < now),
            )
            .values(
                current_run_ticket=ticket,
                current_run_started_at=now,
                current_run_expires_at=now + task.timeout.total_seconds(),
                last_run_started_at=now,
            )
            .returning(table.c.next_run_start_at)
        )
        with self._database.engine.begin() as connection:
            won = connection.execute(statement).all()
        return won[0].next_run_start_at if len(won) == 1 else None

    def _release(
        self,
        task: _Task,
        ticket: str,
        next_run_at: float | None,
        ended_at: float | None,
        error_json: str | None,
        *,
        record_end: bool = True,
    ) -> None:
        """Give the ticket back and set the next slot; only if this run still holds the ticket."""
        table = tasks_table
        values: dict[str, Any] = {
            "next_run_start_at": next_run_at,
            "current_run_ticket": None,
            "current_run_started_at": None,
            "current_run_expires_at": None,
        }
        if record_end:
            values.update(last_run_ended_at=ended_at, last_run_error_json=error_json)
        try:
            with self._database.engine.begin() as connection:
                released = connection.execute(
                    sa.update(table)
                    .where(table.c.id == task.id, table.c.current_run_ticket == ticket)
                    .values(**values)
                ).rowcount
        except Exception:
            self._logger.exception("Could not record the end of task '%s'; its ticket will expire", task.id)
            return
        if released != 1:
            self._logger.warning("Task '%s' ran past its timeout and another run took over its slot", task.id)

    def _trigger_global(self, task_id: str) -> None:
        table = tasks_table
        now = time.time()
        with self._database.engine.begin() as connection:
            updated = connection.execute(
                sa.update(table)
                .where(
                    table.c.id == task_id,
                    sa.or_(table.c.current_run_ticket.is_(None), table.c.current_run_expires_at < now),
                )
                .values(next_run_start_at=now)
            ).rowcount
        if updated != 1:
            raise ConflictError(f"Task '{task_id}' is currently running")
