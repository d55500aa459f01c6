from tests.sql.helpers import define_flow, run_row, start_flow


def test_flow_whose_steps_all_skip_completes_in_start_flow(conn):
    define_flow(conn, "f", [("only_vip", [], {"required_input_pattern": {"vip": True}})])

    run_id = start_flow(conn, "f", {"vip": False})

    run = run_row(conn, run_id)
    assert (run["status"], run["remaining_steps"], run["output"]) == ("completed", 0, None)
