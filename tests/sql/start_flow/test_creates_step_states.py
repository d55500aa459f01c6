from tests.sql.helpers import define_flow, rows, start_flow


def test_creates_one_step_state_per_step_with_deps_and_planned_tasks(conn):
    define_flow(conn, "f", [
        ("items", [], {"step_type": "map"}),
        ("root", []),
        ("after", ["root"]),
        ("each", ["after"], {"step_type": "map"}),
        ("join", ["items", "after"]),
    ])

    run_id = start_flow(conn, "f", [10, 20, 30])

    states = {r["step_slug"]: r for r in rows(
        conn, "SELECT * FROM pgflow.step_states WHERE run_id = %s", (run_id,))}
    assert {slug: (s["remaining_deps"], s["initial_tasks"]) for slug, s in states.items()} == {
        "items": (0, 3),      # root map: one task per element of the input
        "root": (0, 1),       # single step: one task
        "after": (1, 1),
        "each": (1, None),    # dependent map: unknown until "after" completes
        "join": (2, 1),
    }
    assert {slug for slug, s in states.items() if s["status"] == "started"} == {"items", "root"}
    assert {slug for slug, s in states.items() if s["status"] == "created"} == {"after", "each", "join"}
