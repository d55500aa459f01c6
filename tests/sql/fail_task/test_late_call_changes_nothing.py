from tests.sql.helpers import (define_flow, fail_task, read_and_start, register_worker, run_row, start_flow,
                               step_state, task)


def test_failure_after_the_run_failed_changes_nothing(conn):
    define_flow(conn, "pair", [("doomed", [], {"max_attempts": 1}), ("slow", [])])
    run_id = start_flow(conn, "pair", {})
    read_and_start(conn, "pair", register_worker(conn, "pair"))
    fail_task(conn, run_id, "doomed", 0, "boom")
    before = (task(conn, run_id, "slow"), step_state(conn, run_id, "slow"), run_row(conn, run_id))

    [returned] = fail_task(conn, run_id, "slow", 0, "also broken")

    assert returned == before[0]
    assert (task(conn, run_id, "slow"), step_state(conn, run_id, "slow"), run_row(conn, run_id)) == before


def test_failing_a_task_that_is_not_started_changes_nothing(conn):
    define_flow(conn, "pair", [("queued_only", [])])
    run_id = start_flow(conn, "pair", {})
    before = task(conn, run_id, "queued_only")
    [returned] = fail_task(conn, run_id, "queued_only", 0, "never claimed")
    assert returned == before
    assert returned["status"] == "queued" and returned["error_message"] is None
