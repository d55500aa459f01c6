from tests.sql.helpers import (archived_messages, complete_task, define_flow, queue_messages, read_and_start,
                               register_worker, run_row, start_flow, step_state, task)


def test_completing_the_only_task_completes_the_step_and_starts_dependents(conn):
    define_flow(conn, "chain", [("first", []), ("second", ["first"])])
    run_id = start_flow(conn, "chain", {"n": 1})
    worker = register_worker(conn, "chain")
    [claimed] = read_and_start(conn, "chain", worker)

    returned = complete_task(conn, run_id, "first", 0, {"value": 2})

    assert [(r["status"], r["output"]) for r in returned] == [("completed", {"value": 2})]
    first = step_state(conn, run_id, "first")
    assert (first["status"], first["remaining_tasks"], first["output"]) == ("completed", 0, {"value": 2})
    assert first["completed_at"] is not None
    second = step_state(conn, run_id, "second")
    assert (second["status"], second["remaining_deps"], second["remaining_tasks"]) == ("started", 0, 1)
    assert task(conn, run_id, "second")["status"] == "queued"
    assert run_row(conn, run_id)["remaining_steps"] == 1
    assert [m["msg_id"] for m in archived_messages(conn, "chain")] == [claimed["msg_id"]]
    assert [m["message"]["step_slug"] for m in queue_messages(conn, "chain")] == ["second"]
