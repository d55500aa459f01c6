from tests.sql.helpers import complete_task, define_flow, read_and_start, register_worker, run_row, start_flow


def test_last_step_completes_the_run_with_leaf_outputs(conn):
    define_flow(conn, "fork", [("root", []), ("left", ["root"]), ("right", ["root"])])
    run_id = start_flow(conn, "fork", {})
    worker = register_worker(conn, "fork")
    read_and_start(conn, "fork", worker)
    complete_task(conn, run_id, "root", 0, "r")
    read_and_start(conn, "fork", worker)
    complete_task(conn, run_id, "left", 0, "L")
    assert run_row(conn, run_id)["status"] == "started"
    complete_task(conn, run_id, "right", 0, None)

    run = run_row(conn, run_id)
    assert (run["status"], run["remaining_steps"]) == ("completed", 0)
    assert run["output"] == {"left": "L", "right": None}
    assert run["completed_at"] is not None
