"""The built-in scheduler: starts the runs of due schedules (asyncio).

Any number of schedulers (one per worker by default) may run against one database. Each pass
claims the most overdue schedule with ``FOR UPDATE SKIP LOCKED``, moves its ``next_run_at`` to
the next tick and starts the run in the same transaction (:func:`pgflow.ops.schedules.fire_next_due`),
so every tick starts exactly one run however many schedulers race, crash or restart. The
database clock decides when a tick is due, so schedulers on machines whose clocks disagree
still agree; a tick that already has a run can never get a second one (a unique index on
``pgflow.scheduled_runs (schedule_slug, tick_at)``).

Between passes the scheduler sleeps until the next tick is due (asked from the database),
waking at least every ``max_interval`` seconds to notice new or changed schedules.

    scheduler = Scheduler(conninfo, flows=[nightly_report])
    await scheduler.run(shutdown_event)          # syncs the flows' cron= first

Tests drive :func:`tick` with an explicit ``now`` instead of waiting for real minutes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import psycopg

from pgflow import telemetry
from pgflow.errors import PgFlowError
from pgflow.db import drive_async, drive_sync
from pgflow.ops.schedules import Fired, SyncReport, fire_next_due, seconds_until_next_due, sync_declared_schedules
from pgflow.worker.context import WorkerContext

log = logging.getLogger("pgflow.scheduler")

BATCH = 100  # due schedules handled per pass at most; the next pass follows at once
WAKE_LATE = 0.005  # seconds added to a sleep so the database sees the tick as due


async def tick(conn: psycopg.AsyncConnection[Any], now: datetime | None = None, limit: int = BATCH) -> list[Fired]:
    """Start the runs of every due schedule (at most ``limit``), one transaction per schedule.

    ``conn`` must be in autocommit mode (no transaction open). ``now`` replaces the database
    clock, for tests.
    """
    fired: list[Fired] = []
    for _ in range(limit):
        result = await drive_async(conn, fire_next_due(now))
        if result is None:
            break
        fired.append(result)
    return fired


def tick_sync(conn: psycopg.Connection[Any], now: datetime | None = None, limit: int = BATCH) -> list[Fired]:
    """:func:`tick` on a sync connection."""
    fired: list[Fired] = []
    for _ in range(limit):
        result = drive_sync(conn, fire_next_due(now))
        if result is None:
            break
        fired.append(result)
    return fired


class Scheduler:
    """Runs :func:`tick` whenever a schedule is due, until ``shutdown`` is set.

    ``flows``: the flows and jobs whose ``cron=`` is synced to the database when the scheduler
    starts (see :func:`pgflow.ops.schedules.sync_declared_schedules`); ``backend`` is the
    backend of newly declared schedules (``"builtin"``, ``"pg_cron"`` or ``"auto"``).
    ``database``: a :class:`pgflow.db.Database` to share (the worker passes its own);
    by default the scheduler opens its own connection to ``conninfo``.
    """

    def __init__(
        self,
        conninfo: str | None = None,
        *,
        flows: Iterable[Any] = (),
        backend: str = "builtin",
        database: Any = None,
        max_interval: float = 10.0,
    ) -> None:
        if database is None:
            if conninfo is None:
                raise PgFlowError("Scheduler needs a conninfo (database URL) or a database")
            from pgflow.db import Database

            database = Database(conninfo, size=1, application_name="pgflow scheduler")
            self._owns_database = True
        else:
            self._owns_database = False
        self.database = database
        self.flows = list(flows)
        self.backend = backend
        self.max_interval = max_interval
        self.fired_count = 0

    async def sync(self, stop: asyncio.Event | None = None) -> SyncReport:
        """Sync the declared schedules of ``flows``; reports and logs what changed."""

        async def run(conn: psycopg.AsyncConnection[Any]) -> SyncReport:
            return await drive_async(conn, sync_declared_schedules(self.flows, self.backend))

        report: SyncReport = await self.database.call("schedules.sync", run, stop=stop)
        for slug in report.orphaned:
            log.warning("schedule %r is no longer declared in code: paused and listed as orphaned "
                        "(delete it with `pgflow schedules unschedule %s`, or resume it to keep it)", slug, slug)
        for slug in report.conflicts:
            log.warning("schedule %r is declared in code but a schedule of that name was created with "
                        "client.schedule(); the stored one is kept (unschedule it to use the code's)", slug)
        if report.created or report.updated or report.readopted:
            log.info("schedules synced: created %s, updated %s, re-declared %s",
                     report.created, report.updated, report.readopted)
        telemetry.execute("scheduler.sync", {"orphaned": len(report.orphaned)},
                          {"created": report.created, "updated": report.updated, "orphaned": report.orphaned})
        return report

    async def pass_once(self, stop: asyncio.Event | None = None, now: datetime | None = None) -> tuple[list[Fired], float | None]:
        """One pass: start what is due, then ask how long until the next tick (seconds)."""

        async def run(conn: psycopg.AsyncConnection[Any]) -> tuple[list[Fired], float | None]:
            fired = await tick(conn, now)
            return fired, await drive_async(conn, seconds_until_next_due(now))

        fired, wait = await self.database.call("schedules.tick", run, stop=stop)
        for item in fired:
            self._report(item)
        return fired, wait

    def _report(self, item: Fired) -> None:
        self.fired_count += item.run_id is not None
        meta = {"schedule_slug": item.slug, "run_id": item.run_id, "tick_at": item.tick_at,
                "catch_up_from": item.catch_up_from, "next_run_at": item.next_run_at}
        if item.error:
            log.error("schedule %r: %s", item.slug, item.error)
            telemetry.execute("scheduler.error", {}, {**meta, "error": item.error})
        elif item.run_id is not None:
            missed = f" (catching up the ticks since {item.catch_up_from:%Y-%m-%d %H:%M})" if item.catch_up_from else ""
            log.info("schedule %r started run %s for the tick at %s%s", item.slug, item.run_id, item.tick_at, missed)
            telemetry.execute("scheduler.fired", {}, meta)
        else:
            log.warning("schedule %r: no run for the tick due at %s (missed ticks skipped, or the run "
                        "could not start: see `pgflow schedules list`)", item.slug, item.due_at)
            telemetry.execute("scheduler.skipped", {}, meta)

    async def run(self, shutdown: asyncio.Event) -> None:
        """Sync the declared schedules, then start due runs until ``shutdown`` is set."""
        try:
            if self.flows:
                try:
                    await self.sync(shutdown)
                except PgFlowError as exc:  # e.g. pg_cron asked for but missing: keep scheduling the rest
                    log.error("could not sync the schedules declared in code: %s", exc)
            while not shutdown.is_set():
                try:
                    fired, wait = await self.pass_once(shutdown)
                except PgFlowError as exc:
                    log.error("scheduler pass failed: %s", exc)
                    fired, wait = [], None
                delay = self.max_interval if wait is None else min(max(wait, 0.0) + WAKE_LATE, self.max_interval)
                if len(fired) >= BATCH:
                    delay = 0.0
                await _sleep(delay, shutdown)
        except Exception as exc:
            from pgflow.db import Stopped

            if not isinstance(exc, Stopped):
                raise
        finally:
            if self._owns_database:
                await self.database.close()


class SchedulerService:
    """The worker's background service (``pgflow.Worker(..., scheduler=True)``, the default).

    Syncs the ``cron=`` of the worker's flows, then runs a :class:`Scheduler` on the worker's
    connections until the worker stops taking work.
    """

    name = "scheduler"

    async def run(self, ctx: WorkerContext) -> None:
        await Scheduler(database=ctx.database, flows=ctx.flows).run(ctx.stopping)


async def _sleep(seconds: float, shutdown: asyncio.Event) -> None:
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    try:
        await asyncio.wait_for(shutdown.wait(), seconds)
    except asyncio.TimeoutError:
        pass


__all__ = ["Scheduler", "SchedulerService", "tick", "tick_sync"]
