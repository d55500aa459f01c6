import psycopg

from tests.sql.helpers import complete_task, define_flow, drain_notifies, listener, read_and_start, register_worker, start_flow


def test_events_arrive_after_commit_in_a_valid_order(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, "chain", [("first", []), ("second", ["first"])])
        run_id = start_flow(conn, "chain", {})
        worker = register_worker(conn, "chain")
        read_and_start(conn, "chain", worker)
        conn.commit()
        drain_notifies(listen, timeout=2, stop_after=3)  # run:started, step:started, task:started

        complete_task(conn, run_id, "first", 0, {"x": 1})
        assert drain_notifies(listen, timeout=0.2) == []
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=3)

    assert [(e["event_type"], e.get("step_slug")) for e in events] == [
        ("task:completed", "first"), ("step:completed", "first"), ("step:started", "second")]
    task_completed, step_completed, _ = events
    assert (task_completed["task_index"], task_completed["attempt"], task_completed["output"]) == (0, 1, {"x": 1})
    assert task_completed["run_id"] == str(run_id) and task_completed["flow_slug"] == "chain"
    assert (step_completed["status"], step_completed["output"], step_completed["remaining_tasks"]) == (
        "completed", {"x": 1}, 0)
    assert step_completed["started_at"] and step_completed["completed_at"]
