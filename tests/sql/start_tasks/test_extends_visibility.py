from tests.sql.helpers import define_flow, queue_messages, register_worker, rows, scalar, start_flow


def test_claimed_messages_stay_hidden_for_the_step_timeout_plus_two_seconds(conn):
    define_flow(conn, "f", [("flow_timeout", []), ("own_timeout", [], {"timeout": 600})], timeout=300)
    start_flow(conn, "f", {})
    worker_id = register_worker(conn, "f")
    msg_ids = [r["msg_id"] for r in rows(conn, "SELECT msg_id FROM pgmq.read('f', 1, 10)")]

    before = scalar(conn, "SELECT clock_timestamp()")
    conn.execute("SELECT * FROM pgflow.start_tasks('f', %s, %s, 'f')", (msg_ids, worker_id)).fetchall()
    after = scalar(conn, "SELECT clock_timestamp()")

    vt = {m["message"]["step_slug"]: m["vt"] for m in queue_messages(conn, "f")}
    assert before.timestamp() + 302 <= vt["flow_timeout"].timestamp() <= after.timestamp() + 302
    assert before.timestamp() + 602 <= vt["own_timeout"].timestamp() <= after.timestamp() + 602
