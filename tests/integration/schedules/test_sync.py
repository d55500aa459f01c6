"""Schedules declared in code (Flow(..., cron=...)) are synced when a scheduler starts."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from pgflow import Cron, ScheduleError
from pgflow.db import drive_sync
from pgflow.ops.schedules import get_schedule, list_schedules, resume_schedule, schedule, sync_declared_schedules
from pgflow.worker.scheduler import Scheduler
from tests.helpers import eventually_async

from .conftest import at, compile_all, make_job


def sync(conn, *flows, now="2024-05-01T10:00:30"):
    return drive_sync(conn, sync_declared_schedules(flows, now=at(now)))


def test_declared_schedules_are_created_then_left_alone(sconn):
    job = make_job(cron=Cron("0 9 * * *", input={"a": 1}, timezone="Europe/Berlin"))
    assert sync(sconn, job).created == ["tick_job"]
    stored = drive_sync(sconn, get_schedule("tick_job"))
    assert (stored.source, stored.expression, stored.timezone, stored.input, stored.description) == (
        "code", "0 9 * * *", "Europe/Berlin", {"a": 1}, "every day at 09:00 Europe/Berlin")
    assert stored.next_run_at == at("2024-05-02T07:00")
    assert sync(sconn, job, now="2024-05-01T12:00").unchanged == ["tick_job"]
    assert drive_sync(sconn, get_schedule("tick_job")).next_run_at == at("2024-05-02T07:00")


def test_a_changed_declaration_updates_the_schedule_and_keeps_a_pause(sconn):
    sync(sconn, make_job(cron="@daily"))
    sconn.execute("UPDATE pgflow.schedules SET enabled = false")
    report = sync(sconn, make_job(cron="@hourly"))
    assert report.updated == ["tick_job"]
    stored = drive_sync(sconn, get_schedule("tick_job"))
    assert (stored.expression, stored.status) == ("@hourly", "paused")


def test_a_schedule_removed_from_code_is_orphaned_not_kept_running(sconn):
    sync(sconn, make_job(cron="@hourly"))
    report = sync(sconn, make_job(cron=None))
    assert report.orphaned == ["tick_job"]
    [stored] = drive_sync(sconn, list_schedules())
    assert (stored.status, stored.enabled, stored.next_run_at) == ("orphaned", False, None)
    assert sync(sconn, make_job(cron=None)).orphaned == []  # reported once
    # declared again: active again
    assert sync(sconn, make_job(cron="@hourly")).readopted == ["tick_job"]
    assert drive_sync(sconn, get_schedule("tick_job")).status == "active"


def test_resuming_an_orphan_adopts_it_as_an_api_schedule(sconn):
    sync(sconn, make_job(cron="@hourly"))
    sync(sconn, make_job(cron=None))
    resumed = drive_sync(sconn, resume_schedule("tick_job"))
    assert (resumed.status, resumed.source) == ("active", "api")
    assert sync(sconn, make_job(cron=None)).orphaned == []


def test_code_and_api_schedules_do_not_overwrite_each_other(sconn):
    sync(sconn, make_job(cron="@hourly"))
    with pytest.raises(ScheduleError, match="declared in code"):
        drive_sync(sconn, schedule("tick_job", "@daily"))
    drive_sync(sconn, schedule("tick_job", "@daily", slug="tick_job_daily"))
    compile_all(sconn, make_job("api_job"))
    drive_sync(sconn, schedule("api_job", "@daily"))
    assert sync(sconn, make_job("api_job", cron="@hourly")).conflicts == ["api_job"]
    assert drive_sync(sconn, get_schedule("api_job")).expression == "@daily"


async def test_the_scheduler_syncs_at_start_and_starts_due_runs_in_real_time(sconn, db_url):
    job = make_job(cron="* * * * *")
    scheduler = Scheduler(db_url, flows=[job], max_interval=0.2)
    shutdown = asyncio.Event()
    task = asyncio.create_task(scheduler.run(shutdown))
    try:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            async def synced():
                return (await (await conn.execute("SELECT count(*) FROM pgflow.schedules")).fetchone())[0] == 1

            await eventually_async(synced, message="the declared schedule is synced")
            # make the tick due now instead of waiting for the next minute
            await conn.execute("UPDATE pgflow.schedules SET next_run_at = now() - interval '1 second'")

            async def started():
                return (await (await conn.execute("SELECT count(*) FROM pgflow.scheduled_runs")).fetchone())[0] == 1

            await eventually_async(started, message="the scheduler started the due run")
            row = await (await conn.execute("SELECT next_run_at > now() FROM pgflow.schedules")).fetchone()
            assert row[0] is True
    finally:
        shutdown.set()
        await asyncio.wait_for(task, 10)
    with psycopg.connect(db_url) as check:  # (a minute boundary may have passed meanwhile)
        assert scheduler.fired_count == check.execute("SELECT count(*) FROM pgflow.scheduled_runs").fetchone()[0]
