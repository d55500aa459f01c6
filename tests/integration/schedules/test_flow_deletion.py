"""Schedules follow their flow: deleted with it, kept when it is only recompiled."""

from __future__ import annotations

import psycopg
import pytest

import pgflow
from pgflow.db import drive_sync
from pgflow.ops.flows import compile_flow
from pgflow.ops.schedules import list_schedules, pause_schedule, schedule
from pgflow.worker.scheduler import tick_sync

from .conftest import at, compile_all, make_job, scheduled_runs

NOW = at("2024-05-01T10:00:30")


def slugs(conn: psycopg.Connection) -> list[str]:
    return [s.slug for s in drive_sync(conn, list_schedules())]


def test_deleting_a_flow_with_the_client_deletes_its_schedules(db_url):
    with pgflow.Client(db_url) as client:
        client.compile(make_job())
        client.compile(make_job("other_job"))
        client.schedule("tick_job", "@hourly")
        client.schedule("tick_job", "@daily", slug="tick_job_daily")
        client.schedule("other_job", "@hourly")
        client.delete_flow("tick_job")
        assert [s.slug for s in client.list_schedules()] == ["other_job"]


def test_delete_flow_and_data_from_sql_deletes_the_schedules_too(sconn):
    # any client of the SQL interface (pgflow's TypeScript tools, psql) gets the same cleanup
    drive_sync(sconn, schedule("tick_job", "* * * * *", now=NOW))
    sconn.execute("SELECT pgflow.delete_flow_and_data('tick_job')")
    assert slugs(sconn) == []
    assert tick_sync(sconn, at("2024-05-01T10:01:01")) == []


def test_schedules_go_at_commit_and_stay_when_the_delete_rolls_back(sconn):
    drive_sync(sconn, schedule("tick_job", "@hourly", now=NOW))
    with pytest.raises(RuntimeError), sconn.transaction():
        sconn.execute("SELECT pgflow.delete_flow_and_data('tick_job')")
        raise RuntimeError("roll back")
    assert slugs(sconn) == ["tick_job"]


def test_upsert_flow_keeps_the_schedule_of_its_slug(db_url):
    with pgflow.Client(db_url) as client, psycopg.connect(db_url, autocommit=True) as conn:
        client.upsert_flow("tenant_flow", [{"slug": "fetch"}])
        drive_sync(conn, schedule("tenant_flow", "* * * * *", now=NOW))
        drive_sync(conn, schedule("tenant_flow", "@daily", slug="tenant_paused", now=NOW))
        drive_sync(conn, pause_schedule("tenant_paused"))
        before = {s.slug: s for s in client.list_schedules()}

        assert client.upsert_flow("tenant_flow", [{"slug": "fetch"}, {"slug": "store", "deps": ["fetch"]}]) == {
            "status": "recompiled"}

        after = {s.slug: s for s in client.list_schedules()}
        assert after == before  # same ticks, same pause state, nothing recorded as failed
        [fired] = tick_sync(conn, at("2024-05-01T10:01:01"))
        assert fired.run_id is not None
        steps = conn.execute("SELECT step_slug FROM pgflow.step_states WHERE run_id = %s ORDER BY step_slug",
                             [fired.run_id]).fetchall()
        assert steps == [("fetch",), ("store",)]  # the run is of the new definition


def test_recompiling_with_data_loss_keeps_the_schedule(sconn):
    drive_sync(sconn, schedule("tick_job", "* * * * *", now=NOW))
    tick_sync(sconn, at("2024-05-01T10:01:01"))
    changed = pgflow.Flow("tick_job")

    @changed.step
    def other(input):
        return input

    assert drive_sync(sconn, compile_flow(changed, allow_data_loss=True))["status"] == "recompiled"
    assert slugs(sconn) == ["tick_job"]
    assert scheduled_runs(sconn) == []  # the old runs went with the old definition, their markers too
    [fired] = tick_sync(sconn, at("2024-05-01T10:02:01"))
    assert fired.run_id is not None and fired.tick_at == at("2024-05-01T10:02")


def test_a_flow_created_again_later_starts_without_the_old_schedules(sconn):
    drive_sync(sconn, schedule("tick_job", "@hourly", now=NOW))
    sconn.execute("SELECT pgflow.delete_flow_and_data('tick_job')")
    compile_all(sconn, make_job())
    assert slugs(sconn) == []
