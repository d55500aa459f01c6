from tests.sql.helpers import (define_flow, mark_step_completed, read_and_start, register_worker,
                               set_step_state, start_flow)


def test_dependent_step_gets_outputs_of_its_completed_dependencies_only(conn):
    define_flow(conn, "f", [("a", []), ("b", []), ("c", []), ("join", ["a", "b", "c"])])
    run_id = start_flow(conn, "f", {"x": 1})
    worker_id = register_worker(conn, "f")
    read_and_start(conn, "f", worker_id)  # claim the root tasks out of the way
    mark_step_completed(conn, run_id, "a", {"n": 1})
    mark_step_completed(conn, run_id, "b", None)
    set_step_state(conn, run_id, "c", status="skipped", skip_reason="condition_unmet", remaining_tasks=None)
    set_step_state(conn, run_id, "join", remaining_deps=0)
    conn.execute("SELECT pgflow.start_ready_steps(%s)", (run_id,))

    [record] = read_and_start(conn, "f", worker_id)

    assert record["step_slug"] == "join"
    assert record["input"] == {"a": {"n": 1}, "b": None}
    assert record["flow_input"] is None
