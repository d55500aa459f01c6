import psycopg

from tests.sql.helpers import define_flow, drain_notifies, listener, start_flow


def test_empty_map_emits_step_completed_and_run_completed(db_url):
    with listener(db_url) as listen, psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("items", [], {"step_type": "map"})])
        run_id = start_flow(conn, "f", [])
        conn.commit()

        events = drain_notifies(listen, timeout=5, stop_after=3)

    assert [e["event_type"] for e in events] == ["run:started", "step:completed", "run:completed"]
    step = events[1]
    assert {k: step[k] for k in ("run_id", "flow_slug", "step_slug", "status", "output", "remaining_tasks")} == {
        "run_id": str(run_id), "flow_slug": "f", "step_slug": "items", "status": "completed", "output": [],
        "remaining_tasks": 0}
    assert step["started_at"] and step["completed_at"]
    run = events[2]
    assert (run["status"], run["output"], run["flow_slug"]) == ("completed", {"items": []}, "f")
    assert run["completed_at"]
