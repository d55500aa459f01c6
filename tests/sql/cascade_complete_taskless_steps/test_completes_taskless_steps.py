from tests.sql.helpers import define_flow, mark_step_completed, run_row, scalar, set_step_state, start_flow, step_state


def test_completes_ready_taskless_steps_and_what_they_empty_in_turn(conn):
    define_flow(conn, "f", [
        ("list", []),
        ("each", ["list"], {"step_type": "map"}),
        ("each_again", ["each"], {"step_type": "map"}),
        ("summary", ["each_again"]),
    ])
    run_id = start_flow(conn, "f", {})
    mark_step_completed(conn, run_id, "list", [])
    conn.execute("UPDATE pgflow.runs SET remaining_steps = 3 WHERE run_id = %s", (run_id,))
    set_step_state(conn, run_id, "each", remaining_deps=0, initial_tasks=0)

    assert scalar(conn, "SELECT pgflow.cascade_complete_taskless_steps(%s)", (run_id,)) == 2

    for slug in ("each", "each_again"):
        state = step_state(conn, run_id, slug)
        assert (state["status"], state["output"], state["remaining_tasks"]) == ("completed", [], 0), slug
        assert state["started_at"] == state["completed_at"]
    summary = step_state(conn, run_id, "summary")
    assert (summary["status"], summary["remaining_deps"], summary["initial_tasks"]) == ("created", 0, 1)
    assert run_row(conn, run_id)["remaining_steps"] == 1


def test_returns_zero_when_nothing_is_taskless(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f", {})

    assert scalar(conn, "SELECT pgflow.cascade_complete_taskless_steps(%s)", (run_id,)) == 0
