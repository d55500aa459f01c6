from tests.sql.helpers import (archived_messages, complete_task, define_flow, queue_messages, read_and_start,
                               register_worker, run_row, start_flow, step_state, task)


def test_non_array_output_for_a_dependent_map_fails_the_run(conn):
    define_flow(conn, "fan", [("list", []), ("side", []), ("each", ["list"], {"step_type": "map"})])
    run_id = start_flow(conn, "fan", {})
    worker = register_worker(conn, "fan")
    read_and_start(conn, "fan", worker)

    [returned] = complete_task(conn, run_id, "list", 0, {"not": "an array"})

    assert returned["status"] == "failed"
    assert returned["output"] == {"not": "an array"}
    assert returned["error_message"] == "[TYPE_VIOLATION] Produced object instead of array"
    list_state = step_state(conn, run_id, "list")
    assert list_state["status"] == "failed"
    assert list_state["error_message"].startswith("[TYPE_VIOLATION]")
    assert step_state(conn, run_id, "each")["status"] == "created"
    assert run_row(conn, run_id)["status"] == "failed"
    # the parallel step's task is cancelled; its message and the failed task's are archived
    assert task(conn, run_id, "side")["status"] == "cancelled"
    assert queue_messages(conn, "fan") == []
    assert len(archived_messages(conn, "fan")) == 2
