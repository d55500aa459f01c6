from tests.sql.helpers import define_flow, run_row, start_flow, step_state


def test_unmet_skip_skips_the_step_and_releases_its_dependents(conn):
    define_flow(conn, "f", [
        ("always", []),
        ("vip", [], {"required_input_pattern": {"tier": "gold"}}),
        ("report", ["always", "vip"]),
        ("each", ["vip"], {"step_type": "map"}),
    ])

    run_id = start_flow(conn, "f", {"tier": "silver"})

    vip = step_state(conn, run_id, "vip")
    assert (vip["status"], vip["skip_reason"], vip["remaining_tasks"]) == ("skipped", "condition_unmet", None)
    assert vip["skipped_at"] is not None
    report = step_state(conn, run_id, "report")
    assert (report["status"], report["remaining_deps"]) == ("created", 1)
    each = step_state(conn, run_id, "each")  # maps a skipped step: nothing to map, completes empty
    assert (each["status"], each["output"], each["initial_tasks"]) == ("completed", [], 0)
    assert run_row(conn, run_id)["remaining_steps"] == 2  # always + report
    assert step_state(conn, run_id, "always")["status"] == "started"


def test_forbidden_pattern_match_is_unmet(conn):
    define_flow(conn, "f", [("a", []), ("not_banned", [], {"forbidden_input_pattern": {"banned": True}})])

    run_id = start_flow(conn, "f", {"banned": True, "name": "x"})

    assert step_state(conn, run_id, "not_banned")["status"] == "skipped"
