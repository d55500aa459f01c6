"""The pg_cron backend against a real PostgreSQL 15 with pg_cron 1.4 (Debian packages).

A dedicated server is started for this module (see pgcron_server.py): pg_cron works in the one
database named by cron.database_name, which the shared test server does not load.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pgflow import Cron, ScheduleError
from pgflow.db import run_sync
from pgflow import migrate
from pgflow.db import drive_sync
from pgflow.ops.schedules import (
    get_schedule,
    pause_schedule,
    schedule,
    set_schedule_backend,
    sync_declared_schedules,
    unschedule,
)
from pgflow.worker.scheduler import tick_sync
from tests.helpers import eventually

from .conftest import at, compile_all, make_job, scheduled_runs
from .pgcron_server import DATABASE, PgCronServer, require_packages

pytestmark = pytest.mark.pgcron


@pytest.fixture(scope="module")
def cron_url() -> Iterator[str]:
    require_packages()
    server = PgCronServer()
    try:
        admin = server.start()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        url = server.url(DATABASE)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_cron")
        with psycopg.connect(url) as conn:
            with conn.transaction():
                run_sync(conn, migrate.install())
        with psycopg.connect(url, autocommit=True) as conn:
            compile_all(conn, make_job(), make_job("other_job"))
        yield url
    except Exception:
        print(server.log()[-4000:])
        raise
    finally:
        server.stop()


@pytest.fixture
def cconn(cron_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(cron_url, autocommit=True) as conn:
        yield conn
        conn.execute("SELECT cron.unschedule(jobid) FROM cron.job")
        conn.execute("DELETE FROM pgflow.schedules")
        conn.execute("DELETE FROM pgflow.scheduled_runs")


def jobs(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT jobname, schedule, command, database FROM cron.job ORDER BY jobname").fetchall()


def test_a_pg_cron_schedule_is_a_cron_job_named_after_it(cconn):
    stored = drive_sync(cconn, schedule("tick_job", Cron("@hourly", input={"x": 1}), backend="pg_cron"))
    assert (stored.backend, stored.status) == ("pg_cron", "active")
    assert stored.next_run_at is not None  # computed for display; pg_cron keeps the real timetable
    assert jobs(cconn) == [("pgflow_tick_job", "0 * * * *", "SELECT pgflow.run_cron_schedule('tick_job')", DATABASE)]
    # replacing it replaces the job, not adding a second one
    drive_sync(cconn, schedule("tick_job", "*/5 * * * *", backend="pg_cron"))
    assert [(j[0], j[1]) for j in jobs(cconn)] == [("pgflow_tick_job", "*/5 * * * *")]


def test_the_job_command_starts_one_marked_run_per_tick(cconn):
    drive_sync(cconn, schedule("tick_job", Cron("* * * * *", input={"x": 1}), backend="pg_cron"))
    [(command,)] = cconn.execute("SELECT command FROM cron.job").fetchall()
    first = cconn.execute(command).fetchone()[0]
    again = cconn.execute(command).fetchone()[0]  # within the same minute: the tick already has its run
    assert first is not None and again is None
    [(slug, tick_at, catch_up_from, trigger)] = scheduled_runs(cconn)
    assert (slug, tick_at.second, tick_at.microsecond, trigger) == ("tick_job", 0, 0, "tick")
    backend, run_input = cconn.execute(
        "SELECT m.backend, r.input FROM pgflow.scheduled_runs m JOIN pgflow.runs r USING (run_id)").fetchone()
    assert (backend, run_input) == ("pg_cron", {"x": 1})


def test_the_builtin_scheduler_leaves_pg_cron_schedules_alone(cconn):
    drive_sync(cconn, schedule("tick_job", "* * * * *", backend="pg_cron"))
    assert tick_sync(cconn, at("2099-01-01T00:00")) == []
    assert scheduled_runs(cconn) == []


def test_a_paused_pg_cron_schedule_starts_nothing(cconn):
    drive_sync(cconn, schedule("tick_job", "* * * * *", backend="pg_cron"))
    drive_sync(cconn, pause_schedule("tick_job"))
    assert cconn.execute("SELECT pgflow.run_cron_schedule('tick_job')").fetchone()[0] is None
    assert scheduled_runs(cconn) == []


def test_unschedule_removes_the_cron_job(cconn):
    drive_sync(cconn, schedule("tick_job", "@daily", backend="pg_cron"))
    drive_sync(cconn, schedule("other_job", "@daily", backend="pg_cron"))
    drive_sync(cconn, unschedule("tick_job"))
    assert [j[0] for j in jobs(cconn)] == ["pgflow_other_job"]


def test_deleting_a_flow_removes_the_cron_jobs_of_its_schedules(cconn):
    compile_all(cconn, make_job("doomed_job"))
    drive_sync(cconn, schedule("doomed_job", "@daily", backend="pg_cron"))
    drive_sync(cconn, schedule("tick_job", "@daily", backend="pg_cron"))
    cconn.execute("SELECT pgflow.delete_flow_and_data('doomed_job')")
    assert [j[0] for j in jobs(cconn)] == ["pgflow_tick_job"]
    assert [r[0] for r in cconn.execute("SELECT schedule_slug FROM pgflow.schedules")] == ["tick_job"]


def test_moving_between_backends(cconn):
    drive_sync(cconn, schedule("tick_job", "@hourly"))
    assert jobs(cconn) == []
    moved = drive_sync(cconn, set_schedule_backend("tick_job", "pg_cron"))
    assert moved.backend == "pg_cron" and [j[0] for j in jobs(cconn)] == ["pgflow_tick_job"]
    assert cconn.execute("SELECT next_run_at FROM pgflow.schedules").fetchone()[0] is None
    back = drive_sync(cconn, set_schedule_backend("tick_job", "builtin"))
    assert back.backend == "builtin" and jobs(cconn) == [] and back.next_run_at is not None


def test_time_zones_other_than_pg_crons_stay_builtin(cconn):
    berlin = Cron("0 9 * * *", timezone="Europe/Berlin")
    with pytest.raises(ScheduleError, match="reads schedules in GMT"):
        drive_sync(cconn, schedule("tick_job", berlin, backend="pg_cron"))
    assert drive_sync(cconn, schedule("tick_job", berlin, backend="auto")).backend == "builtin"
    assert drive_sync(cconn, schedule("other_job", "0 9 * * *", backend="auto")).backend == "pg_cron"


def test_declared_schedules_can_be_synced_onto_pg_cron(cconn):
    report = drive_sync(cconn, sync_declared_schedules([make_job(cron="*/15 * * * *")], backend="pg_cron"))
    assert report.created == ["tick_job"]
    assert drive_sync(cconn, get_schedule("tick_job")).source == "code"
    assert [(j[0], j[1]) for j in jobs(cconn)] == [("pgflow_tick_job", "*/15 * * * *")]


def test_an_expression_pg_cron_cannot_read_is_refused(cconn):
    # cronsim accepts "last day of month" (L); pg_cron 1.4 does not
    with pytest.raises(ScheduleError, match="pg_cron"):
        drive_sync(cconn, schedule("tick_job", "0 0 L * *", backend="pg_cron"))
    assert jobs(cconn) == [] and cconn.execute("SELECT count(*) FROM pgflow.schedules").fetchone()[0] == 0


@pytest.mark.slow
def test_pg_cron_really_starts_the_run_at_the_next_minute(cconn):
    drive_sync(cconn, schedule("tick_job", "* * * * *", backend="pg_cron"))
    marked = eventually(lambda: scheduled_runs(cconn), timeout=75, interval=0.5,
                        message="pg_cron started the run at the next minute")
    [(slug, tick_at, _, trigger)] = marked[:1]
    assert (slug, tick_at.second, trigger) == ("tick_job", 0, "tick")
    assert len({t for _, t, _, _ in marked}) == len(marked)  # one run per tick
