import psycopg

from tests.sql.helpers import define_flow, drain_notifies, listener, mark_step_completed, start_flow


def test_emits_run_completed_with_the_output(db_url):
    with psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("a", [])])
        run_id = start_flow(conn, "f", {})
        conn.commit()
        with listener(db_url) as listen:
            mark_step_completed(conn, run_id, "a", {"done": True})
            conn.execute("UPDATE pgflow.runs SET remaining_steps = 0 WHERE run_id = %s", (run_id,))
            conn.execute("SELECT pgflow.maybe_complete_run(%s)", (run_id,))
            conn.execute("SELECT pgflow.maybe_complete_run(%s)", (run_id,))  # a second call changes nothing
            conn.commit()
            conn.execute("""SELECT pg_notify('pgflow:events', '{"event_type": "fence"}')""")
            conn.commit()  # delivered after everything committed before it
            events = drain_notifies(listen, timeout=5, stop_after=2)

    assert [e["event_type"] for e in events] == ["run:completed", "fence"]
    event = events[0]
    assert {k: event[k] for k in ("event_type", "run_id", "flow_slug", "status", "output")} == {
        "event_type": "run:completed", "run_id": str(run_id), "flow_slug": "f", "status": "completed",
        "output": {"a": {"done": True}}}
    assert event["completed_at"]
