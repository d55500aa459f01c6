from tests.sql.helpers import define_flow, start_flow, step_state


def test_conditions_of_steps_readied_by_a_skip_are_settled_too(conn):
    define_flow(conn, "f", [
        ("first", [], {"required_input_pattern": {"go": True}}),
        ("second", ["first"], {"required_input_pattern": {"first": {}}}),
        ("third", ["second"]),
    ])

    run_id = start_flow(conn, "f", {"go": False})

    assert step_state(conn, run_id, "first")["status"] == "skipped"
    assert step_state(conn, run_id, "second")["status"] == "skipped"
    third = step_state(conn, run_id, "third")  # no condition: runs with the outputs it has ({})
    assert (third["status"], third["remaining_deps"]) == ("started", 0)
