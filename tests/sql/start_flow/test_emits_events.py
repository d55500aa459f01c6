import psycopg

from tests.sql.helpers import define_flow, drain_notifies, listener, start_flow


def test_emits_run_started_then_step_started_for_root_steps(db_url):
    with listener(db_url) as listen, psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("a", []), ("b", ["a"])])
        run_id = start_flow(conn, "f", {"n": 1})
        conn.commit()

        events = drain_notifies(listen, timeout=5, stop_after=2)

    assert [e["event_type"] for e in events] == ["run:started", "step:started"]
    run_started, step_started = events
    assert run_started["run_id"] == str(run_id) and run_started["flow_slug"] == "f"
    assert (run_started["status"], run_started["input"], run_started["remaining_steps"]) == ("started", {"n": 1}, 2)
    assert run_started["started_at"]
    assert {k: step_started[k] for k in ("run_id", "flow_slug", "step_slug", "status", "remaining_tasks",
                                        "remaining_deps", "initial_tasks")} == {
        "run_id": str(run_id), "flow_slug": "f", "step_slug": "a", "status": "started",
        "remaining_tasks": 1, "remaining_deps": 0, "initial_tasks": 1}
    assert step_started["started_at"]
