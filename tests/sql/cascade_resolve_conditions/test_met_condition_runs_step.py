from tests.sql.helpers import define_flow, start_flow, step_state


def test_step_whose_condition_holds_is_started(conn):
    define_flow(conn, "f", [
        ("vip", [], {"required_input_pattern": {"tier": "gold"}}),
        ("not_banned", [], {"forbidden_input_pattern": {"banned": True}}),
    ])

    run_id = start_flow(conn, "f", {"tier": "gold", "banned": False, "extra": 1})

    assert step_state(conn, run_id, "vip")["status"] == "started"
    assert step_state(conn, run_id, "not_banned")["status"] == "started"
