import psycopg

from tests.sql.helpers import define_flow, drain_notifies, listener, start_flow


def test_emits_step_skipped_for_every_skipped_step(db_url):
    with psycopg.connect(db_url) as conn:
        define_flow(conn, "f", [("a", []), ("b", ["a"])])
        run_id = start_flow(conn, "f", {})
        conn.commit()
        with listener(db_url) as listen:
            conn.execute("SELECT pgflow._cascade_force_skip_steps(%s, 'a', 'handler_failed')", (run_id,))
            conn.commit()
            events = drain_notifies(listen, timeout=5, stop_after=2)

    assert sorted((e["event_type"], e["step_slug"], e["skip_reason"]) for e in events) == [
        ("step:skipped", "a", "handler_failed"), ("step:skipped", "b", "dependency_skipped")]
    assert all(e["run_id"] == str(run_id) and e["flow_slug"] == "f" and e["status"] == "skipped"
               and e["skipped_at"] for e in events)
