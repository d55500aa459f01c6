"""Reports complete_task would ignore change nothing in a batch either; the others still go through."""

from tests.sql.complete_tasks.batch import complete_batch
from tests.sql.helpers import (archived_messages, define_flow, fail_task, queue_messages, read_and_start,
                               register_worker, run_row, start_flow, step_state, task)


def test_a_task_reported_twice_in_one_call_completes_once(conn):
    define_flow(conn, "each", [("sq", [], {"step_type": "map"})])
    run_id = start_flow(conn, "each", [1, 2, 3])
    claimed = read_and_start(conn, "each", register_worker(conn, "each"))
    statuses = complete_batch(conn, claimed + claimed[:1], lambda t: t["input"] * 10)
    assert [s["status"] for s in statuses] == ["completed"] * 4
    assert step_state(conn, run_id, "sq")["output"] == [10, 20, 30]
    assert run_row(conn, run_id)["status"] == "completed"


def test_a_queued_task_is_left_alone(conn):
    define_flow(conn, "each", [("sq", [], {"step_type": "map"})])
    run_id = start_flow(conn, "each", [1, 2])
    claimed = read_and_start(conn, "each", register_worker(conn, "each"), qty=1)
    queued = {**claimed[0], "task_index": 1}
    statuses = complete_batch(conn, [queued, claimed[0]], lambda t: 0)
    assert [s["status"] for s in statuses] == ["queued", "completed"]
    assert step_state(conn, run_id, "sq")["remaining_tasks"] == 1


def test_a_report_for_a_failed_run_only_archives_its_message(conn):
    define_flow(conn, "pair", [("a", []), ("b", [])], max_attempts=1)
    run_id = start_flow(conn, "pair", {})
    claimed = {t["step_slug"]: t for t in read_and_start(conn, "pair", register_worker(conn, "pair"))}
    fail_task(conn, run_id, "a", 0, "boom")
    statuses = complete_batch(conn, [claimed["b"]], lambda t: 1)
    assert statuses[0]["status"] == "cancelled"
    assert task(conn, run_id, "b")["output"] is None
    assert queue_messages(conn, "pair") == []
    assert {m["msg_id"] for m in archived_messages(conn, "pair")} >= {claimed["b"]["msg_id"]}


def test_an_unknown_task_gives_a_row_without_status(conn):
    define_flow(conn, "one", [("only", [])])
    run_id = start_flow(conn, "one", {})
    claimed = read_and_start(conn, "one", register_worker(conn, "one"))
    ghost = {**claimed[0], "step_slug": "nope"}
    statuses = complete_batch(conn, [ghost, claimed[0]], lambda t: 1)
    assert [s["status"] for s in statuses] == [None, "completed"]
    assert run_row(conn, run_id)["status"] == "completed"
