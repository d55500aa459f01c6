from tests.sql.helpers import archived_messages, define_flow, queue_messages, run_row, scalar, start_flow, step_state


def test_unmet_fail_fails_the_step_and_the_run(conn):
    define_flow(conn, "f", [
        ("vip", [], {"required_input_pattern": {"tier": "gold"}, "when_unmet": "fail"}),
        ("other", []),
    ])

    run_id = start_flow(conn, "f", {"tier": "silver"})

    vip = step_state(conn, run_id, "vip")
    assert (vip["status"], vip["error_message"]) == ("failed", "Condition not met")
    assert vip["failed_at"] is not None
    run = run_row(conn, run_id)
    assert run["status"] == "failed" and run["failed_at"] is not None
    assert step_state(conn, run_id, "other")["status"] == "created"  # nothing starts in a failed run
    assert queue_messages(conn, "f") == [] and archived_messages(conn, "f") == []


def test_returns_false_and_archives_messages_of_a_run_it_fails(conn):
    define_flow(conn, "f", [
        ("a", []),
        ("vip", ["a"], {"required_input_pattern": {"a": {"ok": True}}, "when_unmet": "fail"}),
    ])
    run_id = start_flow(conn, "f", {})
    conn.execute("UPDATE pgflow.step_states SET status = 'completed', output = '{\"ok\": false}',"
                 " remaining_tasks = 0, completed_at = now() WHERE run_id = %s AND step_slug = 'a'", (run_id,))
    conn.execute("UPDATE pgflow.step_states SET remaining_deps = 0 WHERE run_id = %s AND step_slug = 'vip'",
                 (run_id,))

    assert scalar(conn, "SELECT pgflow.cascade_resolve_conditions(%s)", (run_id,)) is False

    assert step_state(conn, run_id, "vip")["status"] == "failed"
    assert queue_messages(conn, "f") == []
    assert [m["message"]["step_slug"] for m in archived_messages(conn, "f")] == ["a"]
