"""The built-in scheduler's tick with an injected clock: one run per tick, policies, pause."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from pgflow import Cron, ScheduleError
from pgflow.db import drive_sync
from pgflow.ops.schedules import (
    get_schedule,
    list_schedules,
    pause_schedule,
    resume_schedule,
    run_schedule_now,
    schedule,
    schedule_history,
    unschedule,
)
from pgflow.worker.scheduler import tick_sync

from .conftest import at, scheduled_runs, ticks


def add(conn: psycopg.Connection, cron: str | Cron = "* * * * *", now: str = "2024-05-01T10:00:30", **kw) -> None:
    drive_sync(conn, schedule("tick_job", cron, now=at(now), **kw))


def test_a_due_tick_starts_one_marked_run_and_advances(sconn):
    add(sconn)
    assert drive_sync(sconn, get_schedule("tick_job", at("2024-05-01T10:00:30"))).next_run_at == at("2024-05-01T10:01")
    assert tick_sync(sconn, at("2024-05-01T10:00:59")) == []
    [fired] = tick_sync(sconn, at("2024-05-01T10:01:00.2"))
    assert (fired.tick_at, fired.next_run_at) == (at("2024-05-01T10:01"), at("2024-05-01T10:02"))
    assert tick_sync(sconn, at("2024-05-01T10:01:30")) == []
    run = sconn.execute("SELECT flow_slug, input FROM pgflow.runs WHERE run_id = %s", [fired.run_id]).fetchone()
    assert run == ("tick_job", {})
    assert scheduled_runs(sconn) == [("tick_job", at("2024-05-01T10:01"), None, "tick")]
    s = drive_sync(sconn, get_schedule("tick_job"))
    assert (s.last_tick_at, s.last_run_id, s.runs_count) == (at("2024-05-01T10:01"), fired.run_id, 1)


def test_runs_get_the_schedules_input(sconn):
    add(sconn, Cron("@hourly", input={"kind": "hourly"}))
    [fired] = tick_sync(sconn, at("2024-05-01T11:00:01"))
    assert sconn.execute("SELECT input FROM pgflow.runs WHERE run_id = %s", [fired.run_id]).fetchone()[0] == {"kind": "hourly"}


def test_one_run_per_tick_over_many_ticks(sconn):
    add(sconn)
    start = at("2024-05-01T10:01:00")
    for second in range(0, 10 * 60, 7):  # a scheduler polling every 7 s for ten minutes
        tick_sync(sconn, start + timedelta(seconds=second))
    assert ticks(sconn) == [start + timedelta(minutes=m) for m in range(10)]


def test_catch_up_one_starts_one_run_for_the_missed_window(sconn):
    add(sconn, "*/5 * * * *")  # next tick 10:05
    [fired] = tick_sync(sconn, at("2024-05-01T10:47:12"))  # ticks 10:05 ... 10:45 were missed
    assert (fired.tick_at, fired.catch_up_from, fired.next_run_at) == (
        at("2024-05-01T10:45"), at("2024-05-01T10:05"), at("2024-05-01T10:50"))
    assert scheduled_runs(sconn) == [("tick_job", at("2024-05-01T10:45"), at("2024-05-01T10:05"), "tick")]


def test_catch_up_all_starts_one_run_per_missed_tick(sconn):
    add(sconn, "*/5 * * * *", catch_up="all")
    fired = tick_sync(sconn, at("2024-05-01T10:47:12"))
    assert [f.tick_at for f in fired] == [at("2024-05-01T10:05") + timedelta(minutes=5 * i) for i in range(9)]
    assert len(ticks(sconn)) == 9
    assert drive_sync(sconn, get_schedule("tick_job", at("2024-05-01T10:47:12"))).next_run_at == at("2024-05-01T10:50")


def test_catch_up_none_skips_missed_ticks_but_runs_an_on_time_one(sconn):
    add(sconn, "*/5 * * * *", catch_up="none")
    [skipped] = tick_sync(sconn, at("2024-05-01T10:47:12"))
    assert (skipped.run_id, skipped.next_run_at) == (None, at("2024-05-01T10:50"))
    assert ticks(sconn) == []
    [on_time] = tick_sync(sconn, at("2024-05-01T10:50:20"))
    assert on_time.run_id is not None and ticks(sconn) == [at("2024-05-01T10:50")]


def test_pause_and_resume_are_persisted_and_paused_ticks_are_not_caught_up(sconn, db_url):
    add(sconn, "@hourly")
    drive_sync(sconn, pause_schedule("tick_job"))
    with psycopg.connect(db_url, autocommit=True) as other:  # another process sees the pause
        assert tick_sync(other, at("2024-05-01T13:30")) == []
        listed = drive_sync(other, list_schedules())
        assert [(s.slug, s.status, s.next_run_at) for s in listed] == [("tick_job", "paused", None)]
    resumed = drive_sync(sconn, resume_schedule("tick_job", at("2024-05-01T13:30")))
    assert (resumed.status, resumed.next_run_at) == ("active", at("2024-05-01T14:00"))
    assert tick_sync(sconn, at("2024-05-01T13:59")) == []
    [fired] = tick_sync(sconn, at("2024-05-01T14:00:01"))
    assert fired.catch_up_from is None and ticks(sconn) == [at("2024-05-01T14:00")]


def test_clock_jumping_back_starts_no_second_run(sconn):
    add(sconn)
    tick_sync(sconn, at("2024-05-01T10:01:01"))
    tick_sync(sconn, at("2024-05-01T10:02:01"))
    for jump in ("2024-05-01T10:01:01", "2024-05-01T09:00", "2024-05-01T10:02:30"):  # back, far back, forward
        assert tick_sync(sconn, at(jump)) == []
    assert ticks(sconn) == [at("2024-05-01T10:01"), at("2024-05-01T10:02")]


def test_a_tick_that_already_has_a_run_gets_no_second_one(sconn):
    add(sconn)
    tick_sync(sconn, at("2024-05-01T10:01:01"))
    # the row is put back by hand (a restore, a bug elsewhere): the marker still guards the tick
    sconn.execute("UPDATE pgflow.schedules SET next_run_at = %s", [at("2024-05-01T10:01")])
    [again] = tick_sync(sconn, at("2024-05-01T10:01:30"))
    assert again.run_id is None
    assert ticks(sconn) == [at("2024-05-01T10:01")]


def test_run_now_starts_a_manual_run_and_keeps_the_ticks(sconn):
    add(sconn, "@daily")
    before = drive_sync(sconn, get_schedule("tick_job")).next_run_at
    run_id = drive_sync(sconn, run_schedule_now("tick_job"))
    history = drive_sync(sconn, schedule_history("tick_job"))
    assert [(h["run_id"], h["trigger"]) for h in history] == [(run_id, "manual")]
    assert drive_sync(sconn, get_schedule("tick_job")).next_run_at == before


def test_a_broken_run_is_recorded_and_does_not_block_the_schedule(sconn):
    add(sconn)
    sconn.execute("UPDATE pgflow.schedules SET flow_slug = 'gone'")
    [fired] = tick_sync(sconn, at("2024-05-01T10:01:01"))
    assert fired.run_id is None and fired.next_run_at == at("2024-05-01T10:02")
    assert "could not start flow 'gone'" in drive_sync(sconn, get_schedule("tick_job")).last_error


def test_schedule_validates_flow_and_names(sconn):
    from pgflow import FlowNotFound

    with pytest.raises(FlowNotFound):
        drive_sync(sconn, schedule("no_such_flow", "@daily"))
    with pytest.raises(ScheduleError, match="time zone"):
        drive_sync(sconn, schedule("tick_job", "@daily", timezone="Mars/Olympus"))
    with pytest.raises(ScheduleError, match="no schedule named 'nope'"):
        drive_sync(sconn, pause_schedule("nope"))
    with pytest.raises(ScheduleError, match="backend must be"):
        drive_sync(sconn, schedule("tick_job", "@daily", backend="systemd"))


def test_pg_cron_backend_without_pg_cron_says_what_to_do(sconn):
    with pytest.raises(ScheduleError, match="shared_preload_libraries"):
        drive_sync(sconn, schedule("tick_job", "@daily", backend="pg_cron"))
    assert drive_sync(sconn, schedule("tick_job", "@daily", backend="auto")).backend == "builtin"


def test_several_schedules_per_flow_and_unschedule(sconn):
    add(sconn, Cron("0 6 * * *", input={"shift": "early"}), slug="early")
    add(sconn, Cron("0 18 * * *", input={"shift": "late"}), slug="late")
    assert [(s.slug, s.flow_slug, s.description) for s in drive_sync(sconn, list_schedules())] == [
        ("early", "tick_job", "every day at 06:00 UTC"), ("late", "tick_job", "every day at 18:00 UTC")]
    drive_sync(sconn, unschedule("early"))
    assert [s.slug for s in drive_sync(sconn, list_schedules())] == ["late"]


def test_replacing_a_schedule_with_the_same_expression_keeps_its_pending_tick(sconn):
    add(sconn, "@hourly", now="2024-05-01T10:10")
    add(sconn, Cron("@hourly", input={"v": 2}), now="2024-05-01T11:30")  # the 11:00 tick is still due
    [fired] = tick_sync(sconn, at("2024-05-01T11:30:01"))
    assert fired.tick_at == at("2024-05-01T11:00")
