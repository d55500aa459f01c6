"""A waiting root step of a run enqueued for later (start_flow_at, enqueue_in/enqueue_at) begins its
wait when the run is due: its timeout and wake time count from then, a signal sent before is kept, its
child run starts then; pgflow.wake_due_steps begins it."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, row, rows, run_row, scalar, step_state, task
from tests.sql.waits.helpers import define_waiting_flow, signal, wait_row

LATER = "now() + interval '1 day'"


def _flow(conn, wait, steps=(("w", []), ("after", ["w"]))):
    define_waiting_flow(conn, "f", list(steps), {"w": wait})


def _start_later(conn, flow_input=None, start_at=LATER):
    return scalar(conn, f"SELECT run_id FROM pgflow.start_flow_at('f', %s, {start_at})",
                  (Jsonb(flow_input if flow_input is not None else {}),))


def _due_now(conn, run_id):
    """The run's due time has come (set-up: moved into the past instead of waiting for the clock)."""
    conn.execute("UPDATE pgflow.waits SET since = now() - interval '1 minute', due_at = now() - interval '1 minute' "
                 "WHERE run_id = %s", (run_id,))


def _children(conn, run_id):
    return rows(conn, "SELECT run_id FROM pgflow.runs WHERE parent_run_id = %s", (run_id,))


def test_the_wait_begins_at_the_due_time(conn):
    _flow(conn, {"wait_kind": "sleep", "sleep_seconds": 3600})
    run_id = _start_later(conn)
    due = scalar(conn, f"SELECT {LATER}")
    wait = wait_row(conn, run_id, "w")
    assert (wait["since"], wait["due_at"]) == (due, due)  # not begun: it begins then
    assert scalar(conn, "SELECT pgflow.wake_due_steps()") == 0
    assert wait_row(conn, run_id, "w") == wait


def test_a_sleep_counts_from_the_due_time(conn):
    _flow(conn, {"wait_kind": "sleep", "sleep_seconds": 3600})
    run_id = _start_later(conn)
    _due_now(conn, run_id)
    assert scalar(conn, "SELECT pgflow.wake_due_steps()") == 1
    wait = wait_row(conn, run_id, "w")
    assert wait["due_at"] - wait["since"] == timedelta(hours=1)
    assert step_state(conn, run_id, "w")["status"] == "started"


def test_a_sleep_until_a_past_time_completes_when_due_not_before(conn):
    _flow(conn, {"wait_kind": "sleep", "at_path": ["remind_at"]})
    run_id = _start_later(conn, {"remind_at": "2020-01-01T00:00:00Z"})
    assert step_state(conn, run_id, "w")["status"] == "started"
    assert step_state(conn, run_id, "after")["status"] == "created"
    _due_now(conn, run_id)
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    assert step_state(conn, run_id, "w")["output"] == {"slept_until": "2020-01-01T00:00:00+00:00"}
    assert step_state(conn, run_id, "after")["status"] == "started"


def test_a_sleep_without_a_time_fails_when_due(conn):
    _flow(conn, {"wait_kind": "sleep", "at_path": ["remind_at"]})
    run_id = _start_later(conn, {})
    assert run_row(conn, run_id)["status"] == "started"
    _due_now(conn, run_id)
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    assert "has no time at remind_at" in task(conn, run_id, "w")["error_message"]
    assert run_row(conn, run_id)["status"] == "failed"


def test_a_signal_before_the_due_time_is_kept_and_delivered_then(conn):
    _flow(conn, {"wait_kind": "signal", "timeout_seconds": 60})
    run_id = _start_later(conn)
    assert signal(conn, run_id, "w", {"ok": True})["outcome"] == "kept"
    assert step_state(conn, run_id, "w")["status"] == "started"
    assert step_state(conn, run_id, "after")["status"] == "created"
    _due_now(conn, run_id)
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    assert step_state(conn, run_id, "w")["output"] == {"ok": True}
    assert step_state(conn, run_id, "after")["status"] == "started"
    assert row(conn, "SELECT delivered_at IS NOT NULL AS d FROM pgflow.signals WHERE run_id = %s", (run_id,))["d"]


def test_a_signal_timeout_counts_from_the_due_time(conn):
    _flow(conn, {"wait_kind": "signal", "timeout_seconds": 60})
    run_id = _start_later(conn)
    _due_now(conn, run_id)
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    wait = wait_row(conn, run_id, "w")
    assert wait["due_at"] - wait["since"] == timedelta(seconds=60)
    assert signal(conn, run_id, "w", 1)["outcome"] == "delivered"
    assert step_state(conn, run_id, "w")["status"] == "completed"


def test_a_signal_step_refusing_early_signals_refuses_one_before_the_due_time(conn):
    _flow(conn, {"wait_kind": "signal", "early_signals": "reject"})
    run_id = _start_later(conn)
    with pytest.raises(psycopg.Error) as raised:
        signal(conn, run_id, "w", 1)
    assert raised.value.sqlstate == "PF005" and "its run is enqueued for later" in str(raised.value)


def test_a_subflow_starts_its_child_run_when_due(conn):
    define_flow(conn, "child", [("work", [])])
    _flow(conn, {"wait_kind": "subflow", "child_flow_slug": "child"})
    run_id = _start_later(conn, {"n": 1})
    assert _children(conn, run_id) == []
    _due_now(conn, run_id)
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    [child] = _children(conn, run_id)
    assert wait_row(conn, run_id, "w")["child_run_id"] == child["run_id"]
    assert run_row(conn, child["run_id"])["input"] == {"n": 1}


def test_a_map_of_subflows_starts_every_child_when_due(conn):
    define_flow(conn, "child", [("work", [])])
    define_waiting_flow(conn, "f", [("w", [], {"step_type": "map"})],
                        {"w": {"wait_kind": "subflow", "child_flow_slug": "child"}})
    run_id = _start_later(conn, [1, 2, 3])
    _due_now(conn, run_id)
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    assert len(_children(conn, run_id)) == 3


def test_a_run_cancelled_before_its_due_time_begins_nothing(conn):
    define_flow(conn, "child", [("work", [])])
    _flow(conn, {"wait_kind": "subflow", "child_flow_slug": "child"})
    run_id = _start_later(conn)
    conn.execute("SELECT pgflow.cancel_run(%s)", (run_id,))
    _due_now(conn, run_id)
    scalar(conn, "SELECT pgflow.wake_due_steps()")
    assert _children(conn, run_id) == []
    assert wait_row(conn, run_id, "w") is None


def test_a_start_time_in_the_past_begins_at_once(conn):
    define_flow(conn, "child", [("work", [])])
    _flow(conn, {"wait_kind": "subflow", "child_flow_slug": "child"})
    run_id = _start_later(conn, start_at="now() - interval '1 minute'")
    assert len(_children(conn, run_id)) == 1
    assert scalar(conn, "SELECT current_setting('pgflow.start_at', true)") == ""


def test_the_run_counts_as_waiting_until_its_due_time(conn):
    _flow(conn, {"wait_kind": "signal"})
    run_id = _start_later(conn)
    due = scalar(conn, f"SELECT {LATER}")
    assert scalar(conn, "SELECT due_at FROM pgflow._waiting_runs(%s)", ([run_id],)) == due


def test_a_run_started_now_is_unchanged(conn):
    _flow(conn, {"wait_kind": "sleep", "sleep_seconds": 3600})
    run_id = scalar(conn, "SELECT run_id FROM pgflow.start_flow('f', '{}')")
    wait = wait_row(conn, run_id, "w")
    assert wait["since"] == scalar(conn, "SELECT now()")
    assert wait["due_at"] - wait["since"] == timedelta(hours=1)
