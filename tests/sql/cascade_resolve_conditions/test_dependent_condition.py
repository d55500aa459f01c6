from tests.sql.helpers import define_flow, mark_step_completed, scalar, set_step_state, start_flow, step_state


def test_dependent_condition_sees_outputs_of_completed_dependencies_only(conn):
    define_flow(conn, "f", [
        ("a", []),
        ("b", []),
        ("needs_b", ["a", "b"], {"required_input_pattern": {"b": {}}}),
        ("needs_a", ["a", "b"], {"required_input_pattern": {"a": {"ok": True}}}),
    ])
    run_id = start_flow(conn, "f", {})
    mark_step_completed(conn, run_id, "a", {"ok": True})
    set_step_state(conn, run_id, "b", status="skipped", skip_reason="condition_unmet", remaining_tasks=None)
    for slug in ("needs_a", "needs_b"):
        set_step_state(conn, run_id, slug, remaining_deps=0)

    assert scalar(conn, "SELECT pgflow.cascade_resolve_conditions(%s)", (run_id,)) is True

    assert step_state(conn, run_id, "needs_a")["status"] == "created"  # met: left for start_ready_steps
    assert step_state(conn, run_id, "needs_b")["status"] == "skipped"  # b is absent from the input
