from tests.sql.helpers import (archived_messages, define_flow, fail_task, queue_messages, read_and_start,
                               register_worker, run_row, start_flow, step_state, task)


def test_last_attempt_fails_the_step_and_the_run_and_archives_its_messages(conn):
    define_flow(conn, "pair", [("doomed", [], {"max_attempts": 1}), ("other", []), ("after", ["other"])])
    run_id = start_flow(conn, "pair", {})
    worker = register_worker(conn, "pair")
    claimed = read_and_start(conn, "pair", worker)
    assert len(claimed) == 2

    [returned] = fail_task(conn, run_id, "doomed", 0, "gave up")

    assert (returned["status"], returned["error_message"]) == ("failed", "gave up")
    assert returned["failed_at"] is not None
    doomed = step_state(conn, run_id, "doomed")
    assert (doomed["status"], doomed["error_message"]) == ("failed", "gave up")
    run = run_row(conn, run_id)
    assert (run["status"], run["output"]) == ("failed", None)
    assert run["failed_at"] is not None
    assert queue_messages(conn, "pair") == []
    assert sorted(m["msg_id"] for m in archived_messages(conn, "pair")) == sorted(c["msg_id"] for c in claimed)
    assert step_state(conn, run_id, "after")["status"] == "created"
    assert task(conn, run_id, "other")["status"] == "cancelled"


def test_one_map_task_exhausting_fails_the_whole_map_step(conn):
    define_flow(conn, "items", [("each", [], {"step_type": "map", "max_attempts": 1})])
    run_id = start_flow(conn, "items", [1, 2, 3])
    read_and_start(conn, "items", register_worker(conn, "items"))
    fail_task(conn, run_id, "each", 1, "bad item")
    assert step_state(conn, run_id, "each")["status"] == "failed"
    assert run_row(conn, run_id)["status"] == "failed"
    assert queue_messages(conn, "items") == []
