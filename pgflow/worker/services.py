"""Background services: small async components the worker runs beside its poller.

A service has a ``name`` and ``async def run(self, ctx)``, where ``ctx`` is the
:class:`~pgflow.worker.context.WorkerContext` of the running worker; it runs until the worker
cancels it when the worker stops (after in-flight tasks are done, so heartbeats continue
while the worker drains). A failing service is restarted after a pause. The worker starts
``default_services(config)``; another component (e.g. the scheduler) joins with one line there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol
from uuid import UUID

from pgflow import telemetry
from pgflow.worker.config import WorkerConfig
from pgflow.worker.context import WorkerContext
from pgflow.db import is_transient
from pgflow.worker.scheduler import SchedulerService
from pgflow.worker.startup import insert_worker_rows

log = logging.getLogger("pgflow.worker")

# pg_try_advisory_xact_lock key for the stalled-task sweeper (one sweep per database at a time)
SWEEPER_LOCK_KEY = 7_401_505_284
# seconds between two wake_due_steps() calls (sleeps and signal timeouts end at most this late)
WAKE_INTERVAL = 1.0


class Service(Protocol):
    name: str

    async def run(self, ctx: WorkerContext) -> None: ...


class Heartbeat:
    """Every ``interval`` s: ``last_heartbeat_at`` of the worker's rows; stop when deprecated;
    hand the runs of tasks in flight that were cancelled meanwhile to ``ctx.cancel_runs``.

    While the database is unreachable it keeps trying, and warns once the last heartbeat is older
    than ``stale_threshold`` (``health_check`` then shows this worker as stale).
    """

    name = "heartbeat"

    def __init__(self, interval: float, stale_threshold: float) -> None:
        self.interval = interval
        self.stale_threshold = stale_threshold

    async def run(self, ctx: WorkerContext) -> None:
        last_beat = time.monotonic()
        warned = False
        worker_ids = list(ctx.worker_ids.values())
        while True:
            await asyncio.sleep(self.interval)
            try:
                rows = await ctx.database.fetch(
                    "worker_heartbeat", {"worker_ids": worker_ids, "run_ids": list(ctx.running_runs())}, retry=False)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                silent = time.monotonic() - last_beat
                if silent > self.stale_threshold and not warned:
                    warned = True
                    log.warning("no heartbeat for %.0f s (%s): health_check reports this worker as stale "
                                "until the database is back; its tasks keep running", silent, exc)
                continue
            last_beat, warned = time.monotonic(), False
            cancelled = rows[0]["cancelled_runs"] if rows else None
            if cancelled:
                ctx.cancel_runs(cancelled)
            await self._register_lost_rows(ctx, {r["worker_id"] for r in rows})
            if any(r["deprecated"] for r in rows):
                telemetry.execute("worker.deprecated", {}, {"worker_name": ctx.name})
                ctx.request_stop("deprecated")
                return


    @staticmethod
    async def _register_lost_rows(ctx: WorkerContext, alive: set[UUID]) -> None:
        """Rows of this worker that no longer exist (the heartbeat found none to update) are
        inserted again: without them every claim fails on step_tasks.last_worker_id's foreign key,
        and the worker would look alive while running nothing."""
        lost = {queue: worker_id for queue, worker_id in ctx.worker_ids.items() if worker_id not in alive}
        if not lost:
            return
        log.warning("this worker's row(s) in pgflow.workers for %s disappeared (deleted or pruned while it "
                    "ran); registering them again", ", ".join(lost))
        await insert_worker_rows(ctx.database, ctx.name, lost, retry=False)


class Sweeper:
    """Every ``interval`` s: ``requeue_stalled_tasks()``, by one worker of the database at a time."""

    name = "sweeper"

    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def run(self, ctx: WorkerContext) -> None:
        while True:
            await asyncio.sleep(self.interval)
            rows = await ctx.database.fetch("worker_requeue_stalled", {"lock_key": SWEEPER_LOCK_KEY}, retry=False)
            count = rows[0]["requeued"] if rows else None
            if count:
                telemetry.execute("sweeper.requeued", {"count": count}, {"worker_name": ctx.name})
                ctx.wake(None)


class Waker:
    """Every ``interval`` s: ``wake_due_steps()`` - sleeps that are due complete, signals that
    timed out fail or take their default. Every worker runs it (the SQL skips what another
    caller holds), so waits end on time while any worker is up."""

    name = "waker"

    def __init__(self, interval: float = WAKE_INTERVAL) -> None:
        self.interval = interval

    async def run(self, ctx: WorkerContext) -> None:
        while True:
            await asyncio.sleep(self.interval)
            rows = await ctx.database.fetch("worker_wake_due_steps", {}, retry=False)
            if rows and rows[0]["woken"]:  # steps that woke may have started others: look at the queues
                ctx.wake(None)


def default_services(config: WorkerConfig) -> list[Service]:
    """The services every worker runs."""
    return [
        Heartbeat(config.heartbeat_interval, config.effective_stale_threshold),
        Sweeper(config.recovery_interval),
        Waker(),
        *([SchedulerService()] if config.scheduler else []),
    ]
