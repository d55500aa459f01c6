from tests.sql.helpers import define_flow, read_and_start, register_worker, start_flow


def test_root_single_step_gets_empty_input_and_the_flow_input(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f", {"user": 7})

    [record] = read_and_start(conn, "f", register_worker(conn, "f"))

    assert record == {"flow_slug": "f", "run_id": run_id, "step_slug": "a", "input": {},
                      "msg_id": record["msg_id"], "task_index": 0, "flow_input": {"user": 7}}
