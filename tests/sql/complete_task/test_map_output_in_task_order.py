from tests.sql.helpers import complete_task, define_flow, read_and_start, register_worker, start_flow, step_state


def test_map_output_is_ordered_by_task_index_with_nulls_kept(conn):
    define_flow(conn, "squares", [("each", [], {"step_type": "map"})])
    run_id = start_flow(conn, "squares", [1, 2, 3, 4])
    worker = register_worker(conn, "squares")
    assert len(read_and_start(conn, "squares", worker)) == 4

    for index, output in [(2, 9), (0, 1), (3, None)]:
        complete_task(conn, run_id, "each", index, output)
        state = step_state(conn, run_id, "each")
        assert (state["status"], state["output"]) == ("started", None)
    complete_task(conn, run_id, "each", 1, {"four": 4})

    state = step_state(conn, run_id, "each")
    assert (state["status"], state["remaining_tasks"]) == ("completed", 0)
    assert state["output"] == [1, {"four": 4}, 9, None]
