"""A cancel racing the completion of the run's last task, from two connections: whichever takes
the locks first wins, the other changes nothing, and the run ends in exactly one terminal state
with its counters and step states consistent."""

import threading
from typing import Any

import psycopg

from tests.helpers import eventually
from tests.sql.helpers import (complete_task, define_flow, in_thread, queue_messages, read_and_start,
                               register_worker, row, run_row, scalar, start_flow, step_state, task)


def _last_task_claimed(conn: psycopg.Connection) -> Any:
    define_flow(conn, "rc", [("only", [])])
    run_id = start_flow(conn, "rc", {})
    read_and_start(conn, "rc", register_worker(conn, "rc"))
    conn.commit()
    return run_id


def _waits_for_a_lock(observer: psycopg.Connection, conn: psycopg.Connection) -> bool:
    return scalar(observer, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                  (conn.info.backend_pid,)) == "Lock"


def _join(thread: threading.Thread, conn: psycopg.Connection) -> None:
    thread.join(timeout=30)
    assert not thread.is_alive()
    conn.close()


def test_completion_first_then_the_waiting_cancel_finds_the_run_completed(db_url):
    with psycopg.connect(db_url) as first, psycopg.connect(db_url, autocommit=True) as observer:
        run_id = _last_task_claimed(first)
        complete_task(first, run_id, "only", 0, {"done": True})  # holds the locks, not committed
        results: list[Any] = []
        thread, conn = in_thread(db_url, lambda c: row(c, "SELECT * FROM pgflow.cancel_run(%s, 'late')", (run_id,)),
                                  results)
        eventually(lambda: _waits_for_a_lock(observer, conn))
        first.commit()
        _join(thread, conn)

        [result] = results
        assert (result["cancelled"], result["status"], result["cancelled_at"]) == (False, "completed", None)
        run = run_row(first, run_id)
        assert (run["status"], run["remaining_steps"], run["cancelled_at"], run["failed_at"]) == (
            "completed", 0, None, None)
        assert (step_state(first, run_id, "only")["status"], task(first, run_id, "only")["status"]) == (
            "completed", "completed")


def test_cancel_first_then_the_waiting_completion_changes_nothing(db_url):
    with psycopg.connect(db_url) as first, psycopg.connect(db_url, autocommit=True) as observer:
        run_id = _last_task_claimed(first)
        row(first, "SELECT * FROM pgflow.cancel_run(%s, 'stop')", (run_id,))  # holds the locks, not committed
        results: list[Any] = []
        thread, conn = in_thread(db_url, lambda c: complete_task(c, run_id, "only", 0, {"done": True}), results)
        eventually(lambda: _waits_for_a_lock(observer, conn))
        first.commit()
        _join(thread, conn)

        [[returned]] = results
        assert (returned["status"], returned["output"]) == ("cancelled", None)
        run = run_row(first, run_id)
        assert (run["status"], run["remaining_steps"], run["completed_at"], run["output"]) == ("failed", 1, None, None)
        assert run["cancelled_at"] is not None
        state = step_state(first, run_id, "only")
        assert (state["status"], state["remaining_tasks"], state["output"]) == ("failed", 1, None)
        assert queue_messages(first, "rc") == []
