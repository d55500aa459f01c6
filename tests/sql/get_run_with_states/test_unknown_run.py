import uuid

import psycopg
import pytest


def test_unknown_run_is_refused_with_pf002(conn):
    missing = uuid.uuid4()

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.get_run_with_states(%s)", (missing,))

    assert raised.value.sqlstate == "PF002"
    assert str(missing) in raised.value.diag.message_primary
    assert "not found" in raised.value.diag.message_primary
