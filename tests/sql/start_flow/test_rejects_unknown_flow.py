import psycopg
import pytest


def test_unknown_flow_is_refused_with_pf001(conn):
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.start_flow('no_such_flow', '{}')")

    assert raised.value.sqlstate == "PF001"
    assert "no_such_flow" in raised.value.diag.message_primary
    assert raised.value.diag.message_hint
