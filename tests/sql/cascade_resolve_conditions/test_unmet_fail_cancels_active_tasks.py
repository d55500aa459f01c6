"""A dependent step's unmet when_unmet='fail' condition fails the run; the run's other tasks,
queued or started, are cancelled and their messages archived. Finished tasks keep their status."""

from tests.sql.helpers import (archived_messages, complete_task, define_flow, queue_messages, read_and_start,
                               register_worker, run_row, start_flow, task)


def test_unmet_fail_cancels_the_runs_unfinished_tasks(conn):
    define_flow(conn, "f", [
        ("a", []),
        ("busy", []),
        ("waiting", [], {"start_delay": 60}),
        ("vip", ["a"], {"required_input_pattern": {"a": {"ok": True}}, "when_unmet": "fail"}),
    ])
    run_id = start_flow(conn, "f", {})
    claimed = read_and_start(conn, "f", register_worker(conn, "f"))  # a and busy (waiting is delayed)

    complete_task(conn, run_id, "a", 0, {"ok": False})

    assert run_row(conn, run_id)["status"] == "failed"
    assert {s: task(conn, run_id, s)["status"] for s in ("a", "busy", "waiting")} == {
        "a": "completed", "busy": "cancelled", "waiting": "cancelled"}
    assert task(conn, run_id, "busy")["started_at"] is not None  # history kept
    assert queue_messages(conn, "f") == []
    assert len(archived_messages(conn, "f")) == len(claimed) + 1
