from tests.sql.helpers import define_flow, read_and_start, register_worker, start_flow, task


def test_claiming_starts_the_task_and_counts_the_attempt(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f", {})
    worker_id = register_worker(conn, "f")

    [claimed] = read_and_start(conn, "f", worker_id)

    row = task(conn, run_id, "a")
    assert claimed["msg_id"] == row["message_id"]
    assert (row["status"], row["attempts_count"], row["last_worker_id"]) == ("started", 1, worker_id)
    assert row["started_at"] is not None


def test_a_requeued_task_counts_its_next_attempt(conn):
    define_flow(conn, "f", [("a", [])])
    run_id = start_flow(conn, "f", {})
    worker_id = register_worker(conn, "f")
    [claimed] = read_and_start(conn, "f", worker_id)
    conn.execute("UPDATE pgflow.step_tasks SET status = 'queued', started_at = NULL WHERE run_id = %s", (run_id,))

    again = conn.execute("SELECT msg_id FROM pgflow.start_tasks('f', %s, %s, 'f')",
                         ([claimed["msg_id"]], worker_id)).fetchall()

    assert again == [(claimed["msg_id"],)]
    assert task(conn, run_id, "a")["attempts_count"] == 2
