"""pgflow.cancel_run: a run that is still going ends as a failed run that records the cancel;
its unfinished tasks are cancelled and their messages archived; steps not started never start;
a run already over is left alone; an unknown run is PF002."""

import psycopg
import pytest

from pgflow.events import RunCancelledEvent, parse_event

from tests.sql.helpers import (archived_messages, complete_task, define_flow, drain_notifies, fail_task, listener,
                               queue_messages, read_and_start, register_worker, row, rows, run_row, start_flow,
                               step_state, task)


def _cancel(conn, run_id, reason=None):
    return row(conn, "SELECT * FROM pgflow.cancel_run(%s, %s)", (run_id, reason))


def _started_run(conn):
    # first and side start at once, after waits for first; first is claimed, side stays queued
    define_flow(conn, "cx", [("first", []), ("side", []), ("after", ["first"])])
    run_id = start_flow(conn, "cx", {"n": 1})
    worker = register_worker(conn, "cx")
    msg = conn.execute("SELECT msg_id FROM pgmq.read('cx', 60, 1)").fetchone()[0]
    rows(conn, "SELECT * FROM pgflow.start_tasks('cx', %s::bigint[], %s, 'cx')", ([msg], worker))
    return run_id


def test_a_started_run_ends_failed_with_the_cancel_recorded(conn):
    run_id = _started_run(conn)

    result = _cancel(conn, run_id, "wrong input")

    run = run_row(conn, run_id)
    assert (result["cancelled"], result["status"], result["cancelled_at"]) == (True, "failed", run["cancelled_at"])
    assert (run["status"], run["cancel_reason"]) == ("failed", "wrong input")
    assert run["failed_at"] == run["cancelled_at"] is not None
    for step in ("first", "side"):
        state = step_state(conn, run_id, step)
        assert (state["status"], state["error_message"]) == ("failed", "Run cancelled: wrong input")
        assert task(conn, run_id, step)["status"] == "cancelled"
    after = step_state(conn, run_id, "after")
    assert (after["status"], after["started_at"]) == ("created", None)
    assert queue_messages(conn, "cx") == []
    assert len(archived_messages(conn, "cx")) == 2


def test_without_a_reason_the_message_says_only_cancelled(conn):
    run_id = _started_run(conn)
    _cancel(conn, run_id)
    assert run_row(conn, run_id)["cancel_reason"] is None
    assert step_state(conn, run_id, "first")["error_message"] == "Run cancelled"


def test_cancelling_again_changes_nothing_and_says_so(conn):
    run_id = _started_run(conn)
    first = _cancel(conn, run_id, "once")
    before = run_row(conn, run_id)

    again = _cancel(conn, run_id, "twice")

    assert (again["cancelled"], again["status"], again["cancelled_at"]) == (False, "failed", first["cancelled_at"])
    assert run_row(conn, run_id) == before


def test_a_completed_or_failed_run_is_left_alone(conn):
    define_flow(conn, "done", [("only", [])], max_attempts=1)
    completed = start_flow(conn, "done", {})
    failed = start_flow(conn, "done", {})
    read_and_start(conn, "done", register_worker(conn, "done"))
    complete_task(conn, completed, "only", 0, 1)
    fail_task(conn, failed, "only", 0, "broken")
    before = {r: run_row(conn, r) for r in (completed, failed)}

    assert _cancel(conn, completed)["cancelled"] is False
    assert _cancel(conn, failed)["cancelled"] is False
    assert (_cancel(conn, completed)["status"], _cancel(conn, failed)["cancelled_at"]) == ("completed", None)
    assert {r: run_row(conn, r) for r in (completed, failed)} == before


def test_an_unknown_run_is_pf002(conn):
    with pytest.raises(psycopg.Error) as raised:
        _cancel(conn, "00000000-0000-0000-0000-000000000000")
    assert raised.value.sqlstate == "PF002"
    assert "not found" in str(raised.value)


def test_late_reports_of_a_cancelled_run_change_nothing(conn):
    run_id = _started_run(conn)
    _cancel(conn, run_id, "stop")
    before = (run_row(conn, run_id), rows(conn, "SELECT * FROM pgflow.step_tasks ORDER BY step_slug"),
              rows(conn, "SELECT * FROM pgflow.step_states ORDER BY step_slug"))

    [completed] = complete_task(conn, run_id, "first", 0, {"late": True})
    [failed] = fail_task(conn, run_id, "first", 0, "late failure")
    batch = rows(conn, "SELECT * FROM pgflow.complete_tasks(%s::uuid[], %s::text[], %s::int[], %s::jsonb[])",
                 ([run_id], ["first"], [0], ['{"late": 2}']))

    assert completed["status"] == failed["status"] == "cancelled"
    assert [b["status"] for b in batch] == ["cancelled"]
    assert (run_row(conn, run_id), rows(conn, "SELECT * FROM pgflow.step_tasks ORDER BY step_slug"),
            rows(conn, "SELECT * FROM pgflow.step_states ORDER BY step_slug")) == before
    assert read_and_start(conn, "cx", register_worker(conn, "cx")) == []


def test_events_step_failed_then_run_cancelled_then_run_failed(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        run_id = _started_run(conn)
        conn.commit()
        drain_notifies(listen, timeout=2)
        _cancel(conn, run_id, "enough")
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=4)

    assert [e["event_type"] for e in events] == ["step:failed", "step:failed", "run:cancelled", "run:failed"]
    assert sorted(e["step_slug"] for e in events[:2]) == ["first", "side"]
    cancelled, run_failed = parse_event(events[2]), events[3]
    assert (run_failed["status"], run_failed["error_message"], run_failed["failed_step_slug"]) == (
        "failed", "Run cancelled: enough", None)
    assert isinstance(cancelled, RunCancelledEvent)
    assert (cancelled.status, cancelled.reason, str(cancelled.run_id)) == ("failed", "enough", str(run_id))
    assert cancelled.cancelled_at is not None


def test_messages_read_before_the_cancel_start_no_task_and_claim_tasks_finds_none(conn):
    define_flow(conn, "cq", [("a", []), ("b", [])])
    run_id = start_flow(conn, "cq", {})
    worker = register_worker(conn, "cq")
    msg_ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.read('cq', 0, 10)")]  # read, then cancelled
    assert len(msg_ids) == 2
    _cancel(conn, run_id)

    started = rows(conn, "SELECT * FROM pgflow.start_tasks('cq', %s::bigint[], %s, 'cq')", (msg_ids, worker))
    claimed = [r for r in rows(conn, "SELECT * FROM pgflow.claim_tasks('cq', 10, %s)", (worker,)) if r["run_id"]]

    assert started == [] and claimed == []
    assert {task(conn, run_id, s)["status"] for s in ("a", "b")} == {"cancelled"}
