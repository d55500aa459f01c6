from tests.sql.helpers import rows, scalar


def test_each_message_gets_its_own_offset_from_now(conn):
    conn.execute("SELECT pgmq.create('q')")
    ids = [r["id"] for r in rows(conn, "SELECT pgmq.send('q', jsonb_build_object('i', i)) AS id"
                                       " FROM generate_series(1, 3) AS i")]

    before = scalar(conn, "SELECT clock_timestamp()")
    updated = rows(conn, "SELECT * FROM pgflow.set_vt_batch('q', %s, %s)", ([ids[0], ids[2]], [100, 200]))
    after = scalar(conn, "SELECT clock_timestamp()")

    assert sorted(r["msg_id"] for r in updated) == [ids[0], ids[2]]
    assert set(updated[0]) == {"msg_id", "read_ct", "enqueued_at", "vt", "message", "headers"}
    vt = {r["msg_id"]: r["vt"].timestamp() for r in rows(conn, "SELECT msg_id, vt FROM pgmq.q_q")}
    assert before.timestamp() + 100 <= vt[ids[0]] <= after.timestamp() + 100
    assert before.timestamp() + 200 <= vt[ids[2]] <= after.timestamp() + 200
    assert vt[ids[1]] <= after.timestamp()


def test_unknown_ids_and_empty_arrays_update_nothing(conn):
    conn.execute("SELECT pgmq.create('q')")

    assert rows(conn, "SELECT * FROM pgflow.set_vt_batch('q', ARRAY[12345]::bigint[], ARRAY[5])") == []
    assert rows(conn, "SELECT * FROM pgflow.set_vt_batch('q', '{}', '{}')") == []
