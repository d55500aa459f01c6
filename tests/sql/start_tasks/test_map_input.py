from tests.sql.helpers import (define_flow, mark_step_completed, read_and_start, register_worker,
                               set_step_state, start_flow)


def test_root_map_task_gets_its_element_of_the_flow_input(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", [{"id": 1}, None, "three"])

    records = read_and_start(conn, "f", register_worker(conn, "f"))

    assert [(r["task_index"], r["input"], r["flow_input"]) for r in records] == [
        (0, {"id": 1}, None), (1, None, None), (2, "three", None)]


def test_dependent_map_task_gets_its_element_of_the_dependency_output(conn):
    define_flow(conn, "f", [("list", []), ("each", ["list"], {"step_type": "map"})])
    run_id = start_flow(conn, "f", {})
    worker_id = register_worker(conn, "f")
    read_and_start(conn, "f", worker_id)
    mark_step_completed(conn, run_id, "list", ["x", "y"])
    set_step_state(conn, run_id, "each", remaining_deps=0, initial_tasks=2)
    conn.execute("SELECT pgflow.start_ready_steps(%s)", (run_id,))

    records = read_and_start(conn, "f", worker_id)

    assert [(r["step_slug"], r["task_index"], r["input"]) for r in records] == [("each", 0, "x"), ("each", 1, "y")]
