from tests.sql.helpers import define_flow, queue_messages, run_row, start_flow, step_state


def test_root_map_over_empty_array_completes_at_once_with_empty_output(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])

    run_id = start_flow(conn, "f", [])

    state = step_state(conn, run_id, "items")
    assert (state["status"], state["output"], state["initial_tasks"], state["remaining_tasks"]) == (
        "completed", [], 0, 0)
    run = run_row(conn, run_id)
    assert (run["status"], run["output"], run["remaining_steps"]) == ("completed", {"items": []}, 0)
    assert queue_messages(conn, "f") == []
