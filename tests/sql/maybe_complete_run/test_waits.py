from tests.sql.helpers import define_flow, run_row, start_flow


def test_leaves_a_run_with_remaining_steps_alone(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f", {})

    conn.execute("SELECT pgflow.maybe_complete_run(%s)", (run_id,))

    assert run_row(conn, run_id)["status"] == "started"


def test_never_completes_a_failed_run(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f", {})
    conn.execute("UPDATE pgflow.runs SET status = 'failed', failed_at = now(), remaining_steps = 0"
                 " WHERE run_id = %s", (run_id,))

    conn.execute("SELECT pgflow.maybe_complete_run(%s)", (run_id,))

    run = run_row(conn, run_id)
    assert (run["status"], run["completed_at"]) == ("failed", None)
