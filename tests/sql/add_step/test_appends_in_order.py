from tests.sql.helpers import define_flow, rows


def test_steps_get_consecutive_indexes_and_dependency_edges(conn):
    define_flow(conn, "etl", [("extract", []), ("left", ["extract"]), ("right", ["extract"]),
                              ("join", ["right", "left"])])
    steps = rows(conn, "SELECT step_slug, step_index, deps_count, step_type FROM pgflow.steps "
                       "WHERE flow_slug = 'etl' ORDER BY step_index")
    assert [(s["step_slug"], s["step_index"], s["deps_count"]) for s in steps] == [
        ("extract", 0, 0), ("left", 1, 1), ("right", 2, 1), ("join", 3, 2)]
    assert all(s["step_type"] == "single" for s in steps)
    edges = rows(conn, "SELECT dep_slug, step_slug FROM pgflow.deps WHERE flow_slug = 'etl' ORDER BY 2, 1")
    assert [(e["dep_slug"], e["step_slug"]) for e in edges] == [
        ("left", "join"), ("right", "join"), ("extract", "left"), ("extract", "right")]
