import psycopg
import pytest


def test_arrays_of_different_lengths_are_refused_with_upstreams_message(conn):
    conn.execute("SELECT pgmq.create('q')")

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT * FROM pgflow.set_vt_batch('q', ARRAY[1, 2]::bigint[], ARRAY[5])")

    assert raised.value.sqlstate == "22023"
    assert raised.value.diag.message_primary == "msg_ids length (2) must equal vt_offsets length (1)"
    assert raised.value.diag.message_hint
