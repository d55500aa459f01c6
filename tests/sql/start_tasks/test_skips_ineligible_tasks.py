from tests.sql.helpers import define_flow, register_worker, rows, start_flow


def _msg_ids(conn, run_id):
    return [r["message_id"] for r in rows(
        conn, "SELECT message_id FROM pgflow.step_tasks WHERE run_id = %s ORDER BY message_id", (run_id,))]


def test_messages_of_started_tasks_and_failed_runs_give_no_rows(conn):
    define_flow(conn, "f", [("a", []), ("b", [])])
    ok_run = start_flow(conn, "f", {})
    failed_run = start_flow(conn, "f", {})
    conn.execute("UPDATE pgflow.runs SET status = 'failed', failed_at = now() WHERE run_id = %s", (failed_run,))
    worker_id = register_worker(conn, "f")
    first, second = _msg_ids(conn, ok_run)
    conn.execute("SELECT * FROM pgflow.start_tasks('f', %s, %s, 'f')", ([first], worker_id)).fetchall()

    claimed = rows(conn, "SELECT msg_id FROM pgflow.start_tasks('f', %s, %s, 'f')",
                   ([first, second, *_msg_ids(conn, failed_run), 999_999], worker_id))

    assert claimed == [{"msg_id": second}]
    assert rows(conn, "SELECT DISTINCT status FROM pgflow.step_tasks WHERE run_id = %s", (failed_run,)) == [
        {"status": "queued"}]


def test_tasks_of_another_flow_are_not_claimed(conn):
    define_flow(conn, "f", [("a", [])])
    define_flow(conn, "g", [("a", [])])
    run_id = start_flow(conn, "g", {})

    claimed = rows(conn, "SELECT * FROM pgflow.start_tasks('f', %s, %s, 'f')",
                   (_msg_ids(conn, run_id), register_worker(conn, "f")))

    assert claimed == []
