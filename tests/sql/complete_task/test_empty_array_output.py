from tests.sql.helpers import complete_task, define_flow, read_and_start, register_worker, run_row, start_flow, step_state


def test_empty_array_completes_chained_maps_and_the_run_at_once(conn):
    define_flow(conn, "fan", [("list", []), ("each", ["list"], {"step_type": "map"}),
                              ("again", ["each"], {"step_type": "map"})])
    run_id = start_flow(conn, "fan", {})
    worker = register_worker(conn, "fan")
    read_and_start(conn, "fan", worker)
    complete_task(conn, run_id, "list", 0, [])

    assert [step_state(conn, run_id, s)["output"] for s in ("each", "again")] == [[], []]
    run = run_row(conn, run_id)
    assert (run["status"], run["output"]) == ("completed", {"again": []})
