"""After a run failed, late and repeated complete_task / fail_task calls for a task it cancelled
change nothing: the row, the step, the run, the queue and the events stay as the failure left
them (the failure wins)."""

import psycopg

from tests.sql.helpers import (complete_task, define_flow, drain_notifies, fail_task, listener, queue_messages,
                               read_and_start, register_worker, rows, run_row, start_flow, step_state, task)


def test_late_callbacks_on_a_cancelled_task_are_idempotent(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, "late", [("each", [], {"step_type": "map", "max_attempts": 1})])
        run_id = start_flow(conn, "late", ["a", "b"])
        read_and_start(conn, "late", register_worker(conn, "late"))
        fail_task(conn, run_id, "each", 0, "task 0 failed")
        conn.commit()
        drain_notifies(listen)
        before = (task(conn, run_id, "each", 1), task(conn, run_id, "each", 0), step_state(conn, run_id, "each"),
                  run_row(conn, run_id))
        assert before[0]["status"] == "cancelled"

        returned = [complete_task(conn, run_id, "each", 1, {"late": True}),
                    complete_task(conn, run_id, "each", 1, {"late": True}),
                    fail_task(conn, run_id, "each", 1, "late failure"),
                    fail_task(conn, run_id, "each", 1, "late failure")]
        conn.commit()

        assert returned == [[before[0]]] * 4
        assert (task(conn, run_id, "each", 1), task(conn, run_id, "each", 0), step_state(conn, run_id, "each"),
                run_row(conn, run_id)) == before
        assert queue_messages(conn, "late") == []
        assert drain_notifies(listen) == []
        assert rows(conn, "SELECT count(*) AS n FROM pgflow.step_tasks WHERE status = 'failed'") == [{"n": 1}]
