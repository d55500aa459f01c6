"""Late complete_task / fail_task calls that pass their first checks while the run is still
started, then wait for a lock while another transaction fails the run: once they get the lock
they see the failed run and change nothing (the task the failure cancelled stays cancelled, no
output, no error, no second run:failed)."""

from typing import Any

import psycopg

from tests.helpers import eventually
from tests.sql.helpers import (complete_task, define_flow, drain_notifies, fail_task, in_thread, listener,
                               queue_messages, read_and_start, register_worker, run_row, scalar, start_flow, step_state, task)


def test_late_callbacks_waiting_for_a_lock_while_the_run_fails_change_nothing(db_url):
    with psycopg.connect(db_url) as ctrl, listener(db_url) as listen, \
            psycopg.connect(db_url, autocommit=True) as observer:
        define_flow(ctrl, "race", [("single_step", []), ("map_step", ["single_step"], {"step_type": "map"}),
                                   ("boom", [])], max_attempts=1)
        run_id = start_flow(ctrl, "race", {})
        read_and_start(ctrl, "race", register_worker(ctrl, "race"))
        ctrl.commit()
        drain_notifies(listen)

        def waits_for_a_lock(conn: psycopg.Connection) -> bool:
            return scalar(observer, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
                          (conn.info.backend_pid,)) == "Lock"

        ctrl.execute("SELECT 1 FROM pgflow.runs WHERE run_id = %s FOR UPDATE", (run_id,))
        # a completion whose output would violate map_step's type, and a failure report
        completed: list[Any] = []
        failed: list[Any] = []
        late_complete, complete_conn = in_thread(
            db_url, lambda c: complete_task(c, run_id, "single_step", 0, {"not": "an array"}), completed)
        eventually(lambda: waits_for_a_lock(complete_conn))
        late_fail, fail_conn = in_thread(
            db_url, lambda c: fail_task(c, run_id, "single_step", 0, "late failure report"), failed)
        eventually(lambda: waits_for_a_lock(fail_conn))

        fail_task(ctrl, run_id, "boom", 0, "boom failed")
        ctrl.commit()
        for thread, conn in ((late_complete, complete_conn), (late_fail, fail_conn)):
            thread.join(timeout=30)
            assert not thread.is_alive()
            conn.close()

        [[completed_row]], [[failed_row]] = completed, failed
        for returned in (completed_row, failed_row):
            assert (returned["status"], returned["output"], returned["error_message"], returned["failed_at"],
                    returned["completed_at"], returned["attempts_count"]) == ("cancelled", None, None, None, None, 1)
        assert task(ctrl, run_id, "single_step") == completed_row
        boom = task(ctrl, run_id, "boom")
        assert (boom["status"], boom["error_message"]) == ("failed", "boom failed")
        run = run_row(ctrl, run_id)
        assert (run["status"], run["failed_at"], run["remaining_steps"]) == ("failed", boom["failed_at"], 3)
        assert step_state(ctrl, run_id, "single_step")["status"] == "started"
        assert queue_messages(ctrl, "race") == []
        events = [(e["event_type"], e.get("step_slug")) for e in drain_notifies(listen)
                  if e["event_type"] in ("run:failed", "step:failed")]
        assert sorted(events) == [("run:failed", None), ("step:failed", "boom")]
