import psycopg
import pytest


def test_arrays_of_different_lengths_are_refused(conn):
    conn.execute("SELECT pgmq.create('q')")

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT * FROM pgflow.set_vt_batch('q', ARRAY[1, 2]::bigint[], ARRAY[5])")

    assert raised.value.sqlstate == "22023"
    assert "2 message ids but 1 offsets" in raised.value.diag.message_primary
