from tests.sql.helpers import define_flow, fail_task, read_and_start, register_worker, start_flow, task
from tests.sql.requeue_stalled_tasks.stall import age_task, requeue


def test_tasks_of_a_failed_run_are_not_revived(conn):
    define_flow(conn, "pair", [("doomed", [], {"max_attempts": 1}), ("hung", [])], timeout=5)
    run_id = start_flow(conn, "pair", {})
    read_and_start(conn, "pair", register_worker(conn, "pair"))
    fail_task(conn, run_id, "doomed", 0, "boom")
    age_task(conn, run_id, "hung", 3600)
    assert requeue(conn) == 0
    assert task(conn, run_id, "hung")["status"] == "cancelled"
