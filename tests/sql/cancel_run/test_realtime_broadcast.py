"""With Supabase's realtime.send present, the events upstream's client knows are broadcast and
pgflow-py's own (task:*, run:cancelled) are not: an upstream client sees a cancelled run fail."""

from tests.sql.helpers import define_flow, read_and_start, register_worker, start_flow


def _fake_realtime(conn):
    conn.execute("CREATE SCHEMA realtime")
    conn.execute("CREATE TABLE realtime.sent (event text, topic text)")
    conn.execute("""
        CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean)
        RETURNS void LANGUAGE sql AS $$ INSERT INTO realtime.sent VALUES (event, topic) $$""")


def test_a_cancel_broadcasts_run_failed_but_not_run_cancelled(conn):
    _fake_realtime(conn)
    define_flow(conn, "rt", [("only", [])])
    run_id = start_flow(conn, "rt", {})
    read_and_start(conn, "rt", register_worker(conn, "rt"))  # a task:started, never broadcast
    conn.execute("SELECT pgflow.cancel_run(%s, 'stop')", (run_id,))
    sent = [r[0] for r in conn.execute("SELECT event FROM realtime.sent").fetchall()]
    assert sent == ["run:started", "step:only:started", "step:only:failed", "run:failed"]
