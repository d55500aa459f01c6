"""pgflow.wake_due_steps: sleeps wake at their time, signals time out (fail or default)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.sql.helpers import (complete_task, read_and_start, register_worker, run_row, scalar, start_flow,
                               step_state, task)
from tests.sql.waits.helpers import define_waiting_flow, make_due, signal, wait_row

APPROVAL = [("create", []), ("approval", ["create"]), ("ship", ["approval"])]


def _waiting(conn, approval, when_exhausted="fail"):
    steps = [("create", []), ("approval", ["create"], {"when_exhausted": when_exhausted}), ("ship", ["approval"])]
    define_waiting_flow(conn, "order", steps, {"approval": approval}, max_attempts=5)
    run_id = start_flow(conn, "order", {})
    worker = register_worker(conn, "order")
    read_and_start(conn, "order", worker)
    complete_task(conn, run_id, "create", 0, {"remind_at": "2030-01-01T00:00:00Z"})
    return run_id


def test_signal_timeout_is_its_deadline(conn):
    run_id = _waiting(conn, {"wait_kind": "signal", "timeout_seconds": 3600})
    row = wait_row(conn, run_id, "approval")
    assert row["due_at"] - row["since"] == timedelta(hours=1)


def test_nothing_due_nothing_done(conn):
    run_id = _waiting(conn, {"wait_kind": "signal", "timeout_seconds": 3600})
    assert scalar(conn, "SELECT pgflow.wake_due_steps()") == 0
    assert step_state(conn, run_id, "approval")["status"] == "started"


def test_timed_out_signal_fails_the_run_without_retry(conn):
    run_id = _waiting(conn, {"wait_kind": "signal", "timeout_seconds": 60})
    make_due(conn, run_id, "approval")
    assert scalar(conn, "SELECT pgflow.wake_due_steps()") == 1
    failed = task(conn, run_id, "approval")
    assert (failed["status"], failed["attempts_count"]) == ("failed", 1)  # max_attempts 5 did not apply
    assert failed["error_message"].startswith("Timed out: no signal for step 'approval' within 00:01:00")
    assert run_row(conn, run_id)["status"] == "failed"
    assert wait_row(conn, run_id, "approval") is None


def test_timed_out_signal_with_when_exhausted_skip(conn):
    run_id = _waiting(conn, {"wait_kind": "signal", "timeout_seconds": 60}, when_exhausted="skip")
    make_due(conn, run_id, "approval")
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    state = step_state(conn, run_id, "approval")
    assert (state["status"], state["skip_reason"]) == ("skipped", "handler_failed")
    assert step_state(conn, run_id, "ship")["status"] == "started"


def test_timed_out_signal_completes_with_its_default(conn):
    run_id = _waiting(conn, {"wait_kind": "signal", "timeout_seconds": 60, "on_timeout": "default",
                             "timeout_output": {"approved": False}})
    make_due(conn, run_id, "approval")
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    assert step_state(conn, run_id, "approval")["output"] == {"approved": False}
    assert step_state(conn, run_id, "ship")["status"] == "started"


def test_signal_after_timeout_is_refused(conn):
    run_id = _waiting(conn, {"wait_kind": "signal", "timeout_seconds": 60, "on_timeout": "default",
                             "timeout_output": None})
    make_due(conn, run_id, "approval")
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    import psycopg
    with pytest.raises(psycopg.Error) as raised:
        signal(conn, run_id, "approval", 1)
    assert raised.value.sqlstate == "PF005" and "no longer waits" in str(raised.value)


def test_fixed_sleep_wakes_at_its_time(conn):
    run_id = _waiting(conn, {"wait_kind": "sleep", "sleep_seconds": 600})
    row = wait_row(conn, run_id, "approval")
    assert row["due_at"] - row["since"] == timedelta(minutes=10)
    assert scalar(conn, "SELECT pgflow.wake_due_steps()") == 0
    make_due(conn, run_id, "approval")
    assert scalar(conn, "SELECT pgflow.wake_due_steps()") == 1
    state = step_state(conn, run_id, "approval")
    assert state["status"] == "completed" and "slept_until" in state["output"]


def test_sleep_until_a_field_of_the_input(conn):
    run_id = _waiting(conn, {"wait_kind": "sleep", "at_path": ["create", "remind_at"], "sleep_seconds": 60})
    assert wait_row(conn, run_id, "approval")["due_at"] == datetime(2030, 1, 1, 0, 1, tzinfo=timezone.utc)


def test_sleep_until_a_time_in_the_past_completes_at_once(conn):
    define_waiting_flow(conn, "remind", [("nap", []), ("after", ["nap"])],
                        {"nap": {"wait_kind": "sleep", "at_path": ["at"]}})
    run_id = start_flow(conn, "remind", {"at": "2001-01-01T00:00:00Z"})
    assert step_state(conn, run_id, "nap")["output"] == {"slept_until": "2001-01-01T00:00:00+00:00"}
    assert step_state(conn, run_id, "after")["status"] == "started"


@pytest.mark.parametrize("value", [None, "soon", 12.5j if False else [1]])
def test_sleep_without_a_time_fails_with_what_it_got(conn, value):
    define_waiting_flow(conn, "remind", [("nap", [])], {"nap": {"wait_kind": "sleep", "at_path": ["at"]}})
    run_id = start_flow(conn, "remind", {"at": value} if value is not None else {})
    assert run_row(conn, run_id)["status"] == "failed"
    message = step_state(conn, run_id, "nap")["error_message"]
    assert "its input has no time at at" in message
