from tests.sql.helpers import (complete_task, define_flow, fail_task, read_and_start, register_worker, run_row,
                               start_flow, step_state)


def test_skip_cascade_skips_everything_downstream(conn):
    define_flow(conn, "casc", [("root", []),
                               ("fetch", ["root"], {"max_attempts": 1, "when_exhausted": "skip-cascade"}),
                               ("parse", ["fetch"]),
                               ("store", ["parse"]),
                               ("audit", ["root"])])
    run_id = start_flow(conn, "casc", {})
    worker = register_worker(conn, "casc")
    read_and_start(conn, "casc", worker)
    complete_task(conn, run_id, "root", 0, 1)
    read_and_start(conn, "casc", worker)

    fail_task(conn, run_id, "fetch", 0, "timeout")

    states = {s: step_state(conn, run_id, s) for s in ("fetch", "parse", "store")}
    assert [(s["status"], s["skip_reason"]) for s in states.values()] == [
        ("skipped", "handler_failed"), ("skipped", "dependency_skipped"), ("skipped", "dependency_skipped")]
    assert run_row(conn, run_id)["remaining_steps"] == 1

    complete_task(conn, run_id, "audit", 0, "ok")
    run = run_row(conn, run_id)
    assert (run["status"], run["output"]) == ("completed", {"audit": "ok"})
