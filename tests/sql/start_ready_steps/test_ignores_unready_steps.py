from tests.sql.helpers import define_flow, set_step_state, start_flow, step_state


def test_leaves_taskless_and_unsized_steps_alone(conn):
    define_flow(conn, "f", [("a", []), ("empty", ["a"], {"step_type": "map"}), ("unsized", ["a"], {"step_type": "map"})])
    run_id = start_flow(conn, "f", {})
    set_step_state(conn, run_id, "empty", remaining_deps=0, initial_tasks=0)
    set_step_state(conn, run_id, "unsized", remaining_deps=0)

    conn.execute("SELECT pgflow.start_ready_steps(%s)", (run_id,))

    assert step_state(conn, run_id, "empty")["status"] == "created"
    assert step_state(conn, run_id, "unsized")["status"] == "created"


def test_starts_nothing_in_a_run_that_is_no_longer_started(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"])])
    run_id = start_flow(conn, "f", {})
    conn.execute("UPDATE pgflow.runs SET status = 'failed', failed_at = now() WHERE run_id = %s", (run_id,))
    set_step_state(conn, run_id, "b", remaining_deps=0)

    conn.execute("SELECT pgflow.start_ready_steps(%s)", (run_id,))

    assert step_state(conn, run_id, "b")["status"] == "created"
