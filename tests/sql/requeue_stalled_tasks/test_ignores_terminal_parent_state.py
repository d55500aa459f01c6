"""A task still 'started' under a failed run or a skipped step (rows a database from before the
task lifecycle hardening may hold) is never requeued, however long ago it started."""

from tests.sql.helpers import (define_flow, fail_task, queue_messages, read_and_start, register_worker, start_flow,
                               task)
from tests.sql.requeue_stalled_tasks.stall import age_task, requeue


def _restart(conn, run_id, step, task_index=0):
    conn.execute("UPDATE pgflow.step_tasks SET status = 'started'"
                 " WHERE run_id = %s AND step_slug = %s AND task_index = %s", (run_id, step, task_index))


def test_a_started_task_of_a_failed_run_stays_as_it_is(conn):
    define_flow(conn, "pair", [("doomed", [], {"max_attempts": 1}), ("hung", [])], timeout=5)
    run_id = start_flow(conn, "pair", {})
    read_and_start(conn, "pair", register_worker(conn, "pair"))
    fail_task(conn, run_id, "doomed", 0, "boom")
    _restart(conn, run_id, "hung")
    age_task(conn, run_id, "hung", 3600)

    assert requeue(conn) == 0
    assert (task(conn, run_id, "hung")["status"], task(conn, run_id, "hung")["requeued_count"]) == ("started", 0)
    assert queue_messages(conn, "pair") == []


def test_a_started_task_of_a_skipped_step_stays_as_it_is(conn):
    define_flow(conn, "opt", [("each", [], {"step_type": "map", "max_attempts": 1, "when_exhausted": "skip"}),
                              ("other", [])], timeout=5)
    run_id = start_flow(conn, "opt", [1, 2])
    read_and_start(conn, "opt", register_worker(conn, "opt"))
    fail_task(conn, run_id, "each", 0, "bad")
    _restart(conn, run_id, "each", 1)
    age_task(conn, run_id, "each", 3600, task_index=1)

    assert requeue(conn) == 0
    assert task(conn, run_id, "each", 1)["requeued_count"] == 0
    assert [m for m in queue_messages(conn, "opt") if m["message"]["step_slug"] == "each"] == []
