from tests.sql.helpers import define_flow, rows


def test_creates_a_started_run_with_one_remaining_step_per_step(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"]), ("c", ["a", "b"])])

    [run] = rows(conn, "SELECT * FROM pgflow.start_flow('f', '{\"x\": 1}')")

    assert run["flow_slug"] == "f"
    assert run["status"] == "started"
    assert run["input"] == {"x": 1}
    assert run["remaining_steps"] == 3
    assert run["output"] is None and run["completed_at"] is None and run["failed_at"] is None
