"""Jobs: work that must run once across every bot process, whichever are alive: a reindex, the
feed poll, the check of followed stories.

With PostgreSQL (NEWSDESK_DATABASE_URL) the jobs live in it, in procrastinate's tables
(``QueuedJobs``), and every bot process runs a worker. procrastinate was chosen over pgqueuer
for what these jobs need, all of it built in: a *queueing lock* (at most one job of a kind
waiting: a second reindex while one runs is queued, a third is told one is waiting), a *lock*
(one of a kind running at a time), *periodic tasks* deferred once per period however many
workers are alive (the feed poll), and workers' *heartbeats* with a query for the jobs of a
worker that stopped sending them (a process killed mid-reindex: its job is retried by
another). It is maintained, MIT-licensed and speaks psycopg 3, as the rest of this code does.

With SQLite (one process) the same tasks run in-process (``LocalJobs``), with the same rules:
one of a kind at a time, one waiting, the same periods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from index.db import redacted
from index.settings import Settings
from index.statedb import StateUnavailable

log = logging.getLogger(__name__)

Deferred = Literal["started", "queued", "already waiting"]

# A worker that sent no heartbeat for this long is taken for dead, and its jobs retried
# (procrastinate's defaults are 10 s and 30 s; a reindex is seconds to minutes).
HEARTBEAT_SECONDS = 2.0
STALLED_SECONDS = 10.0
RETRY_STALLED_EVERY = 5.0
POOL_WAIT_SECONDS = 5.0
WORKER_RESTART_SECONDS = 5.0


@dataclass(frozen=True)
class Task:
    """Work the jobs run: ``run(**arguments)``, a coroutine."""

    name: str
    run: Callable[..., Awaitable[None]]
    one_at_a_time: bool = True  # a second waits until the first ends
    one_waiting: bool = True  # and a third is refused while one waits
    every: float | None = None  # seconds: deferred on its own this often


class Jobs(ABC):
    def __init__(self, tasks: Sequence[Task]) -> None:
        self.tasks = {task.name: task for task in tasks}

    @abstractmethod
    async def start(self) -> None:
        """Start working (the periodic tasks included)."""

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def defer(self, name: str, **arguments: Any) -> Deferred:
        """Ask for a task to run: at once, after the one of its kind running now, or not at
        all when one already waits for that."""

    @abstractmethod
    async def counts(self) -> dict[str, int]:
        """Jobs by state (todo, doing, failed), for the metrics."""


class LocalJobs(Jobs):
    """The jobs of one process, in asyncio tasks."""

    def __init__(self, tasks: Sequence[Task]) -> None:
        super().__init__(tasks)
        self._running: dict[str, asyncio.Task] = {}
        self._waiting: dict[str, dict[str, Any]] = {}
        self._periodic: list[asyncio.Task] = []
        self._failed = 0

    async def start(self) -> None:
        for task in self.tasks.values():
            if task.every:
                self._periodic.append(asyncio.create_task(self._every(task), name=task.name))

    async def stop(self) -> None:
        for running in [*self._periodic, *self._running.values()]:
            running.cancel()

    async def defer(self, name: str, **arguments: Any) -> Deferred:
        task = self.tasks[name]
        if task.one_at_a_time and name in self._running:
            if task.one_waiting and name in self._waiting:
                return "already waiting"
            self._waiting[name] = arguments
            return "queued"
        self._running[name] = asyncio.create_task(self._run(task, arguments), name=name)
        return "started"

    async def counts(self) -> dict[str, int]:
        return {"todo": len(self._waiting), "doing": len(self._running), "failed": self._failed}

    async def _run(self, task: Task, arguments: dict[str, Any]) -> None:
        try:
            while True:
                try:
                    await task.run(**arguments)
                except Exception:
                    self._failed += 1
                    log.exception("job %s failed", task.name)
                if task.name not in self._waiting:
                    return
                arguments = self._waiting.pop(task.name)
        finally:
            self._running.pop(task.name, None)

    async def _every(self, task: Task) -> None:
        while True:
            await asyncio.sleep(task.every or 60)
            if task.name not in self._running:
                await self.defer(task.name)


class QueuedJobs(Jobs):
    """Jobs in PostgreSQL, run by whichever process's worker takes them first."""

    def __init__(self, tasks: Sequence[Task], url: str) -> None:
        import procrastinate

        super().__init__(tasks)
        self.url = url
        # A connection given up after POOL_WAIT_SECONDS (psycopg_pool waits 30 s): a reindex
        # with the primary away is told so while the admin still watches.
        connector = procrastinate.PsycopgConnector(conninfo=url, timeout=POOL_WAIT_SECONDS)
        self.app = procrastinate.App(connector=connector)
        self._registered: dict[str, Any] = {}
        for task in tasks:
            self._register(task)
        retry = self.app.task(name="retry-stalled", queueing_lock="retry-stalled")(self._retry)
        self.app.periodic(cron=_cron(RETRY_STALLED_EVERY))(retry)
        self._worker: asyncio.Task | None = None

    def _register(self, task: Task) -> None:
        async def run(timestamp: int | None = None, **arguments: Any) -> None:
            await task.run(**arguments)  # ``timestamp``: what procrastinate gives a periodic task

        registered = self.app.task(
            name=task.name,
            lock=task.name if task.one_at_a_time else None,
            queueing_lock=task.name if task.one_waiting else None,
        )(run)
        self._registered[task.name] = registered
        if task.every:
            self.app.periodic(cron=_cron(task.every))(registered)

    async def _retry(self, timestamp: int | None = None) -> None:
        """Put back in the queue the jobs of a worker that stopped beating: its process died."""
        manager = self.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS):
            log.warning("job %s (%s) was left by a stopped worker: retried", job.id, job.task_name)
            await manager.retry_job(job)

    async def start(self) -> None:
        await self.app.open_async()
        await self._schema()
        self._worker = asyncio.create_task(self._work(), name="jobs worker")

    async def _work(self) -> None:
        """procrastinate's worker, for the process's whole life: it stops when its database
        goes away (its listener fails), so it is started again every
        ``WORKER_RESTART_SECONDS`` until the database answers."""
        stopped = False
        while True:
            try:
                if stopped:
                    await self.app.connector.execute_query_async("SELECT 1")
                    log.warning("the jobs worker is started again: its database is back")
                    stopped = False
                await self.app.run_worker_async(
                    concurrency=2,
                    install_signal_handlers=False,
                    update_heartbeat_interval=HEARTBEAT_SECONDS,
                    stalled_worker_timeout=STALLED_SECONDS,
                    listen_notify=True,
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if not stopped:
                    log.warning("the jobs worker stopped (%s); it starts again when its database "
                                "answers", str(error).strip())  # fmt: skip
            stopped = True
            await asyncio.sleep(WORKER_RESTART_SECONDS)

    async def _schema(self) -> None:
        """procrastinate's tables, made once by the first process (under an advisory lock)."""
        import psycopg

        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as db:
            await db.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
            try:
                cursor = await db.execute("SELECT to_regclass('procrastinate_jobs')")
                if (await cursor.fetchone() or (None,))[0] is None:
                    await self.app.schema_manager.apply_schema_async()
            finally:
                await db.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
        await self.app.close_async()

    async def defer(self, name: str, **arguments: Any) -> Deferred:
        from procrastinate.exceptions import AlreadyEnqueued

        busy = (await self.counts(name)).get("doing", 0) > 0
        try:
            with self._database():
                await self._registered[name].defer_async(**arguments)
        except AlreadyEnqueued:
            return "already waiting"
        return "queued" if busy else "started"

    async def counts(self, name: str | None = None) -> dict[str, int]:
        with self._database():
            rows = await self.app.connector.execute_query_all_async(
                "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs"
                " WHERE (%(name)s::text IS NULL OR task_name = %(name)s)"
                " AND status IN ('todo', 'doing', 'failed') GROUP BY status",
                name=name,
            )
        return {row["status"]: int(row["n"]) for row in rows}

    @contextlib.contextmanager
    def _database(self) -> Iterator[None]:
        """The queue's database away (the primary stopped): ``StateUnavailable``, which the
        bot already answers as a state database that is away."""
        from procrastinate.exceptions import ConnectorException

        try:
            yield
        except ConnectorException as error:
            raise StateUnavailable(
                f"The job queue's database {redacted(self.url)} is not answering: "
                f"{str(error.__cause__ or error).strip()}"
            ) from None


SCHEMA_LOCK = 7_302_118_302


def _cron(seconds: float) -> str:
    """Every ``seconds`` as procrastinate's cron: whole minutes, or seconds (its 6th field)."""
    if seconds >= 60:
        return f"*/{max(1, round(seconds / 60))} * * * *"
    return f"* * * * * */{max(1, round(seconds))}"


def jobs_for(settings: Settings, tasks: Sequence[Task]) -> Jobs:
    """In PostgreSQL when the state lives there, else in this process."""
    if settings.database_url:
        return QueuedJobs(tasks, settings.database_url)
    return LocalJobs(tasks)
