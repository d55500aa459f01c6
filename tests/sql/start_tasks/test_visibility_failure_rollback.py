"""start_tasks claims nothing when a claimed task's message cannot be hidden (it is gone from the
queue): the call fails with upstream's message and the claims and attempts are undone."""

import psycopg
import pytest

from tests.sql.helpers import define_flow, register_worker, rows, start_flow


def test_a_missing_message_fails_the_whole_claim(conn):
    define_flow(conn, "vis", [("a", []), ("b", [])])
    start_flow(conn, "vis", {})
    worker = register_worker(conn, "vis")
    msg_ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.read('vis', 30, 10) ORDER BY msg_id")]
    conn.execute("DELETE FROM pgmq.q_vis WHERE msg_id = %s", (msg_ids[0],))

    with pytest.raises(psycopg.errors.InvalidTextRepresentation,
                       match=r"start_tasks\(\): visibility updated 1 of 2 claimed messages"):
        with conn.transaction():  # a savepoint, so the task rows can be read after the failure
            conn.execute("SELECT * FROM pgflow.start_tasks('vis', %s, %s, 'vis')", (msg_ids, worker))

    tasks = rows(conn, "SELECT status, attempts_count, started_at, last_worker_id FROM pgflow.step_tasks")
    assert tasks == [{"status": "queued", "attempts_count": 0, "started_at": None, "last_worker_id": None}] * 2
