"""Workers run the scheduler: declared schedules are synced at start and due ticks run once."""

from __future__ import annotations

from contextlib import AsyncExitStack

import psycopg

import pgflow
from pgflow.db.dsn import connect_options
from tests.helpers import eventually_async

FAST = {"heartbeat_interval": 0.5, "shutdown_timeout": 5.0, "notify_fallback_interval": 1.0}


def minutely_job() -> pgflow.Job:
    job = pgflow.Job("minutely", cron=pgflow.Cron("* * * * *", input={"from": "cron"}))

    @job.perform
    def handle(input):
        return {"got": input}

    return job


async def scalar(conn: psycopg.AsyncConnection, sql: str) -> object:
    return (await (await conn.execute(sql)).fetchone())[0]


async def test_three_workers_sync_the_declared_schedule_and_run_each_tick_once(db_url):
    async with AsyncExitStack() as stack:
        workers = [pgflow.Worker(db_url, [minutely_job()], **FAST) for _ in range(3)]
        for worker in workers:
            await worker.start()
            stack.push_async_callback(worker.stop)
        conn = await stack.enter_async_context(await psycopg.AsyncConnection.connect(
            db_url, autocommit=True, **connect_options(db_url)))  # the matrix runs it through PgBouncer

        async def synced() -> bool:
            return await scalar(conn, "SELECT count(*) FROM pgflow.schedules WHERE source = 'code'") == 1

        await eventually_async(synced, message="the workers synced the declared schedule")
        # make the next tick due now rather than waiting for the minute to turn
        await conn.execute("UPDATE pgflow.schedules SET next_run_at = date_trunc('second', now())")

        async def completed() -> bool:
            return await scalar(conn, "SELECT count(*) FROM pgflow.runs r JOIN pgflow.scheduled_runs m "
                                      "USING (run_id) WHERE r.status = 'completed'") >= 1

        await eventually_async(completed, timeout=20, message="a worker ran the scheduled job")
        output = await scalar(conn, "SELECT output FROM pgflow.runs LIMIT 1")
        assert output == {"minutely": {"got": {"from": "cron"}}}
        duplicates = await scalar(conn, "SELECT count(*) - count(DISTINCT tick_at) FROM pgflow.scheduled_runs")
        assert duplicates == 0


def test_the_scheduler_is_a_worker_service_that_can_be_turned_off(db_url):
    assert "scheduler" in [s.name for s in pgflow.Worker(db_url, [minutely_job()]).services]
    assert "scheduler" not in [s.name for s in pgflow.Worker(db_url, [minutely_job()], scheduler=False).services]
