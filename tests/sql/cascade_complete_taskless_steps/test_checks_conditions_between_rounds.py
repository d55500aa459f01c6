from tests.sql.helpers import define_flow, start_flow, step_state


def test_a_step_readied_by_an_empty_map_has_its_condition_checked(conn):
    define_flow(conn, "f", [
        ("items", [], {"step_type": "map"}),
        ("each", ["items"], {"step_type": "map", "forbidden_input_pattern": {"items": []}}),
    ])

    run_id = start_flow(conn, "f", [])

    each = step_state(conn, run_id, "each")
    assert (each["status"], each["skip_reason"]) == ("skipped", "condition_unmet")
