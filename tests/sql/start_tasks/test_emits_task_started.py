import psycopg

from tests.sql.helpers import define_flow, drain_notifies, listener, read_and_start, register_worker, start_flow


def test_emits_task_started_per_claimed_task(db_url):
    with psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("items", [], {"step_type": "map"})])
        run_id = start_flow(conn, "f", [1, 2])
        worker_id = register_worker(conn, "f")
        conn.commit()
        with listener(db_url) as listen:
            read_and_start(conn, "f", worker_id)
            conn.commit()
            events = drain_notifies(listen, timeout=5, stop_after=2)

    assert sorted(e["task_index"] for e in events) == [0, 1]
    for event in events:
        assert {k: event[k] for k in ("event_type", "run_id", "flow_slug", "step_slug", "status", "attempt",
                                      "worker_id")} == {
            "event_type": "task:started", "run_id": str(run_id), "flow_slug": "f", "step_slug": "items",
            "status": "started", "attempt": 1, "worker_id": str(worker_id)}
        assert event["started_at"]
