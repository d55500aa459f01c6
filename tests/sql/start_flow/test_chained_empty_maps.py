from tests.sql.helpers import define_flow, rows, start_flow, step_state


def test_maps_over_an_empty_map_complete_in_the_same_call(conn):
    define_flow(conn, "f", [
        ("first", [], {"step_type": "map"}),
        ("second", ["first"], {"step_type": "map"}),
        ("third", ["second"], {"step_type": "map"}),
        ("total", ["third"]),
    ])

    run_id = start_flow(conn, "f", [])

    for slug in ("first", "second", "third"):
        state = step_state(conn, run_id, slug)
        assert (state["status"], state["output"], state["initial_tasks"]) == ("completed", [], 0), slug
    total = step_state(conn, run_id, "total")
    assert (total["status"], total["remaining_deps"]) == ("started", 0)
    assert rows(conn, "SELECT step_slug FROM pgflow.step_tasks WHERE run_id = %s", (run_id,)) == [
        {"step_slug": "total"}]
    assert rows(conn, "SELECT remaining_steps FROM pgflow.runs WHERE run_id = %s", (run_id,)) == [
        {"remaining_steps": 1}]
