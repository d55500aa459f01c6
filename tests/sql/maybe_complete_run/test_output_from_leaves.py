from tests.sql.helpers import define_flow, mark_step_completed, run_row, set_step_state, start_flow


def test_completes_the_run_with_outputs_of_its_completed_leaf_steps(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"]), ("c", ["a"]), ("skipped_leaf", ["a"])])
    run_id = start_flow(conn, "f", {})
    mark_step_completed(conn, run_id, "a", {"not": "a leaf"})
    mark_step_completed(conn, run_id, "b", [1, None])
    mark_step_completed(conn, run_id, "c", None)
    set_step_state(conn, run_id, "skipped_leaf", status="skipped", skip_reason="condition_unmet")
    conn.execute("UPDATE pgflow.runs SET remaining_steps = 0 WHERE run_id = %s", (run_id,))

    conn.execute("SELECT pgflow.maybe_complete_run(%s)", (run_id,))

    run = run_row(conn, run_id)
    assert (run["status"], run["output"]) == ("completed", {"b": [1, None], "c": None})
    assert run["completed_at"] is not None


def test_output_is_null_when_no_leaf_completed(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f", {})
    set_step_state(conn, run_id, "a", status="skipped", skip_reason="condition_unmet", remaining_tasks=None)
    conn.execute("UPDATE pgflow.runs SET remaining_steps = 0 WHERE run_id = %s", (run_id,))

    conn.execute("SELECT pgflow.maybe_complete_run(%s)", (run_id,))

    run = run_row(conn, run_id)
    assert (run["status"], run["output"]) == ("completed", None)
