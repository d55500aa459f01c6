from tests.sql.helpers import register_worker, row


def test_sets_stopped_at_of_that_worker_only(conn):
    stopping = register_worker(conn, "q")
    running = register_worker(conn, "q")
    conn.execute("SELECT pgflow.mark_worker_stopped(%s)", (stopping,))
    assert row(conn, "SELECT stopped_at FROM pgflow.workers WHERE worker_id = %s", (stopping,))["stopped_at"]
    assert row(conn, "SELECT stopped_at FROM pgflow.workers WHERE worker_id = %s", (running,))["stopped_at"] is None
