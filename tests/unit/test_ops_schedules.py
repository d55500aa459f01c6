"""pgflow.ops.schedules stepped without a database: the scheduler's tick, managing schedules, and
syncing the schedules declared in code. (The missed-ticks policy alone: tests/unit/schedules.)"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest

import pgflow
from pgflow.errors import FlowNotFound, ScheduleError
from pgflow.ops import schedules as schedule_ops
from tests.unit.ops_steps import first, json_of, play, query
from tests.helpers import iso

RUN_ID = UUID("3f2a9c1e-0b7d-4c55-9d0e-6a1b2c3d4e5f")


def at(text: str) -> datetime:
    return iso(text).replace(tzinfo=timezone.utc)


def schedule_row(slug: str = "nightly", **overrides: Any) -> dict[str, Any]:
    row = {"schedule_slug": slug, "flow_slug": "orders", "expression": "0 9 * * *", "timezone": "UTC",
           "input": {}, "catch_up": "one", "backend": "builtin", "source": "api", "enabled": True,
           "next_run_at": at("2030-01-01T09:00"), "orphaned_at": None, "last_tick_at": None, "last_run_at": None,
           "last_run_id": None, "last_error": None, "created_at": None, "updated_at": None,
           "now": at("2030-01-01T08:00")}
    row.update(overrides)
    return row


# --- the scheduler's tick ------------------------------------------------------------------------

def due_row(**overrides: Any) -> dict[str, Any]:
    return {"schedule_slug": "nightly", "next_run_at": at("2030-01-01T09:00"), "expression": "0 9 * * *",
            "timezone": "UTC", "catch_up": "one", "now": at("2030-01-01T09:00:05"), **overrides}


def test_fire_next_due_returns_none_when_nothing_is_due() -> None:
    steps, fired = play(schedule_ops.fire_next_due(), None)
    assert query(steps[0], "schedules_claim_due", "one") == {"now": None}
    assert fired is None


def test_fire_next_due_advances_the_schedule_and_starts_its_run_in_one_transaction() -> None:
    steps, fired = play(schedule_ops.fire_next_due(at("2030-01-01T09:00:05")), due_row(), None, RUN_ID)
    assert [(s.sql, s.fetch, s.commits) for s in steps] == [
        ("schedules_claim_due", "one", False), ("schedules_advance", "none", False),
        ("schedules_start_scheduled_flow", "scalar", True)]
    assert steps[1].params["next_run_at"] == at("2030-01-02T09:00")
    assert steps[2].params == {"schedule_slug": "nightly", "tick_at": at("2030-01-01T09:00"),
                               "catch_up_from": None, "trigger": "tick"}
    assert (fired.slug, fired.run_id, fired.tick_at, fired.next_run_at) == (
        "nightly", RUN_ID, at("2030-01-01T09:00"), at("2030-01-02T09:00"))


def test_fire_next_due_skips_a_tick_found_too_late_without_catch_up() -> None:
    late = due_row(catch_up="none", now=at("2030-01-01T11:00"))
    steps, fired = play(schedule_ops.fire_next_due(), late, None)
    assert [s.sql for s in steps] == ["schedules_claim_due", "schedules_advance"]  # the COMMIT goes with the advance
    assert (fired.tick_at, fired.run_id, fired.next_run_at) == (None, None, at("2030-01-02T09:00"))


def test_fire_next_due_pauses_a_schedule_whose_row_cannot_be_read() -> None:
    steps, fired = play(schedule_ops.fire_next_due(), due_row(timezone="Mars/Olympus"), 1)
    params = query(steps[1], "schedules_disable_broken", commits=True)
    assert params["schedule_slug"] == "nightly" and "Mars/Olympus" in params["error"]
    assert fired.error == params["error"] and fired.run_id is None


def test_seconds_until_next_due() -> None:
    steps, seconds = play(schedule_ops.seconds_until_next_due(), 12.5)
    assert query(steps[0], "schedules_next_due", "scalar", commits=True) == {"now": None}
    assert seconds == 12.5


# --- schedule ------------------------------------------------------------------------------------

def test_schedule_a_new_builtin_schedule_from_the_database_clock() -> None:
    op = schedule_ops.schedule(pgflow.Flow("orders"), "0 9 * * *", {"report": True}, "Europe/Paris")
    steps, stored = play(op, True, None, at("2030-01-01T08:30"), 1, schedule_row(timezone="Europe/Paris"))
    assert [s.sql for s in steps] == ["schedules_flow_exists", "schedules_select_for_update", "schedules_now",
                                      "schedules_upsert", "schedules_select"]
    upsert = steps[3].params
    assert (upsert["schedule_slug"], upsert["flow_slug"], upsert["timezone"], upsert["source"]) == (
        "orders", "orders", "Europe/Paris", "api")
    assert json_of(upsert["input"]) == {"report": True}
    assert upsert["next_run_at"] == at("2030-01-02T08:00")  # 09:00 in Paris
    assert stored.slug == "nightly" and stored.status == "active"


def test_schedule_keeps_the_pending_tick_of_an_unchanged_expression() -> None:
    existing = schedule_row("orders", next_run_at=at("2030-01-01T09:00"))
    steps, _ = play(schedule_ops.schedule("orders", "0 9 * * *", {"v": 2}), True, existing, 1, schedule_row())
    assert [s.sql for s in steps] == ["schedules_flow_exists", "schedules_select_for_update", "schedules_upsert",
                                      "schedules_select"]
    assert steps[2].params["next_run_at"] == at("2030-01-01T09:00")


def test_schedule_raises_flow_not_found_for_a_flow_not_stored() -> None:
    with pytest.raises(FlowNotFound, match="orders"):
        play(schedule_ops.schedule("orders", "@daily"), False)


def test_schedule_will_not_replace_a_schedule_declared_in_code() -> None:
    with pytest.raises(ScheduleError, match="declared in code"):
        play(schedule_ops.schedule("orders", "@daily"), True, schedule_row("orders", source="code"))


def test_schedule_refuses_a_bad_expression_before_any_query() -> None:
    with pytest.raises(ScheduleError):
        first(schedule_ops.schedule("orders", "every day"))


def test_schedule_refuses_an_unknown_backend() -> None:
    with pytest.raises(ScheduleError, match="backend must be one of"):
        play(schedule_ops.schedule("orders", "@daily", backend="cron"), True, None)


def test_schedule_on_pg_cron_needs_the_extension_and_auto_falls_back_to_builtin() -> None:
    no_pg_cron = {"version": None, "timezone": "GMT"}
    with pytest.raises(ScheduleError, match="needs the pg_cron extension"):
        play(schedule_ops.schedule("orders", "@daily", backend="pg_cron"), True, None, no_pg_cron)
    steps, _ = play(schedule_ops.schedule("orders", "@daily", backend="auto"), True, None, no_pg_cron,
                    at("2030-01-01T08:00"), 1, schedule_row())
    assert steps[4].sql == "schedules_upsert" and steps[4].params["backend"] == "builtin"


def test_schedule_on_pg_cron_installs_its_job() -> None:
    steps, _ = play(schedule_ops.schedule("orders", "@hourly", backend="pg_cron"), True, None,
                    {"version": "1.6", "timezone": "UTC"}, 1, None, schedule_row(backend="pg_cron"))
    assert [s.sql for s in steps][2:] == ["schedules_pg_cron_state", "schedules_upsert", "schedules_pg_cron_install",
                                          "schedules_select"]
    assert steps[3].params["next_run_at"] is None  # pg_cron keeps the time
    assert steps[4].params == {"job_name": "pgflow_orders", "fields": "0 * * * *", "schedule_slug": "orders"}


def test_schedule_on_pg_cron_in_another_time_zone_is_refused() -> None:
    with pytest.raises(ScheduleError, match="reads schedules in GMT"):
        play(schedule_ops.schedule("orders", "@daily", timezone="Europe/Paris", backend="pg_cron"), True, None,
             {"version": "1.4", "timezone": "GMT"})


# --- managing ------------------------------------------------------------------------------------

def test_unschedule_removes_the_pg_cron_job_of_a_pg_cron_schedule() -> None:
    steps, _ = play(schedule_ops.unschedule("nightly"), schedule_row(), "pg_cron", [])
    assert [s.sql for s in steps] == ["schedules_select_for_update", "schedules_delete", "schedules_pg_cron_remove"]
    assert steps[2].params == {"job_name": "pgflow_nightly"}
    steps, _ = play(schedule_ops.unschedule("nightly"), schedule_row(), "builtin")
    assert [s.sql for s in steps] == ["schedules_select_for_update", "schedules_delete"]


@pytest.mark.parametrize("op", [schedule_ops.unschedule, schedule_ops.pause_schedule, schedule_ops.resume_schedule,
                                schedule_ops.run_schedule_now, schedule_ops.get_schedule])
def test_an_unknown_schedule_is_a_schedule_error(op: Any) -> None:
    with pytest.raises(ScheduleError, match="no schedule named 'nope'"):
        play(op("nope"), None)


def test_pause_then_resume_from_the_next_tick() -> None:
    steps, paused = play(schedule_ops.pause_schedule("nightly"), schedule_row(), 1,
                         schedule_row(enabled=False, next_run_at=None))
    assert steps[1].params == {"schedule_slug": "nightly", "enabled": False, "next_run_at": None}
    assert paused.status == "paused"
    steps, resumed = play(schedule_ops.resume_schedule("nightly", at("2030-01-05T10:00")),
                          schedule_row(enabled=False), at("2030-01-05T10:00"), 1, schedule_row())
    assert query(steps[1], "schedules_now") == {"now": at("2030-01-05T10:00")}
    assert steps[2].params == {"schedule_slug": "nightly", "enabled": True, "next_run_at": at("2030-01-06T09:00")}
    assert resumed.status == "active"


def test_run_schedule_now_starts_a_manual_run() -> None:
    steps, run_id = play(schedule_ops.run_schedule_now("nightly"), schedule_row(), at("2030-01-01T12:00"), RUN_ID)
    assert steps[2].params == {"schedule_slug": "nightly", "tick_at": at("2030-01-01T12:00"),
                               "catch_up_from": None, "trigger": "manual"}
    assert run_id == RUN_ID


def test_run_schedule_now_says_why_no_run_started() -> None:
    with pytest.raises(ScheduleError, match="could not start a run: flow 'orders' is gone"):
        play(schedule_ops.run_schedule_now("nightly"), schedule_row(), at("2030-01-01T12:00"), None,
             schedule_row(last_error="flow 'orders' is gone"))


def test_set_schedule_backend_stores_the_schedule_again_on_the_other_backend() -> None:
    steps, _ = play(schedule_ops.set_schedule_backend("nightly", "pg_cron"), schedule_row(),
                    {"version": "1.6", "timezone": "UTC"}, 1, None, schedule_row(backend="pg_cron"))
    assert [s.sql for s in steps] == ["schedules_select_for_update", "schedules_pg_cron_state", "schedules_upsert",
                                      "schedules_pg_cron_install", "schedules_select"]
    assert (steps[2].params["backend"], steps[2].params["source"]) == ("pg_cron", "api")


def test_get_list_and_history() -> None:
    steps, found = play(schedule_ops.get_schedule("nightly"), schedule_row())
    assert query(steps[0], "schedules_select", "one") == {"schedule_slug": "nightly", "now": None}
    assert (found.slug, found.cron.expression, found.description) == ("nightly", "0 9 * * *", "every day at 09:00 UTC")
    steps, listed = play(schedule_ops.list_schedules(), [schedule_row("a"), schedule_row("b")])
    assert query(steps[0], "schedules_select", "all") == {"schedule_slug": None, "now": None}
    assert [s.slug for s in listed] == ["a", "b"]
    steps, history = play(schedule_ops.schedule_history("nightly", 5), [{"run_id": RUN_ID}])
    assert query(steps[0], "schedules_history", "all") == {"schedule_slug": "nightly", "limit": 5}
    assert history == [{"run_id": RUN_ID}]


# --- schedules declared in code ------------------------------------------------------------------

def job(slug: str, cron: str | None) -> pgflow.Job:
    return pgflow.Job(slug, cron=cron)


def test_sync_declared_schedules_creates_keeps_orphans_and_reports_conflicts() -> None:
    flows = [job("new", "@daily"), job("same", "0 9 * * *"), job("dropped", None), job("taken", "@hourly")]
    stored = [
        schedule_row("same", flow_slug="same", source="code", input={}),
        schedule_row("dropped", flow_slug="dropped", source="code"),
        schedule_row("taken", flow_slug="taken", source="api"),
    ]
    op = schedule_ops.sync_declared_schedules(flows, now=at("2030-01-01T08:00"))
    steps, report = play(op, None, stored, at("2030-01-01T08:00"), 1, schedule_row("new"), 1)
    assert [s.sql for s in steps] == [
        "schedules_lock_sync", "schedules_select_by_flows",
        "schedules_now", "schedules_upsert", "schedules_select",  # "new"
        "schedules_orphan"]  # "dropped": no cron= any more
    assert steps[1].params == {"flow_slugs": ["new", "same", "dropped", "taken"]}
    assert steps[3].params["source"] == "code"
    assert steps[5].params == {"schedule_slug": "dropped", "now": at("2030-01-01T08:00")}
    assert (report.created, report.unchanged, report.orphaned, report.conflicts, report.updated) == (
        ["new"], ["same"], ["dropped"], ["taken"], [])


def test_sync_declared_schedules_updates_a_changed_declaration_and_readopts_an_orphan() -> None:
    flows = [job("changed", "@hourly"), job("back", "0 9 * * *")]
    stored = [schedule_row("changed", flow_slug="changed", source="code", enabled=False),
              schedule_row("back", flow_slug="back", source="code", orphaned_at=at("2029-12-01T00:00"))]
    steps, report = play(schedule_ops.sync_declared_schedules(flows), None, stored,
                         at("2030-01-01T08:00"), 1, schedule_row("changed"),  # new expression: a new next tick
                         1, schedule_row("back"))  # same expression: its pending tick is kept
    upserts = [s.params for s in steps if s.sql == "schedules_upsert"]
    assert [(u["schedule_slug"], u["expression"], u["enabled"]) for u in upserts] == [
        ("changed", "@hourly", False), ("back", "0 9 * * *", True)]  # a paused schedule stays paused
    assert (report.updated, report.readopted) == (["changed"], ["back"])
