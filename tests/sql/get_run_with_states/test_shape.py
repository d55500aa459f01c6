from tests.sql.helpers import define_flow, scalar, start_flow


def test_returns_the_run_and_its_step_states_in_step_order(conn):
    define_flow(conn, "f", [("z_first", []), ("a_second", ["z_first"])])
    run_id = start_flow(conn, "f", {"k": "v"})

    doc = scalar(conn, "SELECT pgflow.get_run_with_states(%s)", (run_id,))

    assert set(doc) == {"run", "steps"}
    assert doc["run"]["run_id"] == str(run_id)
    assert (doc["run"]["status"], doc["run"]["input"], doc["run"]["remaining_steps"]) == ("started", {"k": "v"}, 2)
    assert [(s["step_slug"], s["status"]) for s in doc["steps"]] == [("z_first", "started"), ("a_second", "created")]
    assert {"remaining_tasks", "initial_tasks", "remaining_deps", "output", "skip_reason"} <= set(doc["steps"][0])
