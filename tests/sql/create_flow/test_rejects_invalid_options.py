import psycopg
import pytest


@pytest.mark.parametrize(("args", "word"), [((-1, None, None), "max_attempts"), ((None, -1, None), "base_delay"),
                                            ((None, None, 0), "timeout")])
def test_out_of_range_option_raises_pf004(conn, args, word):
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT pgflow.create_flow('orders', %s, %s, %s)", args)
    assert caught.value.sqlstate == "PF004"
    assert word in caught.value.diag.message_primary
    assert caught.value.diag.message_hint
